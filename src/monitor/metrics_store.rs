//! `MetricsStore`: every probe observation and numeric reading of a run, in per-series ring
//! buffers, tagged with the faults active when it was recorded, so a report can compare
//! "under fault" with "baseline" and a predictor can read recent values.

use super::quantiles::Quantiles;
use crate::plan::ProbeStats;
use crate::probes::Observation;
use crate::probes::RunClock;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Samples kept per series when no capacity is given (hours of 1 Hz probing).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Which part of the run a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The whole run.
    Run,
    /// The last stretch of the run, up to now.
    Trailing(Duration),
}

/// Which samples a query covers, by the faults active when they were recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Any,
    /// No fault active.
    Baseline,
    /// The named fault active (possibly with others).
    Under(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub window: Window,
    pub phase: Phase,
}

impl Selection {
    /// Everything recorded.
    pub fn all() -> Selection {
        Selection {
            window: Window::Run,
            phase: Phase::Any,
        }
    }

    /// The last `duration` of the run.
    pub fn trailing(duration: Duration) -> Selection {
        Selection {
            window: Window::Trailing(duration),
            phase: Phase::Any,
        }
    }

    /// Only samples with no fault active.
    pub fn baseline(self) -> Selection {
        Selection {
            phase: Phase::Baseline,
            ..self
        }
    }

    /// Only samples recorded while `fault` was active.
    pub fn under(self, fault: impl Into<String>) -> Selection {
        Selection {
            phase: Phase::Under(fault.into()),
            ..self
        }
    }
}

/// Latency figures of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LatencyStats {
    pub mean: Duration,
    pub max: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

/// A probe's figures over a selection. Counts, rates, mean and max over `Window::Run` are
/// exact for the whole run; quantiles come from the samples still held (`quantile_samples`,
/// all of them unless the ring buffer wrapped).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ProbeSummary {
    pub count: u64,
    pub successes: u64,
    pub failures: u64,
    /// failures / count.
    pub error_rate: f64,
    /// successes / count.
    pub availability: f64,
    pub latency: LatencyStats,
    pub quantile_samples: usize,
}

impl ProbeSummary {
    /// These figures as the plan's `ProbeStats` (latencies in ms).
    pub fn stats(&self) -> ProbeStats {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        ProbeStats {
            count: self.count as f64,
            error_rate: self.error_rate,
            availability: self.availability,
            mean_ms: ms(self.latency.mean),
            max_ms: ms(self.latency.max),
            p50_ms: ms(self.latency.p50),
            p90_ms: ms(self.latency.p90),
            p95_ms: ms(self.latency.p95),
            p99_ms: ms(self.latency.p99),
        }
    }
}

/// A numeric series' figures over a selection (same exactness rules as `ProbeSummary`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SeriesSummary {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// The most recent value.
    pub last: f64,
    pub quantiles: Quantiles,
    pub quantile_samples: usize,
}

/// One value of a numeric series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub at: Duration,
    pub value: f64,
}

/// The store. Cheap to clone (clones share the data) and safe to use from any thread.
#[derive(Clone)]
pub struct MetricsStore {
    inner: Arc<Mutex<Inner>>,
    clock: RunClock,
}

struct Inner {
    capacity: usize,
    /// Every distinct set of active faults seen, sorted; samples refer to them by index.
    fault_sets: Vec<Vec<String>>,
    active: Vec<String>,
    active_set: u32,
    probes: BTreeMap<String, Series<Observation>>,
    series: BTreeMap<String, Series<Point>>,
}

struct Tagged<T> {
    sample: T,
    faults: u32,
    /// The order in which samples were recorded (checks complete out of order).
    seq: u64,
}

/// A ring buffer of samples plus exact running totals per fault set.
struct Series<T> {
    /// Sorted by time stamp: a sample stamped before the newest is inserted in its place.
    ring: VecDeque<Tagged<T>>,
    totals: HashMap<u32, Totals>,
    /// Samples ever recorded.
    recorded: u64,
}

#[derive(Debug, Clone, Copy)]
struct Totals {
    count: u64,
    successes: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
    last_at: Duration,
}

impl Totals {
    fn new() -> Totals {
        Totals {
            count: 0,
            successes: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            last_at: Duration::ZERO,
        }
    }

    fn add(&mut self, at: Duration, value: f64, success: bool) {
        self.count += 1;
        self.successes += u64::from(success);
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if at >= self.last_at {
            self.last = value;
            self.last_at = at;
        }
    }

    fn merge(&mut self, other: &Totals) {
        self.count += other.count;
        self.successes += other.successes;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.last_at >= self.last_at {
            self.last = other.last;
            self.last_at = other.last_at;
        }
    }
}

impl<T> Series<T> {
    fn new() -> Series<T> {
        Series {
            ring: VecDeque::new(),
            totals: HashMap::new(),
            recorded: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        capacity: usize,
        sample: T,
        faults: u32,
        at: Duration,
        value: f64,
        success: bool,
        stamp: impl Fn(&T) -> Duration,
    ) {
        if self.ring.len() >= capacity {
            self.ring.pop_front();
        }
        self.recorded += 1;
        let tagged = Tagged {
            sample,
            faults,
            seq: self.recorded,
        };
        // Open-loop checks complete out of order, but never by more than their timeout:
        // the place is found from the newest end, a few steps at most.
        let place = self
            .ring
            .iter()
            .rposition(|held| stamp(&held.sample) <= at)
            .map_or(0, |index| index + 1);
        self.ring.insert(place, tagged);
        self.totals
            .entry(faults)
            .or_insert_with(Totals::new)
            .add(at, value, success);
    }
}

impl Default for MetricsStore {
    fn default() -> MetricsStore {
        MetricsStore::new()
    }
}

impl MetricsStore {
    /// A store whose clock starts now, keeping `DEFAULT_CAPACITY` samples per series.
    pub fn new() -> MetricsStore {
        MetricsStore::with_capacity(DEFAULT_CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> MetricsStore {
        MetricsStore {
            inner: Arc::new(Mutex::new(Inner {
                capacity: capacity.max(1),
                fault_sets: vec![Vec::new()],
                active: Vec::new(),
                active_set: 0,
                probes: BTreeMap::new(),
                series: BTreeMap::new(),
            })),
            clock: RunClock::start(),
        }
    }

    /// The run's clock: timestamps are offsets from the store's creation.
    pub fn clock(&self) -> RunClock {
        self.clock
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// From now on, samples are tagged as recorded under `fault`.
    pub fn fault_started(&self, fault: &str) {
        let mut inner = self.lock();
        if !inner.active.iter().any(|active| active == fault) {
            inner.active.push(fault.to_string());
            inner.retag();
        }
    }

    /// `fault` is no longer active.
    pub fn fault_ended(&self, fault: &str) {
        let mut inner = self.lock();
        inner.active.retain(|active| active != fault);
        inner.retag();
    }

    /// The faults active now.
    pub fn active_faults(&self) -> Vec<String> {
        self.lock().fault_sets_active().to_vec()
    }

    /// Records a probe observation.
    pub fn record_observation(&self, probe: &str, observation: Observation) {
        let mut inner = self.lock();
        let (capacity, faults) = (inner.capacity, inner.active_set);
        let at = observation.at;
        let latency = observation.latency.as_secs_f64();
        let success = observation.success;
        inner
            .probes
            .entry(probe.to_string())
            .or_insert_with(Series::new)
            .push(capacity, observation, faults, at, latency, success, |o| {
                o.at
            });
    }

    /// Records a value of a numeric series (CPU %, RSS bytes, a proxy counter...).
    pub fn record(&self, series: &str, at: Duration, value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut inner = self.lock();
        let (capacity, faults) = (inner.capacity, inner.active_set);
        inner
            .series
            .entry(series.to_string())
            .or_insert_with(Series::new)
            .push(
                capacity,
                Point { at, value },
                faults,
                at,
                value,
                true,
                |p| p.at,
            );
    }

    /// Records a value at the current time.
    pub fn record_now(&self, series: &str, value: f64) {
        self.record(series, self.now(), value);
    }

    pub fn probe_names(&self) -> Vec<String> {
        self.lock().probes.keys().cloned().collect()
    }

    pub fn series_names(&self) -> Vec<String> {
        self.lock().series.keys().cloned().collect()
    }

    /// A probe's figures, or `None` when nothing was observed in the selection.
    pub fn probe_summary(&self, probe: &str, selection: &Selection) -> Option<ProbeSummary> {
        let now = self.now();
        let inner = self.lock();
        let series = inner.probes.get(probe)?;
        let held: Vec<&Observation> = series
            .ring
            .iter()
            .filter(|tagged| inner.selected(selection, now, tagged.sample.at, tagged.faults))
            .map(|tagged| &tagged.sample)
            .collect();
        let totals = match selection.window {
            Window::Run => inner.totals(series, &selection.phase),
            Window::Trailing(_) => {
                let mut totals = Totals::new();
                for observation in &held {
                    totals.add(
                        observation.at,
                        observation.latency.as_secs_f64(),
                        observation.success,
                    );
                }
                totals
            }
        };
        if totals.count == 0 {
            return None;
        }
        let latencies: Vec<f64> = held.iter().map(|o| o.latency.as_secs_f64()).collect();
        let quantile_samples = latencies.len();
        let q = Quantiles::of(latencies);
        let failures = totals.count - totals.successes;
        Some(ProbeSummary {
            count: totals.count,
            successes: totals.successes,
            failures,
            error_rate: failures as f64 / totals.count as f64,
            availability: totals.successes as f64 / totals.count as f64,
            latency: LatencyStats {
                mean: seconds(totals.sum / totals.count as f64),
                max: seconds(totals.max),
                p50: seconds(q.p50),
                p90: seconds(q.p90),
                p95: seconds(q.p95),
                p99: seconds(q.p99),
            },
            quantile_samples,
        })
    }

    /// A numeric series' figures, or `None` when it has no value in the selection.
    pub fn series_summary(&self, series: &str, selection: &Selection) -> Option<SeriesSummary> {
        let now = self.now();
        let inner = self.lock();
        let data = inner.series.get(series)?;
        let held: Vec<Point> = data
            .ring
            .iter()
            .filter(|tagged| inner.selected(selection, now, tagged.sample.at, tagged.faults))
            .map(|tagged| tagged.sample)
            .collect();
        let totals = match selection.window {
            Window::Run => inner.totals(data, &selection.phase),
            Window::Trailing(_) => {
                let mut totals = Totals::new();
                for point in &held {
                    totals.add(point.at, point.value, true);
                }
                totals
            }
        };
        if totals.count == 0 {
            return None;
        }
        let quantile_samples = held.len();
        Some(SeriesSummary {
            count: totals.count,
            mean: totals.sum / totals.count as f64,
            min: totals.min,
            max: totals.max,
            last: totals.last,
            quantiles: Quantiles::of(held.iter().map(|point| point.value).collect()),
            quantile_samples,
        })
    }

    /// The observations of a probe still held, oldest first.
    pub fn observations(&self, probe: &str, selection: &Selection) -> Vec<Observation> {
        let now = self.now();
        let inner = self.lock();
        inner.probes.get(probe).map_or_else(Vec::new, |series| {
            series
                .ring
                .iter()
                .filter(|tagged| inner.selected(selection, now, tagged.sample.at, tagged.faults))
                .map(|tagged| tagged.sample.clone())
                .collect()
        })
    }

    /// The values of a series still held, oldest first.
    pub fn points(&self, series: &str, selection: &Selection) -> Vec<Point> {
        let now = self.now();
        let inner = self.lock();
        inner.series.get(series).map_or_else(Vec::new, |data| {
            data.ring
                .iter()
                .filter(|tagged| inner.selected(selection, now, tagged.sample.at, tagged.faults))
                .map(|tagged| tagged.sample)
                .collect()
        })
    }

    /// The values of a series recorded after `after` (oldest first), found from the newest
    /// end of the ring: cheap for a reader that polls for what is new.
    pub fn points_after(&self, series: &str, after: Duration) -> Vec<Point> {
        let inner = self.lock();
        inner.series.get(series).map_or_else(Vec::new, |data| {
            newest_after(&data.ring, after, |point| point.at)
        })
    }

    /// The observations of a probe recorded after the first `seen` ones (in time order),
    /// and how many were recorded in all: a reader that polls for completed checks passes
    /// the count back next time. Checks complete out of order, so this is by recording, not
    /// by time stamp.
    pub fn observations_recorded_since(&self, probe: &str, seen: u64) -> (Vec<Observation>, u64) {
        let inner = self.lock();
        let Some(data) = inner.probes.get(probe) else {
            return (Vec::new(), seen);
        };
        let new = data
            .ring
            .iter()
            .filter(|tagged| tagged.seq > seen)
            .map(|tagged| tagged.sample.clone())
            .collect();
        (new, data.recorded)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the data consistent, so a panic elsewhere does not spoil it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    fn fault_sets_active(&self) -> &[String] {
        &self.fault_sets[self.active_set as usize]
    }

    /// Points `active_set` at the interned copy of the active faults.
    fn retag(&mut self) {
        let mut set = self.active.clone();
        set.sort();
        let index = match self.fault_sets.iter().position(|known| *known == set) {
            Some(index) => index,
            None => {
                self.fault_sets.push(set);
                self.fault_sets.len() - 1
            }
        };
        self.active_set = index as u32;
    }

    fn phase_matches(&self, phase: &Phase, faults: u32) -> bool {
        let set = &self.fault_sets[faults as usize];
        match phase {
            Phase::Any => true,
            Phase::Baseline => set.is_empty(),
            Phase::Under(fault) => set.iter().any(|active| active == fault),
        }
    }

    fn selected(&self, selection: &Selection, now: Duration, at: Duration, faults: u32) -> bool {
        let in_window = match selection.window {
            Window::Run => true,
            Window::Trailing(length) => at >= now.saturating_sub(length),
        };
        in_window && self.phase_matches(&selection.phase, faults)
    }

    fn totals<T>(&self, series: &Series<T>, phase: &Phase) -> Totals {
        let mut totals = Totals::new();
        for (faults, part) in &series.totals {
            if self.phase_matches(phase, *faults) {
                totals.merge(part);
            }
        }
        totals
    }
}

/// The samples of `ring` stamped after `after`, oldest first, scanning from the newest.
fn newest_after<T: Clone>(
    ring: &VecDeque<Tagged<T>>,
    after: Duration,
    at: impl Fn(&T) -> Duration,
) -> Vec<T> {
    let mut out: Vec<T> = ring
        .iter()
        .rev()
        .take_while(|tagged| at(&tagged.sample) > after)
        .map(|tagged| tagged.sample.clone())
        .collect();
    out.reverse();
    out
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(at_ms: u64, latency_ms: u64, success: bool) -> Observation {
        Observation {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            success,
            detail: String::new(),
        }
    }

    #[test]
    fn probe_quantiles_rates_and_extremes_match_hand_computed_values() {
        let store = MetricsStore::new();
        // Latencies 1..=100 ms; every tenth fails.
        for i in 1..=100u64 {
            store.record_observation("health", observation(i * 100, i, i % 10 != 0));
        }
        let summary = store.probe_summary("health", &Selection::all()).unwrap();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.failures, 10);
        assert_eq!(summary.error_rate, 0.1);
        assert_eq!(summary.availability, 0.9);
        assert_eq!(summary.latency.p50, Duration::from_millis(50));
        assert_eq!(summary.latency.p90, Duration::from_millis(90));
        assert_eq!(summary.latency.p95, Duration::from_millis(95));
        assert_eq!(summary.latency.p99, Duration::from_millis(99));
        assert_eq!(summary.latency.max, Duration::from_millis(100));
        assert!((summary.latency.mean.as_secs_f64() - 0.0505).abs() < 1e-9);
        assert_eq!(summary.quantile_samples, 100);
        assert!(store.probe_summary("missing", &Selection::all()).is_none());
    }

    #[test]
    fn separates_baseline_from_each_fault() {
        let store = MetricsStore::new();
        store.record_observation("checkout", observation(0, 10, true));
        store.record_observation("checkout", observation(1, 20, true));
        store.fault_started("latency-backend");
        store.record_observation("checkout", observation(2, 300, true));
        store.fault_started("pause-api");
        store.record_observation("checkout", observation(3, 2000, false));
        store.fault_ended("latency-backend");
        store.record_observation("checkout", observation(4, 1000, false));
        store.fault_ended("pause-api");
        store.record_observation("checkout", observation(5, 30, true));
        assert!(store.active_faults().is_empty());

        let baseline = store
            .probe_summary("checkout", &Selection::all().baseline())
            .unwrap();
        assert_eq!(baseline.count, 3);
        assert_eq!(baseline.latency.max, Duration::from_millis(30));
        assert_eq!(baseline.latency.p50, Duration::from_millis(20));
        let latency = store
            .probe_summary("checkout", &Selection::all().under("latency-backend"))
            .unwrap();
        assert_eq!((latency.count, latency.failures), (2, 1));
        let pause = store
            .probe_summary("checkout", &Selection::all().under("pause-api"))
            .unwrap();
        assert_eq!((pause.count, pause.failures), (2, 2));
        assert_eq!(pause.availability, 0.0);
        assert!(
            store
                .probe_summary("checkout", &Selection::all().under("other"))
                .is_none()
        );
    }

    #[test]
    fn a_full_ring_keeps_exact_totals_and_recent_quantiles() {
        let store = MetricsStore::with_capacity(10);
        for i in 1..=100u64 {
            store.record_observation("p", observation(i, i, true));
        }
        let summary = store.probe_summary("p", &Selection::all()).unwrap();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.latency.max, Duration::from_millis(100));
        assert_eq!(summary.quantile_samples, 10);
        // Quantiles over the last ten (91..=100).
        assert_eq!(summary.latency.p50, Duration::from_millis(95));
        assert_eq!(store.observations("p", &Selection::all()).len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn trailing_windows_end_now() {
        let store = MetricsStore::new();
        for second in 0..10u64 {
            store.record(
                "api.cpu_percent",
                Duration::from_secs(second),
                second as f64,
            );
        }
        tokio::time::sleep(Duration::from_secs(9)).await;
        let recent = store
            .series_summary(
                "api.cpu_percent",
                &Selection::trailing(Duration::from_secs(3)),
            )
            .unwrap();
        // Values at 6, 7, 8 and 9 s.
        assert_eq!(recent.count, 4);
        assert_eq!(recent.mean, 7.5);
        assert_eq!((recent.min, recent.max, recent.last), (6.0, 9.0, 9.0));
        let whole = store
            .series_summary("api.cpu_percent", &Selection::all())
            .unwrap();
        assert_eq!(whole.count, 10);
        assert_eq!(whole.quantiles.p90, 8.0);
        let points = store.points(
            "api.cpu_percent",
            &Selection::trailing(Duration::from_secs(1)),
        );
        assert_eq!(
            points.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![8.0, 9.0]
        );
        assert_eq!(store.series_names(), vec!["api.cpu_percent"]);
        let after: Vec<f64> = store
            .points_after("api.cpu_percent", Duration::from_secs(7))
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(after, vec![8.0, 9.0]);
        assert!(store.points_after("missing", Duration::ZERO).is_empty());
    }

    #[test]
    fn ignores_non_finite_values_and_shares_data_between_clones() {
        let store = MetricsStore::new();
        let clone = store.clone();
        clone.record("x", Duration::ZERO, f64::NAN);
        clone.record("x", Duration::ZERO, 4.0);
        let summary = store.series_summary("x", &Selection::all()).unwrap();
        assert_eq!(summary.count, 1);
        std::thread::spawn(move || clone.record_now("x", 6.0))
            .join()
            .unwrap();
        assert_eq!(
            store.series_summary("x", &Selection::all()).unwrap().mean,
            5.0
        );
    }
}

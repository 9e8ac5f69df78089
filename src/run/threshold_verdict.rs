//! Judging a threshold against what the metrics store holds.
//!
//! Probe metrics: `p50`, `p90`, `p95`, `p99`, `mean`, `max` (latency in ms), `error_rate` and
//! `availability` (fractions), `count`, computed from the probe's checks. `during F` keeps only
//! the samples taken while fault F was active; `over W` judges every trailing window of length
//! W (ending at each sample) and keeps the worst value for the comparison.
//!
//! Resource, link and telemetry metrics are judged on their telemetry series
//! (`<source>.<metric>`, see `monitor`), with the same `during` and `over` rules:
//! - a level (`cpu`, `memory`, `io_read`, `io_write`, `restarts`, a link's `latency` and
//!   `connections`, any telemetry metric) must hold at every sample: the measured value is the
//!   worst sample (the largest for `<`, `<=`, `==`; the smallest for `>`, `>=`, `!=`), or with
//!   `over W` the worst mean of a trailing window of length W;
//! - a link's counts (`bytes`, `requests`, `errors`, recorded per sampling interval) are
//!   summed: over the run (or while the fault was active), or over each window;
//! - a link's `error_rate` is the ratio of those sums, `errors / requests`.

use super::fault_windows::FaultWindows;
use crate::monitor::{MetricsStore, Observation, Point, Selection};
use crate::plan::{Comparator, ProbeStat, SourceKind, ThresholdPlan};
use serde::Serialize;
use std::time::Duration;

/// Abort thresholds are judged only once their probe has this many samples, so one failed
/// first check does not end a run.
pub const MIN_SAMPLES_TO_ABORT: usize = 5;

/// A threshold judged on fewer samples than this (checks of its probe, or points of its
/// series, in its scope) is inconclusive: the figure is reported, but it neither passes nor
/// fails on its own. An inconclusive threshold does not fail the run unless the run asks for
/// it (`pfi run --fail-inconclusive`).
/// (A probe's `count` threshold is always judged.)
pub const MIN_SAMPLES_TO_JUDGE: usize = 5;

/// A threshold's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdVerdict {
    pub text: String,
    /// The measured value in the threshold's unit; `None` when nothing could be measured.
    pub measured: Option<f64>,
    pub passed: bool,
    /// Why it could not be measured, when it could not.
    pub note: Option<String>,
    pub abort: bool,
    /// Not judged: it is `during` a fault this run left out (`--profile top:N`). It does not
    /// fail the run.
    #[serde(default)]
    pub skipped: bool,
    /// Judged on fewer than [`MIN_SAMPLES_TO_JUDGE`] samples (none included): reported, the
    /// note says how many, and it does not fail the run (see [`fail_inconclusive`]).
    #[serde(default)]
    pub inconclusive: bool,
}

/// `pfi run --fail-inconclusive`: an inconclusive verdict fails.
pub fn fail_inconclusive(mut verdict: ThresholdVerdict) -> ThresholdVerdict {
    if verdict.inconclusive {
        verdict.passed = false;
    }
    verdict
}

/// The verdict of a threshold `during` a fault the run left out.
pub fn skipped(threshold: &ThresholdPlan, fault: &str) -> ThresholdVerdict {
    ThresholdVerdict {
        text: threshold.text.clone(),
        measured: None,
        passed: true,
        note: Some(format!("skipped: fault `{fault}` is left out of this run")),
        abort: threshold.abort,
        skipped: true,
        inconclusive: false,
    }
}

/// Judges `threshold` on everything recorded so far.
pub fn judge(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> ThresholdVerdict {
    let count = sample_count(threshold, store, windows);
    let verdict = |measured: Option<f64>, note: Option<String>| {
        // A probe's `count` is the number of checks itself: few is its answer.
        let inconclusive = count < MIN_SAMPLES_TO_JUDGE
            && !(threshold.metric.source_kind == SourceKind::Probe
                && threshold.metric.metric == "count");
        let note = if inconclusive {
            let scope = match &threshold.during {
                Some(fault) => format!(" while `{fault}` was active"),
                None => String::new(),
            };
            let counted = format!(
                "inconclusive: {count} sample{}{scope} (at least {MIN_SAMPLES_TO_JUDGE} needed)",
                if count == 1 { "" } else { "s" }
            );
            Some(match note {
                Some(note) => format!("{counted}; {note}"),
                None => counted,
            })
        } else {
            note
        };
        ThresholdVerdict {
            text: threshold.text.clone(),
            passed: inconclusive
                || measured.is_some_and(|value| threshold.op.holds(value, threshold.value)),
            measured,
            note,
            abort: threshold.abort,
            skipped: false,
            inconclusive,
        }
    };
    if threshold.metric.source_kind != SourceKind::Probe {
        return match judge_series(threshold, store, windows) {
            Ok(value) => verdict(Some(value), None),
            Err(note) => verdict(None, Some(note)),
        };
    }
    let observations = samples(threshold, store, windows);
    if observations.is_empty() {
        let note = match &threshold.during {
            Some(fault) => format!("no samples while `{fault}` was active"),
            None => format!("probe `{}` recorded no samples", threshold.metric.source),
        };
        return verdict(None, Some(note));
    }
    match measure(threshold, &observations) {
        Ok(value) => verdict(Some(value), None),
        Err(note) => verdict(None, Some(note)),
    }
}

/// How many samples the threshold is judged on: its probe's checks, or its series' points
/// (a link's `error_rate`: the sampling intervals of its request counts), `during` applied.
pub fn sample_count(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> usize {
    if threshold.metric.source_kind == SourceKind::Probe {
        return samples(threshold, store, windows).len();
    }
    let series = if aggregate(threshold) == Aggregate::Ratio {
        format!("{}.requests", threshold.metric.source)
    } else {
        threshold.metric.to_string()
    };
    series_points(threshold, &series, store, windows).len()
}

/// Whether an abort threshold fails now (with enough samples to judge).
pub fn abort_fails(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Option<ThresholdVerdict> {
    if !threshold.abort {
        return None;
    }
    if sample_count(threshold, store, windows) < MIN_SAMPLES_TO_ABORT {
        return None;
    }
    let verdict = judge(threshold, store, windows);
    (verdict.measured.is_some() && !verdict.passed).then_some(verdict)
}

fn samples(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Vec<Observation> {
    let all = store.observations(&threshold.metric.source, &Selection::all());
    match &threshold.during {
        Some(fault) => all
            .into_iter()
            .filter(|o| windows.covers(Some(fault), o))
            .collect(),
        None => all,
    }
}

fn measure(threshold: &ThresholdPlan, observations: &[Observation]) -> Result<f64, String> {
    let metric = threshold.metric.metric.as_str();
    let Some(window_ms) = threshold.window_ms else {
        return metric_value(metric, observations);
    };
    // The worst trailing window: the largest value when the limit is an upper bound, the
    // smallest when it is a lower bound.
    let upper = matches!(
        threshold.op,
        Comparator::Lt | Comparator::Le | Comparator::Eq
    );
    let mut worst: Option<f64> = None;
    let mut first = 0;
    for last in 0..observations.len() {
        let end_ms = millis(observations[last].at);
        while millis(observations[first].at) <= end_ms - window_ms {
            first += 1;
        }
        let value = metric_value(metric, &observations[first..=last])?;
        worst = Some(match worst {
            Some(w) if upper => w.max(value),
            Some(w) => w.min(value),
            None => value,
        });
    }
    worst.ok_or_else(|| "no samples".to_string())
}

/// How a series' samples combine into one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    /// Every sample must hold: the worst one, or the worst window mean.
    Level,
    /// Counts per interval: summed.
    Total,
    /// A link's `errors / requests`.
    Ratio,
}

fn aggregate(threshold: &ThresholdPlan) -> Aggregate {
    match (
        threshold.metric.source_kind,
        threshold.metric.metric.as_str(),
    ) {
        (SourceKind::Link, "bytes" | "requests" | "errors") => Aggregate::Total,
        (SourceKind::Link, "error_rate") => Aggregate::Ratio,
        _ => Aggregate::Level,
    }
}

/// Whether the worst value is the largest (an upper limit) or the smallest.
fn upper(op: Comparator) -> bool {
    matches!(op, Comparator::Lt | Comparator::Le | Comparator::Eq)
}

/// The points of `series` the threshold covers (`during` applied).
fn series_points(
    threshold: &ThresholdPlan,
    series: &str,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Vec<Point> {
    let all = store.points(series, &Selection::all());
    match &threshold.during {
        Some(fault) => all
            .into_iter()
            .filter(|p| windows.covers_at(Some(fault), p.at))
            .collect(),
        None => all,
    }
}

fn judge_series(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Result<f64, String> {
    let source = &threshold.metric.source;
    let kind = aggregate(threshold);
    let (points, denominators) = if kind == Aggregate::Ratio {
        (
            series_points(threshold, &format!("{source}.errors"), store, windows),
            series_points(threshold, &format!("{source}.requests"), store, windows),
        )
    } else {
        let name = threshold.metric.to_string();
        (series_points(threshold, &name, store, windows), Vec::new())
    };
    if points.is_empty() {
        return Err(match &threshold.during {
            Some(fault) => format!(
                "no samples of `{}` while `{fault}` was active",
                threshold.metric
            ),
            None => format!("no samples of `{}` were recorded", threshold.metric),
        });
    }
    let upper = upper(threshold.op);
    let worse = |a: f64, b: f64| if upper { a.max(b) } else { a.min(b) };
    let Some(window_ms) = threshold.window_ms else {
        return match kind {
            Aggregate::Level => Ok(points.iter().map(|p| p.value).fold(
                if upper {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                worse,
            )),
            Aggregate::Total => Ok(points.iter().map(|p| p.value).sum()),
            Aggregate::Ratio => ratio(&points, &denominators),
        };
    };
    let window = Duration::from_secs_f64(window_ms / 1000.0);
    let mut worst: Option<f64> = None;
    let mut first = 0;
    for last in 0..points.len() {
        let end = points[last].at;
        while points[first].at + window <= end {
            first += 1;
        }
        let part = &points[first..=last];
        let value = match kind {
            Aggregate::Level => part.iter().map(|p| p.value).sum::<f64>() / part.len() as f64,
            Aggregate::Total => part.iter().map(|p| p.value).sum(),
            Aggregate::Ratio => {
                let from = part[0].at;
                let within: Vec<Point> = denominators
                    .iter()
                    .filter(|p| p.at >= from && p.at <= end)
                    .copied()
                    .collect();
                match ratio(part, &within) {
                    Ok(value) => value,
                    Err(_) => continue,
                }
            }
        };
        worst = Some(worst.map_or(value, |w| worse(w, value)));
    }
    worst.ok_or_else(|| format!("`{}`: no requests to take a rate of", threshold.metric))
}

fn ratio(errors: &[Point], requests: &[Point]) -> Result<f64, String> {
    let requests: f64 = requests.iter().map(|p| p.value).sum();
    if requests <= 0.0 {
        return Err("no requests to take an error rate of".to_string());
    }
    Ok((errors.iter().map(|p| p.value).sum::<f64>() / requests).min(1.0))
}

fn millis(at: std::time::Duration) -> f64 {
    at.as_secs_f64() * 1000.0
}

/// One probe metric over `observations` (not empty).
pub fn metric_value(metric: &str, observations: &[Observation]) -> Result<f64, String> {
    let stat =
        ProbeStat::parse(metric).ok_or_else(|| format!("`{metric}` is not a probe metric"))?;
    Ok(stat.value(&Observation::stats(observations)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Location, MetricRef, MetricUnit};
    use std::time::Duration;

    fn threshold(metric: &str, op: Comparator, value: f64) -> ThresholdPlan {
        on("p", SourceKind::Probe, metric, op, value)
    }

    fn on(
        source: &str,
        kind: SourceKind,
        metric: &str,
        op: Comparator,
        value: f64,
    ) -> ThresholdPlan {
        ThresholdPlan {
            text: format!("{source}.{metric}"),
            metric: MetricRef {
                source: source.into(),
                source_kind: kind,
                metric: metric.into(),
            },
            unit: MetricUnit::Number,
            op,
            value,
            window_ms: None,
            during: None,
            abort: false,
            abort_predicted_ms: None,
            at: Location {
                file: "x.pfi".into(),
                line: 1,
                column: 1,
                start: 0,
                end: 0,
            },
        }
    }

    fn observation(at_ms: u64, latency_ms: u64, success: bool) -> Observation {
        Observation {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            success,
            detail: String::new(),
        }
    }

    #[test]
    fn computes_probe_metrics() {
        let obs: Vec<Observation> = (1..=10)
            .map(|i| observation(i * 100, i * 10, i != 3))
            .collect();
        assert_eq!(metric_value("count", &obs), Ok(10.0));
        assert_eq!(metric_value("error_rate", &obs), Ok(0.1));
        assert_eq!(metric_value("availability", &obs), Ok(0.9));
        assert_eq!(metric_value("max", &obs), Ok(100.0));
        assert_eq!(metric_value("p50", &obs), Ok(50.0));
        assert_eq!(metric_value("mean", &obs), Ok(55.0));
        assert!(metric_value("p42", &obs).is_err());
    }

    #[test]
    fn windows_keep_the_worst_value_for_the_comparison() {
        // Failures cluster between 500 and 700 ms.
        let obs: Vec<Observation> = (0..20)
            .map(|i| observation(i * 100, 5, !(5..=7).contains(&i)))
            .collect();
        let mut t = threshold("availability", Comparator::Gt, 0.5);
        assert!(measure(&t, &obs).unwrap() > 0.8);
        t.window_ms = Some(300.0);
        assert_eq!(measure(&t, &obs).unwrap(), 0.0);
        let mut e = threshold("error_rate", Comparator::Lt, 0.5);
        e.window_ms = Some(400.0);
        assert_eq!(measure(&e, &obs).unwrap(), 0.75);
    }

    #[test]
    fn judges_against_the_store_and_during_a_fault() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        for i in 0..6 {
            store.record_observation("p", observation(i * 10, 5, true));
        }
        windows.opened("freeze", Duration::from_millis(60));
        for i in 6..11 {
            store.record_observation("p", observation(i * 10, 900, false));
        }
        windows.closed("freeze", Duration::from_millis(105));
        for i in 11..15 {
            store.record_observation("p", observation(i * 10, 5, true));
        }
        let all = judge(
            &threshold("availability", Comparator::Gt, 0.5),
            &store,
            &windows,
        );
        assert_eq!(all.measured, Some(10.0 / 15.0));
        assert!(all.passed);
        let mut during = threshold("p50", Comparator::Lt, 500.0);
        during.during = Some("freeze".into());
        let verdict = judge(&during, &store, &windows);
        assert_eq!(verdict.measured, Some(900.0));
        assert!(!verdict.passed);
        let mut other = threshold("p50", Comparator::Lt, 500.0);
        other.during = Some("never".into());
        let verdict = judge(&other, &store, &windows);
        assert_eq!(verdict.measured, None);
        assert!(verdict.inconclusive && verdict.passed);
        assert!(verdict.note.unwrap().contains("no samples while `never`"));
        assert!(!fail_inconclusive(judge(&other, &store, &windows)).passed);
    }

    #[test]
    fn too_few_samples_are_inconclusive_not_a_verdict() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        for i in 0..10 {
            store.record_observation("p", observation(i * 100, 5, true));
        }
        // Four checks under the freeze, all failed: a figure, but no verdict.
        windows.opened("freeze", at(1000));
        for i in 10..14 {
            store.record_observation("p", observation(i * 100, 1000, false));
        }
        windows.closed("freeze", at(1350));
        let mut t = threshold("availability", Comparator::Gt, 0.5);
        t.during = Some("freeze".into());
        let verdict = judge(&t, &store, &windows);
        assert_eq!(verdict.measured, Some(0.0));
        assert!(verdict.inconclusive && verdict.passed);
        assert_eq!(
            verdict.note.as_deref(),
            Some("inconclusive: 4 samples while `freeze` was active (at least 5 needed)")
        );
        let strict = fail_inconclusive(verdict);
        assert!(strict.inconclusive && !strict.passed);
        // A count is judged on any number of checks: four is its answer.
        let mut count = threshold("count", Comparator::Gt, 10.0);
        count.during = Some("freeze".into());
        let verdict = judge(&count, &store, &windows);
        assert_eq!(verdict.measured, Some(4.0));
        assert!(!verdict.inconclusive && !verdict.passed);
        // The fifth check makes it a verdict: failed.
        windows.opened("freeze", at(1400));
        store.record_observation("p", observation(1400, 1000, false));
        windows.closed("freeze", at(1450));
        let verdict = judge(&t, &store, &windows);
        assert!(!verdict.inconclusive && !verdict.passed && verdict.note.is_none());
        // Series count their points the same way.
        for i in 0..3 {
            store.record("api.cpu", at(i * 100), 0.9);
        }
        let cpu = on("api", SourceKind::Resource, "cpu", Comparator::Lt, 0.5);
        let verdict = judge(&cpu, &store, &windows);
        assert!(verdict.inconclusive && verdict.passed);
        assert_eq!(verdict.measured, Some(0.9));
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_level_must_hold_at_every_sample_or_window() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        // CPU (fraction of a core): quiet, one spike at 500 ms, then a busy stretch.
        let cpu = [0.1, 0.1, 0.1, 0.1, 0.1, 0.95, 0.1, 0.5, 0.6, 0.7];
        for (i, value) in cpu.iter().enumerate() {
            store.record("api.cpu", at(i as u64 * 100), *value);
        }
        let mut t = on("api", SourceKind::Resource, "cpu", Comparator::Lt, 0.8);
        let verdict = judge(&t, &store, &windows);
        assert_eq!(verdict.measured, Some(0.95));
        assert!(!verdict.passed);
        // Over 300 ms the spike averages out; the busy stretch does not.
        t.window_ms = Some(300.0);
        let verdict = judge(&t, &store, &windows);
        assert!((verdict.measured.unwrap() - 0.6).abs() < 1e-9);
        assert!(verdict.passed);
        // A lower bound keeps the smallest value.
        let floor = on("api", SourceKind::Resource, "cpu", Comparator::Gt, 0.05);
        assert_eq!(judge(&floor, &store, &windows).measured, Some(0.1));
        let missing = on("api", SourceKind::Resource, "io_read", Comparator::Lt, 1.0);
        let verdict = judge(&missing, &store, &windows);
        assert_eq!(verdict.measured, None);
        assert!(verdict.note.unwrap().contains("api.io_read"));
    }

    #[test]
    fn link_counts_are_summed_and_error_rates_are_ratios_of_sums() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        for i in 0..10u64 {
            store.record("l.requests", at(i * 100), 10.0);
            let errors = if (4..6).contains(&i) { 5.0 } else { 0.0 };
            store.record("l.errors", at(i * 100), errors);
        }
        windows.opened("flaky", at(300));
        windows.closed("flaky", at(750));
        let total = on("l", SourceKind::Link, "requests", Comparator::Gt, 50.0);
        assert_eq!(judge(&total, &store, &windows).measured, Some(100.0));
        let mut rate = on("l", SourceKind::Link, "error_rate", Comparator::Lt, 0.2);
        assert_eq!(judge(&rate, &store, &windows).measured, Some(0.1));
        rate.window_ms = Some(200.0);
        assert_eq!(judge(&rate, &store, &windows).measured, Some(0.5));
        rate.window_ms = None;
        rate.during = Some("flaky".into());
        let verdict = judge(&rate, &store, &windows);
        assert_eq!(verdict.measured, Some(0.2));
        assert!(!verdict.passed);
        let mut errors = on("l", SourceKind::Link, "errors", Comparator::Lt, 8.0);
        errors.window_ms = Some(150.0);
        assert_eq!(judge(&errors, &store, &windows).measured, Some(10.0));
    }

    #[test]
    fn abort_thresholds_on_series_wait_for_enough_samples() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        let mut t = on("api", SourceKind::Resource, "memory", Comparator::Lt, 100.0);
        t.abort = true;
        for i in 0..4 {
            store.record("api.memory", at(i), 500.0);
        }
        assert_eq!(abort_fails(&t, &store, &windows), None);
        store.record("api.memory", at(5), 500.0);
        assert_eq!(
            abort_fails(&t, &store, &windows).unwrap().measured,
            Some(500.0)
        );
    }

    #[test]
    fn abort_thresholds_wait_for_enough_samples() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        let mut t = threshold("availability", Comparator::Gt, 0.9);
        t.abort = true;
        for i in 0..4 {
            store.record_observation("p", observation(i, 1, false));
        }
        assert_eq!(abort_fails(&t, &store, &windows), None);
        store.record_observation("p", observation(5, 1, false));
        assert!(abort_fails(&t, &store, &windows).is_some());
    }
}

//! The prediction loop of `pfi run`: streaming detectors and trends over the run's telemetry,
//! the plan's patterns evaluated on them, and a [`Prediction`] for each pattern that matches
//! with enough confidence.
//!
//! # What it watches
//! Every metric of the `predict` block's `watch` list, plus every metric the used patterns
//! read once bound. A pattern's parameter (`memory_leak(r)`) is bound to each watched
//! resource (a resource with a metric in `watch`); a pattern over several parameters to each
//! combination. Each metric is read from its telemetry series in the metrics store
//! (`<source>.<metric>`, see `monitor`) every `interval` (the block's `every`, 250 ms unless
//! set), and each new sample goes through:
//! - a detector built from the registry with the block's `detector` and parameters;
//! - a [`Trend`] over the last [`TREND_WINDOW`] samples (rising / falling / flat);
//! - the metric's *anomaly*: the largest detector score of those same last samples, so that a
//!   detector that raises one alarm per incident (the ensemble) keeps the metric anomalous
//!   while the incident is recent.
//!
//! # Run-time detector defaults
//! The registry's defaults suit NAB (files of thousands of samples). A run has a few hundred
//! samples per metric, so parameters the block does not set are changed as follows, when the
//! detector has them: `warmup` = the experiment's baseline in samples, at least
//! [`MIN_WARMUP`] and at most [`MAX_WARMUP`] (the registry's 30 is one NAB probation at a
//! 250 ms interval: 7.5 s of a service starting up); `sustain` = 8 (2 s at 250 ms: a shift
//! counts after 2 s, not 10); `hold` = [`TREND_WINDOW`] (one alarm per trend window);
//! `level_window` = 120 (30 s of history for the median/MAD).
//!
//! # Forecasts: time to a limit
//! A watched metric with a known *limit* also runs the `forecast` detector (a robust local
//! linear trend with prediction intervals, see `forecast.rs`) towards it, with a memory of
//! [`FORECAST_TAU_SECS`] and the block's `horizon` ([`DEFAULT_HORIZON_MS`] unless set). The
//! limits: a `threshold` of the plan on that metric (`threshold api.memory < 64MiB`: rising to
//! 64 MiB; `>`: falling to it), the `limit` of a `memory_limit` fault of the plan on the
//! resource (for `R.memory`), and the container's own `R.memory_limit` series once it has one.
//! Then:
//! - while the trend towards the limit is significant (its 90% interval for the time to the
//!   limit is finite), the metric's anomaly is the larger of the detector's and the forecast's
//!   probability of reaching the limit within the horizon: memory heading for its limit *is*
//!   anomalous, even while each sample looks ordinary (so `std/patterns`' `memory_leak` fires
//!   on the forecast);
//! - a prediction carries the expected time to the limit with a 90% interval ("expected in
//!   40 s (25 s–70 s)"): the soonest of the metrics the pattern read for their trend, else of
//!   any it read;
//! - with `horizon` set, a pattern whose metrics have limits predicts only when one of them is
//!   expected to reach its limit within the horizon.
//!
//! # Conditions
//! Each atom of a pattern's condition has a crisp truth and a *soft truth* in `[0, 1]` (at
//! least 0.5 exactly when it holds):
//! - `m > x`, `m >= x` (and `<`, `<=` mirrored): with `e` the margin by which the latest value
//!   clears the limit, relative to `|x|` (to 1 when `x` is 0), `0.5 + 0.5 · clamp(e / 0.2, -1, 1)`:
//!   a value 20% beyond the limit is fully true; `==`, `!=`: 1 or 0;
//! - `m rising` / `m falling`: holds when the [`Trend`] says so (a significant Mann–Kendall
//!   trend whose size is at least 5% of the metric's scale) *and* it is steady: τ, the Kendall
//!   tau of the trend window in that direction, is at least [`STEADY`]; soft truth `0.5 + 0.5 · τ`
//!   when it holds, else `0.5 · max(τ, 0)`;
//! - `m flat`: `0.5 + 0.5 · (1 − |τ|)` when flat, else `0.5 · (1 − |τ|)`;
//! - `m anomalous`: with `a` the metric's anomaly and `T` the alarm level ([`ALARM`], or the
//!   ensemble's `alarm` parameter), holds when `a ≥ T`; soft truth `0.5 + 0.5 · (a − T)/(1 − T)`
//!   when it holds, else `0.5 · a / T`;
//! - `not c`: `1 − soft(c)`; `a and b`: the minimum; `a or b`: the maximum.
//!
//! A metric without samples yet makes its atoms false (soft truth 0).
//!
//! # Confidence
//! When a bound pattern holds, with `Q = 2 · (soft − 0.5)` how well it matched (0 = just at the
//! edge of every comparison, 1 = every atom fully true) and `A` the anomaly strength (the
//! largest anomaly of the metrics the pattern read):
//!
//! `confidence = (Q + A) / 2`
//!
//! A pattern that holds clearly on metrics that are clearly anomalous scores near 1; one that
//! barely holds on ordinary-looking metrics scores near 0. The block's `confidence >= x`
//! keeps predictions at or above `x`. A (pattern, binding) predicts once per episode: again
//! only after the pattern stopped holding for a whole trend window.

use super::crossing::Crossing;
use super::prediction::{Prediction, Signal};
use super::registry;
use super::trend::{Direction, Trend, TrendConfig, TrendReading};
use super::{Detector, DetectorError};
use crate::monitor::MetricsStore;
use crate::plan::{
    Comparator, ConditionPlan, LINK_METRICS, MetricRef, Plan, RESOURCE_METRICS, SourceKind,
    Trend as TrendWord,
};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Samples in each metric's trend window (and its anomaly memory).
pub const TREND_WINDOW: usize = 30;
/// Detector score at which a metric counts as anomalous, unless the ensemble's `alarm` is set.
pub const ALARM: f64 = 0.45;
/// Kendall's tau a `rising` or `falling` trend must reach: a steady trend, not one step. A
/// single step anywhere in a window has a tau of at most about 0.52 (half the samples above
/// the other half), so a process whose memory settles one notch higher after warming up is not
/// "rising"; a leak's ramp reaches 0.6 once it fills about a third of the window.
pub const STEADY: f64 = 0.6;
/// Run-time warm-up bounds, in samples.
pub const MIN_WARMUP: usize = 20;
pub const MAX_WARMUP: usize = 240;
/// The forecast horizon when the block sets none.
pub const DEFAULT_HORIZON_MS: f64 = 60_000.0;
/// The memory of the run-time trend forecasts: runs last seconds to minutes.
pub const FORECAST_TAU_SECS: f64 = 10.0;

/// One watched metric.
struct Tracked {
    detector: Box<dyn Detector>,
    trend: Trend,
    reading: Option<TrendReading>,
    scores: VecDeque<f64>,
    last: Option<f64>,
    seen_until: Option<Duration>,
    /// The forecast towards the metric's limit, when it has one, and its latest reading.
    forecast: Option<LimitForecast>,
}

/// A `forecast` detector towards one limit.
struct LimitForecast {
    detector: Box<dyn Detector>,
    breach: f64,
    crossing: Option<Crossing>,
}

impl LimitForecast {
    fn new(limit: (f64, i8), horizon_ms: f64, warmup: f64) -> Option<LimitForecast> {
        let params = [
            ("limit".to_string(), limit.0),
            ("direction".to_string(), f64::from(limit.1)),
            ("horizon".to_string(), horizon_ms / 1000.0),
            ("tau".to_string(), FORECAST_TAU_SECS),
            ("min_samples".to_string(), 6.0),
            ("warmup".to_string(), warmup),
        ];
        let detector = registry::build("forecast", &params).ok()?;
        Some(LimitForecast {
            detector,
            breach: 0.0,
            crossing: None,
        })
    }
}

impl Tracked {
    fn anomaly(&self) -> f64 {
        let scored = self.scores.iter().copied().fold(0.0, f64::max);
        scored.max(self.forecast.as_ref().map_or(0.0, |f| f.breach))
    }

    fn learn(&mut self, at: Duration, value: f64) {
        let t = at.as_secs_f64();
        if let Some(f) = self.forecast.as_mut() {
            let breach = f.detector.update(t, value);
            // Only a significant trend towards the limit counts here (its 90% interval ends):
            // noise that might touch the limit is the detector's business, not a forecast.
            f.crossing = f
                .detector
                .crossing()
                .filter(|c| c.high_secs.is_finite() || c.eta_secs == 0.0);
            f.breach = if f.crossing.is_some() { breach } else { 0.0 };
        }
        let score = self.detector.update(t, value);
        if self.scores.len() == TREND_WINDOW {
            self.scores.pop_front();
        }
        self.scores.push_back(score);
        self.reading = Some(self.trend.update(t, value));
        self.last = Some(value);
        self.seen_until = Some(at);
    }
}

/// A pattern bound to resources.
struct Binding {
    pattern: String,
    predicts: String,
    resource: String,
    condition: ConditionPlan,
    /// Whether the pattern held at the last evaluation, and since how many quiet ticks not.
    in_episode: bool,
    quiet_ticks: usize,
}

/// The loop's state; [`step`](Self::step) is one tick.
pub struct PredictionLoop {
    interval: Duration,
    confidence: f64,
    alarm: f64,
    metrics: BTreeMap<String, Tracked>,
    bindings: Vec<Binding>,
    /// The block's `horizon`, if set.
    horizon_ms: Option<f64>,
    /// The forecasts' horizon and warm-up.
    forecast_horizon_ms: f64,
    forecast_warmup: f64,
}

impl PredictionLoop {
    /// The loop of `plan`'s `predict` block; `None` without one.
    pub fn new(plan: &Plan) -> Result<Option<PredictionLoop>, DetectorError> {
        let Some(predict) = &plan.predict else {
            return Ok(None);
        };
        let interval_ms = predict.interval_ms.max(10.0);
        let params = run_params(
            &predict.detector.name,
            &predict.detector.params,
            plan.experiment.baseline_ms / interval_ms,
        );
        let alarm = params
            .iter()
            .find(|(k, _)| k == "alarm")
            .map_or(ALARM, |(_, v)| *v);
        // Pattern parameters bind to every watched resource and link; a binding is kept only
        // where each source it reads has every metric it reads there.
        let mut resources: Vec<String> = Vec::new();
        let mut kinds: BTreeMap<String, SourceKind> = BTreeMap::new();
        for metric in &predict.watch {
            let bindable = matches!(metric.source_kind, SourceKind::Resource | SourceKind::Link);
            if bindable && !resources.contains(&metric.source) {
                resources.push(metric.source.clone());
                kinds.insert(metric.source.clone(), metric.source_kind);
            }
        }
        let mut bindings = Vec::new();
        for name in &predict.patterns {
            let Some(pattern) = plan.patterns.iter().find(|p| &p.name == name) else {
                continue;
            };
            for assignment in assignments(&pattern.params, &resources) {
                let condition = bind(&pattern.condition, &pattern.params, &assignment);
                if !readable(&condition, &kinds) {
                    continue;
                }
                let resource = assignment
                    .first()
                    .cloned()
                    .or_else(|| first_source(&condition))
                    .unwrap_or_default();
                bindings.push(Binding {
                    pattern: pattern.name.clone(),
                    predicts: pattern.predicts.clone(),
                    resource,
                    condition,
                    in_episode: false,
                    quiet_ticks: 0,
                });
            }
        }
        let mut names: Vec<String> = predict.watch.iter().map(|m| m.to_string()).collect();
        for binding in &bindings {
            collect_metrics(&binding.condition, &mut names);
        }
        let forecast_horizon_ms = predict.horizon_ms.unwrap_or(DEFAULT_HORIZON_MS);
        let forecast_warmup = params
            .iter()
            .find(|(k, _)| k == "warmup")
            .map_or(MIN_WARMUP as f64, |(_, v)| *v);
        let mut metrics = BTreeMap::new();
        for name in names {
            if metrics.contains_key(&name) {
                continue;
            }
            let forecast = plan_limit(plan, &name)
                .and_then(|l| LimitForecast::new(l, forecast_horizon_ms, forecast_warmup));
            let detector = registry::build(&predict.detector.name, &params)?;
            metrics.insert(
                name,
                Tracked {
                    detector,
                    trend: Trend::new(TrendConfig {
                        window: TREND_WINDOW,
                        ..TrendConfig::default()
                    }),
                    reading: None,
                    scores: VecDeque::with_capacity(TREND_WINDOW),
                    last: None,
                    seen_until: None,
                    forecast,
                },
            );
        }
        Ok(Some(PredictionLoop {
            interval: Duration::from_secs_f64(interval_ms / 1000.0),
            confidence: predict.confidence,
            alarm,
            metrics,
            bindings,
            horizon_ms: predict.horizon_ms,
            forecast_horizon_ms,
            forecast_warmup,
        }))
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The series the loop reads.
    pub fn metrics(&self) -> Vec<String> {
        self.metrics.keys().cloned().collect()
    }

    /// `(pattern, resource)` of every binding.
    pub fn bindings(&self) -> Vec<(String, String)> {
        self.bindings
            .iter()
            .map(|b| (b.pattern.clone(), b.resource.clone()))
            .collect()
    }

    /// Reads what is new in the store, updates every metric, evaluates every binding; returns
    /// the predictions made now.
    pub fn step(&mut self, store: &MetricsStore) -> Vec<Prediction> {
        for (name, tracked) in self.metrics.iter_mut() {
            if tracked.forecast.is_none()
                && let Some(source) = name.strip_suffix(".memory")
                && let Some(limit) = store
                    .series_summary(
                        &format!("{source}.memory_limit"),
                        &crate::monitor::Selection::all(),
                    )
                    .map(|s| s.last)
                && limit.is_finite()
                && limit > 0.0
            {
                // The container's own limit, once its telemetry reports one.
                tracked.forecast =
                    LimitForecast::new((limit, 1), self.forecast_horizon_ms, self.forecast_warmup);
            }
            let points = match tracked.seen_until {
                Some(seen) => store.points_after(name, seen),
                None => store.points(name, &crate::monitor::Selection::all()),
            };
            for point in points {
                tracked.learn(point.at, point.value);
            }
        }
        let at_ms = store.now().as_secs_f64() * 1000.0;
        let mut made = Vec::new();
        for binding in &mut self.bindings {
            let judged = judge(&binding.condition, &self.metrics, self.alarm);
            if !judged.holds {
                if binding.in_episode {
                    binding.quiet_ticks += 1;
                    if binding.quiet_ticks >= TREND_WINDOW {
                        binding.in_episode = false;
                    }
                }
                continue;
            }
            binding.quiet_ticks = 0;
            if binding.in_episode {
                continue;
            }
            let quality = (2.0 * (judged.soft - 0.5)).clamp(0.0, 1.0);
            let mut signals: Vec<Signal> = Vec::new();
            let mut anomaly: f64 = 0.0;
            for (metric, trend) in &judged.read {
                let Some(tracked) = self.metrics.get(metric) else {
                    continue;
                };
                anomaly = anomaly.max(tracked.anomaly());
                if let Some(existing) = signals.iter_mut().find(|s| &s.metric == metric) {
                    if existing.trend.is_none() {
                        existing.trend = trend.then(|| direction(tracked));
                    }
                    continue;
                }
                signals.push(Signal {
                    metric: metric.clone(),
                    value: tracked.last.unwrap_or(f64::NAN),
                    anomaly: tracked.anomaly(),
                    trend: trend.then(|| direction(tracked)),
                });
            }
            let confidence = confidence(quality, anomaly);
            if confidence < self.confidence {
                continue;
            }
            // The forecasts of the metrics read that have a limit; the expected crossing is the
            // soonest of those read for their trend (`memory rising`), else of any.
            let forecasts: Vec<(&LimitForecast, bool)> = judged
                .read
                .iter()
                .filter_map(|(m, trend)| {
                    let f = self.metrics.get(m).and_then(|t| t.forecast.as_ref())?;
                    Some((f, *trend))
                })
                .collect();
            let soonest = |trend_read: bool| {
                forecasts
                    .iter()
                    .filter(|(_, t)| *t || !trend_read)
                    .filter_map(|(f, _)| f.crossing)
                    .filter(|c| c.eta_secs.is_finite())
                    .min_by(|a, b| a.eta_secs.total_cmp(&b.eta_secs))
            };
            let expected = soonest(true).or_else(|| soonest(false));
            if let Some(horizon) = self.horizon_ms
                && !forecasts.is_empty()
                && !expected.is_some_and(|c| c.eta_secs * 1000.0 <= horizon)
            {
                // A limit is known and not expected within the horizon: not yet.
                continue;
            }
            binding.in_episode = true;
            made.push(Prediction {
                at_ms,
                kind: binding.predicts.clone(),
                pattern: binding.pattern.clone(),
                resource: binding.resource.clone(),
                confidence,
                signals,
                expected,
            });
        }
        made
    }

    /// Steps every `interval`, hands each prediction to `made` and sends it on `sender` (a
    /// send without receivers is fine), until `shutdown` completes.
    pub async fn run(
        mut self,
        store: MetricsStore,
        sender: tokio::sync::broadcast::Sender<Prediction>,
        mut made: impl FnMut(&Prediction),
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticks.tick() => {
                    for prediction in self.step(&store) {
                        made(&prediction);
                        let _ = sender.send(prediction);
                    }
                }
            }
        }
    }
}

/// The limit the plan gives metric `name`: a threshold on it (`<`/`<=`: rising to the value,
/// `>`/`>=`: falling to it), else for `R.memory` the smallest `limit` of a `memory_limit` fault
/// on `R`.
fn plan_limit(plan: &Plan, name: &str) -> Option<(f64, i8)> {
    let threshold = plan.thresholds.iter().find_map(|t| {
        if t.metric.to_string() != name {
            return None;
        }
        match t.op {
            Comparator::Lt | Comparator::Le => Some((t.value, 1)),
            Comparator::Gt | Comparator::Ge => Some((t.value, -1)),
            _ => None,
        }
    });
    if threshold.is_some() {
        return threshold;
    }
    let source = name.strip_suffix(".memory")?;
    plan.faults
        .iter()
        .filter(|f| f.kind == "memory_limit" && f.target == source)
        .filter_map(|f| match f.params.get("limit") {
            Some(crate::plan::Value::Size(bytes)) => Some(*bytes),
            _ => None,
        })
        .min_by(f64::total_cmp)
        .map(|limit| (limit, 1))
}

/// `confidence = (Q + A) / 2` (see the module documentation).
pub fn confidence(quality: f64, anomaly: f64) -> f64 {
    ((quality.clamp(0.0, 1.0) + anomaly.clamp(0.0, 1.0)) / 2.0).clamp(0.0, 1.0)
}

fn direction(tracked: &Tracked) -> String {
    match tracked.reading.map(|r| r.direction) {
        Some(Direction::Rising) => "rising",
        Some(Direction::Falling) => "falling",
        _ => "flat",
    }
    .to_string()
}

/// The block's detector parameters with the run-time defaults (module documentation) for
/// those it does not set.
fn run_params(
    detector: &str,
    given: &[(String, f64)],
    baseline_samples: f64,
) -> Vec<(String, f64)> {
    let mut params = given.to_vec();
    let Some(spec) = registry::spec(detector) else {
        return params;
    };
    let warmup = (baseline_samples.floor() as usize).clamp(MIN_WARMUP, MAX_WARMUP) as f64;
    let defaults = [
        ("warmup", warmup),
        ("sustain", 8.0),
        ("hold", TREND_WINDOW as f64),
        ("level_window", 120.0),
    ];
    for (name, value) in defaults {
        if spec.param(name).is_some_and(|p| p.accepts(value))
            && !given.iter().any(|(k, _)| k == name)
        {
            params.push((name.to_string(), value));
        }
    }
    params
}

/// Every assignment of `resources` to `params` (one empty assignment without parameters).
fn assignments(params: &[String], resources: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for _ in params {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                resources.iter().map(move |r| {
                    let mut next = prefix.clone();
                    next.push(r.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// `condition` with each parameter replaced by its resource.
fn bind(condition: &ConditionPlan, params: &[String], values: &[String]) -> ConditionPlan {
    let metric = |m: &MetricRef| -> MetricRef {
        match params.iter().position(|p| *p == m.source) {
            Some(i) if m.source_kind == SourceKind::Param => MetricRef {
                source: values[i].clone(),
                source_kind: SourceKind::Resource,
                metric: m.metric.clone(),
            },
            _ => m.clone(),
        }
    };
    match condition {
        ConditionPlan::Compare {
            metric: m,
            op,
            value,
        } => ConditionPlan::Compare {
            metric: metric(m),
            op: *op,
            value: *value,
        },
        ConditionPlan::Trend { metric: m, trend } => ConditionPlan::Trend {
            metric: metric(m),
            trend: *trend,
        },
        ConditionPlan::Not { inner } => ConditionPlan::Not {
            inner: Box::new(bind(inner, params, values)),
        },
        ConditionPlan::All { all } => ConditionPlan::All {
            all: all.iter().map(|c| bind(c, params, values)).collect(),
        },
        ConditionPlan::Any { any } => ConditionPlan::Any {
            any: any.iter().map(|c| bind(c, params, values)).collect(),
        },
    }
}

fn collect_metrics(condition: &ConditionPlan, out: &mut Vec<String>) {
    match condition {
        ConditionPlan::Compare { metric, .. } | ConditionPlan::Trend { metric, .. } => {
            out.push(metric.to_string());
        }
        ConditionPlan::Not { inner } => collect_metrics(inner, out),
        ConditionPlan::All { all: parts } | ConditionPlan::Any { any: parts } => {
            for part in parts {
                collect_metrics(part, out);
            }
        }
    }
}

/// Whether every metric `condition` reads on a bound source (`kinds`) is one that source has.
fn readable(condition: &ConditionPlan, kinds: &BTreeMap<String, SourceKind>) -> bool {
    let mut names = Vec::new();
    collect_metrics(condition, &mut names);
    names.iter().all(|name| {
        let Some((source, metric)) = name.split_once('.') else {
            return true;
        };
        let table = match kinds.get(source) {
            Some(SourceKind::Resource) => RESOURCE_METRICS,
            Some(SourceKind::Link) => LINK_METRICS,
            _ => return true,
        };
        table.iter().any(|(n, _)| *n == metric)
    })
}

fn first_source(condition: &ConditionPlan) -> Option<String> {
    let mut names = Vec::new();
    collect_metrics(condition, &mut names);
    names
        .first()
        .and_then(|n| n.split('.').next().map(str::to_string))
}

/// A condition's crisp and soft truth and the metrics it read (with whether it read their
/// trend).
struct Judged {
    holds: bool,
    soft: f64,
    read: Vec<(String, bool)>,
}

fn judge(condition: &ConditionPlan, metrics: &BTreeMap<String, Tracked>, alarm: f64) -> Judged {
    match condition {
        ConditionPlan::Compare { metric, op, value } => {
            let name = metric.to_string();
            let read = vec![(name.clone(), false)];
            let Some(last) = metrics.get(&name).and_then(|t| t.last) else {
                return Judged {
                    holds: false,
                    soft: 0.0,
                    read,
                };
            };
            let holds = op.holds(last, *value);
            let soft = match op {
                Comparator::Eq | Comparator::Ne => f64::from(u8::from(holds)),
                _ => {
                    let margin = match op {
                        Comparator::Gt | Comparator::Ge => last - value,
                        _ => value - last,
                    };
                    let scale = if *value == 0.0 { 1.0 } else { value.abs() };
                    let soft = 0.5 + 0.5 * (margin / scale / 0.2).clamp(-1.0, 1.0);
                    // Keep the soft truth on the crisp side of 0.5 at the boundary.
                    if holds {
                        soft.max(0.5)
                    } else {
                        soft.min(0.499)
                    }
                }
            };
            Judged { holds, soft, read }
        }
        ConditionPlan::Trend { metric, trend } => {
            let name = metric.to_string();
            let Some(tracked) = metrics.get(&name).filter(|t| t.last.is_some()) else {
                return Judged {
                    holds: false,
                    soft: 0.0,
                    read: vec![(name, *trend != TrendWord::Anomalous)],
                };
            };
            let reading = tracked.reading;
            let tau = reading.map_or(0.0, |r| r.strength * r.z.signum());
            let dir = reading.map_or(Direction::Flat, |r| r.direction);
            let (holds, soft) = match trend {
                TrendWord::Rising | TrendWord::Falling => {
                    let (wanted, tau) = if *trend == TrendWord::Rising {
                        (Direction::Rising, tau)
                    } else {
                        (Direction::Falling, -tau)
                    };
                    let holds = dir == wanted && tau >= STEADY;
                    let soft = if holds {
                        0.5 + 0.5 * tau.clamp(0.0, 1.0)
                    } else {
                        0.5 * tau.clamp(0.0, 0.998)
                    };
                    (holds, soft)
                }
                TrendWord::Flat => {
                    let holds = dir == Direction::Flat;
                    let calm = 1.0 - tau.abs().min(1.0);
                    (
                        holds,
                        if holds {
                            0.5 + 0.5 * calm
                        } else {
                            0.5 * calm.min(0.998)
                        },
                    )
                }
                TrendWord::Anomalous => {
                    let a = tracked.anomaly();
                    let holds = a >= alarm;
                    let soft = if holds {
                        0.5 + 0.5 * ((a - alarm) / (1.0 - alarm).max(1e-9)).clamp(0.0, 1.0)
                    } else {
                        0.5 * (a / alarm.max(1e-9)).clamp(0.0, 0.998)
                    };
                    (holds, soft)
                }
            };
            Judged {
                holds,
                soft,
                read: vec![(name, *trend != TrendWord::Anomalous)],
            }
        }
        ConditionPlan::Not { inner } => {
            let inner = judge(inner, metrics, alarm);
            Judged {
                holds: !inner.holds,
                soft: 1.0 - inner.soft,
                read: inner.read,
            }
        }
        ConditionPlan::All { all: parts } | ConditionPlan::Any { any: parts } => {
            let all = matches!(condition, ConditionPlan::All { .. });
            let mut holds = all;
            let mut soft: f64 = if all { 1.0 } else { 0.0 };
            let mut read = Vec::new();
            for part in parts {
                let judged = judge(part, metrics, alarm);
                if all {
                    holds &= judged.holds;
                    soft = soft.min(judged.soft);
                } else {
                    holds |= judged.holds;
                    soft = soft.max(judged.soft);
                }
                read.extend(judged.read);
            }
            Judged { holds, soft, read }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_text;

    fn plan(text: &str) -> Plan {
        let checked = check_text(std::path::Path::new("live.pfi"), text);
        match checked.plan {
            Some(plan) => plan,
            None => panic!("{:?}", checked.diagnostics),
        }
    }

    const SCENARIO: &str = r#"
import "std/patterns"
experiment "x" { duration 1m; baseline 5s }
resource api: process ["pfi-demo", "api"]
resource db: process ["pfi-demo", "backend"]
predict {
  watch api.memory, db.memory
  use memory_leak
  confidence >= 0.6
}
"#;

    /// Feeds `memory(i)` and a flat CPU for `n` samples every 250 ms; returns the predictions.
    fn feed(
        live: &mut PredictionLoop,
        store: &MetricsStore,
        n: usize,
        memory: impl Fn(usize) -> f64,
    ) -> Vec<(usize, Prediction)> {
        let mut out = Vec::new();
        for i in 0..n {
            let at = Duration::from_millis(250 * i as u64 + 1);
            let wobble = ((i * 7919) % 13) as f64;
            store.record("api.memory", at, memory(i) + wobble * 4096.0);
            store.record("api.cpu", at, 0.02 + wobble * 0.001);
            store.record("db.memory", at, 20e6 + wobble * 4096.0);
            store.record("db.cpu", at, 0.01 + wobble * 0.001);
            out.extend(live.step_at(store, at).into_iter().map(|p| (i, p)));
        }
        out
    }

    impl PredictionLoop {
        /// `step`, with the time the store's clock would show replaced by `at`.
        fn step_at(&mut self, store: &MetricsStore, at: Duration) -> Vec<Prediction> {
            let mut made = self.step(store);
            for p in &mut made {
                p.at_ms = at.as_secs_f64() * 1000.0;
            }
            made
        }
    }

    /// `SCENARIO` with a memory threshold on the API (its limit) and the given block lines.
    fn limited(extra: &str) -> Plan {
        plan(
            &SCENARIO
                .replace(
                    "  confidence >= 0.6\n",
                    &format!("  confidence >= 0.6\n{extra}"),
                )
                .replace("predict {", "threshold api.memory < 200MiB\npredict {"),
        )
    }

    #[test]
    fn a_prediction_carries_the_time_to_the_limit_and_its_interval() {
        let store = MetricsStore::new();
        let mut live = PredictionLoop::new(&limited("")).unwrap().unwrap();
        // Flat at 30 MB for 15 s, then +1 MiB per sample (4 MiB/s): 200 MiB at sample ~218.
        let memory = |i: usize| 30e6 + (i.saturating_sub(60) as f64) * 1_048_576.0;
        let made = feed(&mut live, &store, 120, memory);
        assert_eq!(made.len(), 1, "{made:#?}");
        let (i, p) = &made[0];
        let c = p.expected.unwrap_or_else(|| panic!("no forecast in {p:?}"));
        let limit = 200.0 * 1_048_576.0;
        assert_eq!(c.limit, limit);
        let truth = ((limit - 30e6) / 1_048_576.0 + 60.0 - *i as f64) * 0.25;
        assert!(
            c.low_secs <= truth * 1.2 && truth * 0.8 <= c.high_secs,
            "truth {truth} s outside {c:?}"
        );
        assert!(
            (c.eta_secs - truth).abs() < 0.25 * truth,
            "{c:?} vs {truth}"
        );
    }

    #[test]
    fn with_a_horizon_the_prediction_waits_for_the_limit_to_be_in_reach() {
        let store = MetricsStore::new();
        let mut live = PredictionLoop::new(&limited("  horizon 20s\n"))
            .unwrap()
            .unwrap();
        let memory = |i: usize| 30e6 + (i.saturating_sub(60) as f64) * 1_048_576.0;
        let made = feed(&mut live, &store, 240, memory);
        assert_eq!(made.len(), 1, "{made:#?}");
        let (i, p) = &made[0];
        let c = p.expected.unwrap_or_else(|| panic!("no forecast"));
        assert!(c.eta_secs <= 20.0, "{c:?}");
        // The limit is reached at sample ~222; predicted within 20 s (80 samples) of it, and
        // not much later than that.
        assert!((130..222).contains(i), "predicted at sample {i}");
    }

    #[test]
    fn binds_patterns_to_watched_resources_and_reads_their_metrics() {
        let live = PredictionLoop::new(&plan(SCENARIO)).unwrap().unwrap();
        assert_eq!(
            live.bindings(),
            vec![
                ("memory_leak".to_string(), "api".to_string()),
                ("memory_leak".to_string(), "db".to_string())
            ]
        );
        assert_eq!(
            live.metrics(),
            vec!["api.cpu", "api.memory", "db.cpu", "db.memory"]
        );
        assert_eq!(live.interval(), Duration::from_millis(250));
        let params = run_params("ensemble", &[("hold".into(), 5.0)], 20.0);
        assert!(params.contains(&("warmup".into(), 20.0)));
        assert!(params.contains(&("hold".into(), 5.0)));
        assert!(!params.contains(&("hold".into(), TREND_WINDOW as f64)));
    }

    #[test]
    fn a_leak_is_predicted_once_on_its_resource_and_flat_memory_never() {
        let store = MetricsStore::new();
        let mut live = PredictionLoop::new(&plan(SCENARIO)).unwrap().unwrap();
        // 15 s flat at 30 MB, then +1 MiB per sample.
        let made = feed(&mut live, &store, 120, |i| {
            30e6 + (i.saturating_sub(60) as f64) * 1_048_576.0
        });
        assert_eq!(made.len(), 1, "{made:#?}");
        let (i, p) = &made[0];
        assert!(*i > 60 && *i < 80, "predicted at sample {i}");
        assert_eq!(
            (p.kind.as_str(), p.resource.as_str()),
            ("memory_leak", "api")
        );
        assert!(p.confidence >= 0.6 && p.confidence <= 1.0, "{p:?}");
        let memory = p.signals.iter().find(|s| s.metric == "api.memory").unwrap();
        assert_eq!(memory.trend.as_deref(), Some("rising"));
        assert!(memory.anomaly >= ALARM);
        assert!(p.signals.iter().any(|s| s.metric == "api.cpu"));

        let quiet = MetricsStore::new();
        let mut live = PredictionLoop::new(&plan(SCENARIO)).unwrap().unwrap();
        assert!(feed(&mut live, &quiet, 200, |_| 30e6).is_empty());
    }

    #[test]
    fn link_patterns_bind_to_watched_links_and_predict_a_degrading_dependency() {
        let text = r#"
import "std/patterns"
experiment "x" { duration 1m; baseline 5s }
resource api: process ["pfi-demo", "api"]
resource backend: process ["pfi-demo", "backend"]
link api_backend: http 127.0.0.1:17991 -> backend:17992
predict {
  watch api.memory, api_backend.latency
  use memory_leak, dependency_degradation, connection_exhaustion
  confidence >= 0.6
}
"#;
        let mut live = PredictionLoop::new(&plan(text)).unwrap().unwrap();
        // memory_leak reads `.memory` and `.cpu`, which a link has not; the link patterns read
        // link metrics, which a process has not.
        assert_eq!(
            live.bindings(),
            vec![
                ("memory_leak".to_string(), "api".to_string()),
                (
                    "dependency_degradation".to_string(),
                    "api_backend".to_string()
                ),
                (
                    "connection_exhaustion".to_string(),
                    "api_backend".to_string()
                ),
            ]
        );
        let store = MetricsStore::new();
        let mut made = Vec::new();
        for i in 0..160usize {
            let at = Duration::from_millis(250 * i as u64 + 1);
            let wobble = ((i * 7919) % 13) as f64;
            let worse = i.saturating_sub(60) as f64;
            store.record("api.memory", at, 30e6 + wobble * 4096.0);
            store.record("api.cpu", at, 0.02 + wobble * 0.001);
            store.record("api_backend.latency", at, 2.0 + wobble * 0.05 + worse * 3.0);
            store.record("api_backend.errors", at, (wobble % 2.0) + worse * 0.5);
            store.record("api_backend.error_rate", at, 0.001 * wobble + worse * 0.004);
            store.record("api_backend.connections", at, 4.0 + (wobble % 3.0));
            made.extend(live.step_at(&store, at).into_iter().map(|p| (i, p)));
        }
        assert_eq!(made.len(), 1, "{made:#?}");
        let (i, p) = &made[0];
        assert!(*i > 60, "predicted at sample {i}, before the degradation");
        assert_eq!(
            (p.kind.as_str(), p.resource.as_str()),
            ("dependency_degradation", "api_backend")
        );
    }

    #[test]
    fn soft_truth_follows_the_documented_rules() {
        let text = r#"
experiment "x" { duration 1m }
resource api: process ["pfi-demo", "api"]
pattern hot when api.cpu > 50% predicts cpu_starvation
pattern cold when not api.cpu > 50%
predict { watch api.cpu; use hot, cold; confidence >= 0 }
"#;
        let mut live = PredictionLoop::new(&plan(text)).unwrap().unwrap();
        let store = MetricsStore::new();
        store.record("api.cpu", Duration::from_millis(5), 0.55);
        let made = live.step(&store);
        assert_eq!(made.len(), 1, "{made:?}");
        // 10% over the limit: soft 0.75, Q 0.5; nothing anomalous yet (warm-up): A 0.
        assert_eq!(made[0].kind, "cpu_starvation");
        assert!((made[0].confidence - 0.25).abs() < 1e-9, "{made:?}");
        assert_eq!(confidence(1.0, 1.0), 1.0);
        assert_eq!(confidence(0.0, 0.0), 0.0);
    }
}

//! `Contender`: what the precursor benchmark scores on a labelled corpus — a registered detector
//! (optionally told each series' limit, as a run tells `forecast` a resource's limit) or the
//! rolling z-score baseline — and the corpus-wide figures of its scores ([`evaluate`],
//! [`events`]), shared by `cargo bench --bench precursors` and `pfi detect --precursors`.

use super::early_warning::{EarlyWarning, Rules, SeriesVerdict, judge_with};
use super::precursor_corpus::LabelledSeries;
use super::rolling_z::RollingZ;
use super::{Detector, DetectorError, build};

/// A scorer of labelled series.
#[derive(Debug, Clone, PartialEq)]
pub enum Contender {
    /// The rolling z-score over the last `window_secs`.
    Baseline { window_secs: f64 },
    /// A registered detector with `params` (its `warmup` is set from the rules unless given);
    /// with `limit`, also `limit` = the series' limit, `direction 1` and `horizon`.
    Registered {
        name: String,
        params: Vec<(String, f64)>,
        limit: Option<f64>,
    },
}

impl Contender {
    pub fn label(&self) -> String {
        match self {
            Contender::Baseline { window_secs } => {
                format!(
                    "rolling z ({}), baseline",
                    super::crossing::human_secs(*window_secs)
                )
            }
            Contender::Registered {
                name,
                limit: Some(_),
                ..
            } => format!("{name} (limit given)"),
            Contender::Registered { name, .. } => name.clone(),
        }
    }

    /// The score of every sample of `series`.
    pub fn scores(&self, series: &LabelledSeries, rules: Rules) -> Result<Vec<f64>, DetectorError> {
        match self {
            Contender::Baseline { window_secs } => {
                let mut z = RollingZ::new(*window_secs);
                Ok(series
                    .samples
                    .iter()
                    .map(|(t, v)| z.update(*t, *v))
                    .collect())
            }
            Contender::Registered {
                name,
                params,
                limit,
            } => {
                let mut all = params.clone();
                if !all.iter().any(|(k, _)| k == "warmup") {
                    let step = if series.step > 0.0 { series.step } else { 1.0 };
                    all.push(("warmup".to_string(), (rules.warmup_secs / step).ceil()));
                }
                if let Some(horizon) = limit {
                    all.retain(|(k, _)| !matches!(k.as_str(), "limit" | "direction" | "horizon"));
                    all.push(("limit".to_string(), series.limit));
                    all.push(("direction".to_string(), 1.0));
                    all.push(("horizon".to_string(), *horizon));
                }
                let mut d: Box<dyn Detector> = build(name, &all)?;
                Ok(series
                    .samples
                    .iter()
                    .map(|(t, v)| d.update(*t, *v))
                    .collect())
            }
        }
    }
}

/// The early-warning figures of `scores` (one vector per series) at `threshold`.
pub fn evaluate(
    rules: Rules,
    corpus: &[LabelledSeries],
    scores: &[Vec<f64>],
    threshold: f64,
) -> EarlyWarning {
    let verdicts: Vec<SeriesVerdict> = corpus
        .iter()
        .zip(scores)
        .map(|(s, sc)| judge_with(rules, s, sc, threshold))
        .collect();
    EarlyWarning::new(corpus, &verdicts)
}

/// `(score, did the fault come within horizon_secs)` for every scored sample of `series` (after
/// the warm-up, up to its fault).
pub fn events(
    rules: Rules,
    series: &LabelledSeries,
    scores: &[f64],
    horizon_secs: f64,
) -> Vec<(f64, f64)> {
    let start = series.samples.first().map_or(0.0, |s| s.0);
    series
        .samples
        .iter()
        .zip(scores)
        .filter(|((t, _), _)| *t - start >= rules.warmup_secs)
        .filter(|((t, _), _)| series.fault.is_none_or(|f| *t <= f))
        .map(|((t, _), p)| {
            let hit = series.fault.is_some_and(|f| f - t <= horizon_secs);
            (*p, if hit { 1.0 } else { 0.0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(fault: Option<f64>) -> LabelledSeries {
        // 0..60 s at 1 s; flat at 10 then, when it fails, rising 1 a second from 30 s to 40.
        let samples: Vec<(f64, f64)> = (0..=if fault.is_some() { 40 } else { 60 })
            .map(|i| {
                let t = f64::from(i);
                let bump = if fault.is_some() {
                    (t - 30.0).max(0.0)
                } else {
                    0.0
                };
                (t, 10.0 + bump + 0.01 * f64::from(i % 3))
            })
            .collect();
        LabelledSeries {
            name: "r".into(),
            shape: "leak".into(),
            samples,
            limit: 20.0,
            onset: fault.map(|_| 30.0),
            fault,
            step: 1.0,
        }
    }

    #[test]
    fn a_forecast_with_the_limit_warns_before_the_fault_and_events_count_the_horizon() {
        let rules = Rules {
            warmup_secs: 10.0,
            quiet_secs: 5.0,
        };
        let corpus = [ramp(Some(40.0)), ramp(None)];
        let forecast = Contender::Registered {
            name: "forecast".into(),
            params: vec![("tau".into(), 10.0), ("min_samples".into(), 6.0)],
            limit: Some(10.0),
        };
        assert_eq!(forecast.label(), "forecast (limit given)");
        let scores: Vec<Vec<f64>> = corpus
            .iter()
            .map(|s| forecast.scores(s, rules).unwrap())
            .collect();
        let e = evaluate(rules, &corpus, &scores, 0.5);
        assert_eq!((e.faults, e.warned, e.false_alarms), (1, 1, 0), "{e:?}");
        assert!(e.leads[0] > 0.0, "{e:?}");
        let ev = events(rules, &corpus[0], &scores[0], 5.0);
        // Scored from 10 s to the fault at 40 s; the fault is within 5 s from 35 s on.
        assert_eq!(ev.len(), 31);
        assert_eq!(ev.iter().filter(|(_, o)| *o == 1.0).count(), 6);
        let baseline = Contender::Baseline { window_secs: 10.0 };
        assert!(
            baseline
                .scores(&corpus[1], rules)
                .unwrap()
                .iter()
                .all(|s| *s < 0.67)
        );
        let unknown = Contender::Registered {
            name: "nope".into(),
            params: vec![],
            limit: None,
        };
        assert!(unknown.scores(&corpus[0], rules).is_err());
    }
}

//! `EarlyWarning`: how well alarms warn of faults ahead of time, over a labelled corpus.
//!
//! The rules, fixed before any detector was scored:
//! - an *alarm* is a sample whose score is at least the threshold and that follows at least
//!   [`QUIET_SECS`] without one (a detector that stays above the threshold for an hour raises one
//!   alarm, as an operator deduplicating pages would see it);
//! - samples of the first [`WARMUP_SECS`] of a series are not scored (detectors learn there);
//! - on a series that fails, the first alarm in `[onset, fault]` is the *warning*; its lead time
//!   is `fault − alarm`; every alarm before the onset is a *false alarm*;
//! - on a series that does not fail, every alarm is a false alarm;
//! - precision = warnings / (warnings + false alarms), recall = warned faults / faults, F1 their
//!   harmonic mean; false alarms per day are counted over the corpus' total duration.

use super::precursor_corpus::LabelledSeries;

/// Alarms closer than this to the previous above-threshold sample are the same alarm.
pub const QUIET_SECS: f64 = 600.0;
/// The start of every series that is not scored.
pub const WARMUP_SECS: f64 = 3600.0;

/// The two durations of the rules, per corpus: a generated corpus of hours-long series uses
/// [`Rules::GENERATED`]; a corpus recorded from `pfi run`s of a minute uses its own (stated in
/// its `labels.json`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// The start of every series that is not scored.
    pub warmup_secs: f64,
    /// Alarms closer than this to the previous above-threshold sample are the same alarm.
    pub quiet_secs: f64,
}

impl Rules {
    pub const GENERATED: Rules = Rules {
        warmup_secs: WARMUP_SECS,
        quiet_secs: QUIET_SECS,
    };
}

/// The verdict on one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesVerdict {
    pub false_alarms: usize,
    /// The warning's lead time in seconds, when a fault was warned of.
    pub lead_secs: Option<f64>,
}

/// Judges the scores of one series at `threshold` with the generated corpus' rules.
pub fn judge(series: &LabelledSeries, scores: &[f64], threshold: f64) -> SeriesVerdict {
    judge_with(Rules::GENERATED, series, scores, threshold)
}

/// Judges the scores of one series at `threshold` with `rules`.
pub fn judge_with(
    rules: Rules,
    series: &LabelledSeries,
    scores: &[f64],
    threshold: f64,
) -> SeriesVerdict {
    let start = series.samples.first().map_or(0.0, |s| s.0);
    let mut last_high: Option<f64> = None;
    let mut verdict = SeriesVerdict {
        false_alarms: 0,
        lead_secs: None,
    };
    for ((t, _), score) in series.samples.iter().zip(scores) {
        if *t - start < rules.warmup_secs || *score < threshold {
            continue;
        }
        let new = last_high.is_none_or(|at| t - at > rules.quiet_secs);
        last_high = Some(*t);
        if !new {
            continue;
        }
        match (series.onset, series.fault) {
            (Some(onset), Some(fault)) if *t >= onset && *t <= fault => {
                if verdict.lead_secs.is_none() {
                    verdict.lead_secs = Some(fault - t);
                }
            }
            (Some(onset), _) if *t >= onset => {}
            _ => verdict.false_alarms += 1,
        }
    }
    verdict
}

/// The figures of a whole corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyWarning {
    pub faults: usize,
    pub warned: usize,
    pub false_alarms: usize,
    pub days: f64,
    /// Lead times of the warnings, sorted.
    pub leads: Vec<f64>,
}

impl EarlyWarning {
    /// Sums the verdicts of every series (`series[i]` judged by `verdicts[i]`).
    pub fn new(series: &[LabelledSeries], verdicts: &[SeriesVerdict]) -> EarlyWarning {
        let mut leads: Vec<f64> = verdicts.iter().filter_map(|v| v.lead_secs).collect();
        leads.sort_by(f64::total_cmp);
        EarlyWarning {
            faults: series.iter().filter(|s| s.fault.is_some()).count(),
            warned: leads.len(),
            false_alarms: verdicts.iter().map(|v| v.false_alarms).sum(),
            days: series.iter().map(LabelledSeries::duration).sum::<f64>() / 86_400.0,
            leads,
        }
    }

    pub fn precision(&self) -> f64 {
        let alarms = self.warned + self.false_alarms;
        if alarms == 0 {
            0.0
        } else {
            self.warned as f64 / alarms as f64
        }
    }

    pub fn recall(&self) -> f64 {
        if self.faults == 0 {
            0.0
        } else {
            self.warned as f64 / self.faults as f64
        }
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// The `q` quantile of the lead times (nearest rank), seconds.
    pub fn lead_quantile(&self, q: f64) -> Option<f64> {
        if self.leads.is_empty() {
            return None;
        }
        let rank = ((q * self.leads.len() as f64).ceil() as usize).clamp(1, self.leads.len());
        Some(self.leads[rank - 1])
    }

    pub fn false_alarms_per_day(&self) -> f64 {
        if self.days > 0.0 {
            self.false_alarms as f64 / self.days
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(onset: Option<f64>, fault: Option<f64>, n: usize) -> LabelledSeries {
        LabelledSeries {
            name: "s".into(),
            shape: "leak".into(),
            samples: (0..n).map(|i| (i as f64 * 60.0, 0.0)).collect(),
            limit: 1.0,
            onset,
            fault,
            step: 60.0,
        }
    }

    #[test]
    fn alarms_are_deduplicated_and_judged_by_the_window() {
        // 3 h at one sample a minute; the precursor starts at 2 h, the fault at 2 h 50.
        let s = series(Some(7200.0), Some(10_200.0), 171);
        let mut scores = vec![0.0; 171];
        scores[10] = 1.0; // in the warm-up: ignored
        scores[70] = 1.0; // a false alarm
        scores[71] = 1.0; // the same alarm
        scores[130] = 0.9; // the warning: 7800 s, lead 2400 s
        scores[140] = 0.9; // after the warning: neither
        let v = judge(&s, &scores, 0.5);
        assert_eq!(
            v,
            SeriesVerdict {
                false_alarms: 1,
                lead_secs: Some(2400.0)
            }
        );
        let quiet = series(None, None, 1440);
        let mut scores = vec![0.0; 1440];
        for i in [100, 105, 200, 400] {
            scores[i] = 0.7;
        }
        let v2 = judge(&quiet, &scores, 0.5);
        assert_eq!(v2.false_alarms, 3);
        let all = EarlyWarning::new(&[s, quiet], &[v, v2]);
        assert_eq!((all.faults, all.warned, all.false_alarms), (1, 1, 4));
        assert!((all.precision() - 0.2).abs() < 1e-12);
        assert_eq!(all.recall(), 1.0);
        assert_eq!(all.lead_quantile(0.5), Some(2400.0));
        assert!((all.days - (171.0 + 1440.0) / 1440.0).abs() < 1e-9);
    }
}

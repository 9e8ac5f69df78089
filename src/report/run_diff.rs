//! Two runs side by side (`pfi report A B`): the same scenario with another seed or another
//! build. Every threshold, probe phase and risk scenario that both runs have, before and
//! after, and whether it got worse.
//!
//! Worse: a threshold that went from pass to fail, or whose measured value moved towards
//! failing by more than 10%; a probe's p99 up by more than 10% (and 1 ms), its error rate up
//! by more than one percentage point; a scenario's risk up by more than one point.

use super::percent::{percent, value_in};
use super::run_record::RunRecord;
use super::summary::probe_rows;
use crate::plan::{Comparator, trim};

#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub label: String,
    pub before: String,
    pub after: String,
    pub change: String,
    pub worse: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunDiff {
    pub before: RunRecord,
    pub after: RunRecord,
    pub rows: Vec<DiffRow>,
}

impl RunDiff {
    pub fn new(before: RunRecord, after: RunRecord) -> RunDiff {
        let mut rows = Vec::new();
        for t in &after.thresholds {
            let Some(old) = before.thresholds.iter().find(|o| o.text == t.text) else {
                continue;
            };
            let show = |m: Option<f64>, passed: bool| {
                format!(
                    "{} {}",
                    if passed { "pass" } else { "FAIL" },
                    m.map_or("-".to_string(), |v| value_in(t.unit, v))
                )
            };
            let towards_failing = match (old.measured, t.measured) {
                (Some(a), Some(b)) => match t.op {
                    Comparator::Lt | Comparator::Le => b > a * 1.1 && b - a > 1e-9,
                    Comparator::Gt | Comparator::Ge => b < a / 1.1 && a - b > 1e-9,
                    Comparator::Eq | Comparator::Ne => false,
                },
                _ => false,
            };
            rows.push(DiffRow {
                label: format!("threshold {}", t.text),
                before: show(old.measured, old.passed),
                after: show(t.measured, t.passed),
                change: match (old.passed, t.passed) {
                    (true, false) => "now fails".to_string(),
                    (false, true) => "now passes".to_string(),
                    _ => change(old.measured, t.measured, |v| value_in(t.unit, v)),
                },
                worse: (old.passed && !t.passed) || (old.passed == t.passed && towards_failing),
            });
        }
        for probe in &after.probes {
            let Some(old) = before.probes.iter().find(|p| p.probe == probe.probe) else {
                continue;
            };
            let old_rows = probe_rows(&before, old);
            for (label, f) in probe_rows(&after, probe) {
                let Some((_, o)) = old_rows.iter().find(|(l, _)| *l == label) else {
                    continue;
                };
                rows.push(DiffRow {
                    label: format!("{} p99, {label}", probe.probe),
                    before: format!("{}ms", trim(o.p99_ms)),
                    after: format!("{}ms", trim(f.p99_ms)),
                    change: change(Some(o.p99_ms), Some(f.p99_ms), |v| format!("{}ms", trim(v))),
                    worse: f.p99_ms > o.p99_ms * 1.1 && f.p99_ms - o.p99_ms > 1.0,
                });
                rows.push(DiffRow {
                    label: format!("{} errors, {label}", probe.probe),
                    before: percent(o.error_rate),
                    after: percent(f.error_rate),
                    change: change(Some(o.error_rate), Some(f.error_rate), percent),
                    worse: f.error_rate - o.error_rate > 0.01,
                });
            }
        }
        for s in after.risk.scenarios.iter().filter(|s| s.observed) {
            let Some(old) = before.risk.scenarios.iter().find(|o| o.fault == s.fault) else {
                continue;
            };
            rows.push(DiffRow {
                label: format!("risk {}", s.fault),
                before: percent(old.risk),
                after: percent(s.risk),
                change: change(Some(old.risk), Some(s.risk), percent),
                worse: s.risk - old.risk > 0.01,
            });
        }
        RunDiff {
            before,
            after,
            rows,
        }
    }

    /// What got worse, in one line.
    pub fn headline(&self) -> String {
        let worse: Vec<&DiffRow> = self.rows.iter().filter(|r| r.worse).collect();
        match worse.as_slice() {
            [] => "Nothing got worse.".to_string(),
            [one] => format!("1 measure got worse: {} ({}).", one.label, one.change),
            [first, rest @ ..] => format!(
                "{} measures got worse, first {} ({}).",
                rest.len() + 1,
                first.label,
                first.change
            ),
        }
    }
}

fn change(before: Option<f64>, after: Option<f64>, show: impl Fn(f64) -> String) -> String {
    match (before, after) {
        (Some(a), Some(b)) if (b - a).abs() < 1e-12 => "same".to_string(),
        (Some(a), Some(b)) if b > a => format!("+{}", show(b - a)),
        (Some(a), Some(b)) => format!("-{}", show(a - b)),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_record;

    #[test]
    fn a_run_against_itself_has_nothing_worse() {
        let diff = RunDiff::new(sample_record(), sample_record());
        assert!(!diff.rows.is_empty());
        assert!(diff.rows.iter().all(|r| !r.worse), "{:?}", diff.rows);
        assert_eq!(diff.headline(), "Nothing got worse.");
    }

    #[test]
    fn a_threshold_that_now_fails_and_a_slower_phase_are_worse() {
        let mut after = sample_record();
        after.thresholds[0].measured = Some(1800.0);
        after.thresholds[0].passed = false;
        after.probes[0].under[0].1.p99_ms = 400.0;
        let diff = RunDiff::new(sample_record(), after);
        let worse: Vec<&str> = diff
            .rows
            .iter()
            .filter(|r| r.worse)
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(
            worse,
            vec![
                "threshold checkout.p99 < 1500ms",
                "checkout p99, under slow_backend"
            ]
        );
        assert!(diff.headline().starts_with("2 measures got worse"));
    }
}

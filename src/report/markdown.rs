//! Markdown of a run, made to be posted as a pull-request comment by a CI job: the verdict
//! and what failed, the thresholds, one small table per probe, the faults, the risk above
//! tolerance. Plain GitHub-flavoured Markdown, no HTML beyond `<details>`.

use super::percent::{percent, value_in};
use super::run_diff::RunDiff;
use super::run_record::RunRecord;
use super::summary::{probe_rows, risk_reason, seconds};
use crate::plan::{format_duration, trim};
use std::fmt::Write;

/// The Markdown of `record`.
pub fn markdown(record: &RunRecord) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### pfi: {} — {}\n",
        verdict(record.passed),
        cell(&record.experiment)
    );
    let _ = writeln!(md, "{}\n", cell(&record.headline()));
    let _ = writeln!(
        md,
        "Seed {} · {} · ran {} · run `{}` · `{}`\n",
        record.seed,
        record.ending,
        format_duration(record.wall_ms.round()),
        record.run_id,
        record.scenario
    );
    md.push_str("| | Threshold | Measured | Limit |\n|---|---|---|---|\n");
    for t in &record.thresholds {
        let measured = match t.measured {
            Some(v) => value_in(t.unit, v),
            None => t.note.clone().unwrap_or_else(|| "not measured".into()),
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {} |",
            match t.status() {
                "SKIP" => "⏭ skip",
                "INCONCLUSIVE" if t.passed => "❔ inconclusive",
                "PASS" => "✅ pass",
                _ => "❌ FAIL",
            },
            cell(&t.text),
            cell(&measured),
            cell(&t.limit_text())
        );
    }
    for probe in &record.probes {
        let _ = writeln!(
            md,
            "\n**Probe `{}`**\n\n| Checks | n | Errors | p50 | p99 | max |\n|---|--:|--:|--:|--:|--:|",
            cell(&probe.probe)
        );
        for (label, f) in probe_rows(record, probe) {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {}ms | {}ms | {}ms |",
                cell(&label),
                f.count,
                percent(f.error_rate),
                trim(f.p50_ms),
                trim(f.p99_ms),
                trim(f.max_ms)
            );
        }
    }
    if !record.faults.is_empty() {
        md.push_str("\n**Faults** (times since the run began)\n\n| Fault | On | Planned | Applied | Delay | Reverted |\n|---|---|--:|--:|--:|--:|\n");
        for f in &record.faults {
            let _ = writeln!(
                md,
                "| `{}` {} | {} | {} | {} | {} | {} |",
                cell(&f.fault),
                cell(&f.kind),
                cell(&f.target),
                seconds(f.planned_ms),
                f.applied_ms.map_or_else(
                    || format!("not applied: {}", cell(f.error.as_deref().unwrap_or("-"))),
                    seconds
                ),
                f.delay_ms.map_or("-".to_string(), |d| format!("{d:+.0}ms")),
                f.reverted_ms
                    .map_or_else(|| "at the end".to_string(), seconds)
            );
        }
    }
    let above: Vec<_> = record
        .risk
        .scenarios
        .iter()
        .filter(|s| s.observed && s.risk > s.tolerance)
        .collect();
    if !above.is_empty() {
        md.push_str("\n**Risk above tolerance** (probability of failure in production within 30 days)\n\n| Scenario | Risk | Tolerance | Why |\n|---|--:|--:|---|\n");
        for s in above {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                cell(&s.fault),
                percent(s.risk),
                percent(s.tolerance),
                cell(&risk_reason(s))
            );
        }
    }
    if !record.risk.suggestions.is_empty() {
        md.push_str("\n<details><summary>Remediation</summary>\n\n");
        for s in &record.risk.suggestions {
            let _ = writeln!(
                md,
                "- **{}** ({}): {}",
                cell(&s.fault),
                cell(&s.mode),
                cell(&s.text)
            );
        }
        md.push_str("\n</details>\n");
    }
    for e in &record.teardown_errors {
        let _ = writeln!(md, "\n⚠️ **Not undone:** {}", cell(e));
    }
    md
}

/// The Markdown of a comparison of two runs: what got worse from `diff.before` to `diff.after`.
pub fn markdown_diff(diff: &RunDiff) -> String {
    let mut md = String::new();
    let (a, b) = (&diff.before, &diff.after);
    let _ = writeln!(
        md,
        "### pfi: {} → {} — {}\n",
        verdict(a.passed),
        verdict(b.passed),
        cell(&b.experiment)
    );
    let _ = writeln!(
        md,
        "Before: run `{}` (seed {}). After: run `{}` (seed {}).\n",
        a.run_id, a.seed, b.run_id, b.seed
    );
    let _ = writeln!(md, "{}\n", cell(&diff.headline()));
    let changed: Vec<_> = diff.rows.iter().filter(|r| r.change != "same").collect();
    if changed.is_empty() {
        let _ = writeln!(md, "All {} measures are the same.", diff.rows.len());
        return md;
    }
    md.push_str("| Measure | Before | After | Change |\n|---|--:|--:|---|\n");
    for row in &changed {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {}{} |",
            cell(&row.label),
            cell(&row.before),
            cell(&row.after),
            if row.worse { "⚠️ worse " } else { "" },
            cell(&row.change)
        );
    }
    let same = diff.rows.len() - changed.len();
    if same > 0 {
        let _ = writeln!(md, "\n{same} other measures are the same.");
    }
    md
}

fn verdict(passed: bool) -> &'static str {
    if passed { "✅ PASSED" } else { "❌ FAILED" }
}

/// Text made safe for a table cell: pipes escaped, line breaks folded.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_record;

    #[test]
    fn the_markdown_of_the_sample_run() {
        insta::assert_snapshot!(markdown(&sample_record()));
    }

    #[test]
    fn an_inconclusive_threshold_is_neither_a_pass_nor_a_failure() {
        let mut record = sample_record();
        for t in &mut record.thresholds {
            t.passed = true;
        }
        let t = &mut record.thresholds[0];
        t.inconclusive = true;
        t.note = Some("inconclusive: 3 samples (at least 5 needed)".into());
        let md = markdown(&record);
        let n = record.thresholds.len();
        assert!(
            md.contains(&format!(
                "no threshold failed ({} passed, 1 inconclusive: too few samples)",
                n - 1
            )),
            "{md}"
        );
        assert!(md.contains("| ❔ inconclusive | `"), "{md}");
    }

    #[test]
    fn the_markdown_of_a_comparison() {
        let before = sample_record();
        let mut after = sample_record();
        after.seed = 8;
        after.run_id = "20261207-160000-0002".into();
        after.probes[0].under[1].1.p99_ms = 1800.0;
        after.thresholds[0].measured = Some(1800.0);
        after.thresholds[0].passed = false;
        insta::assert_snapshot!(markdown_diff(&RunDiff::new(before, after)));
    }
}

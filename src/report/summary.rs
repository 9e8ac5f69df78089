//! The terminal summary of a run (what `pfi run` prints on stdout). Every time is on the
//! run's clock, the one of the log lines (`[  5.20s] fault ... applied`).

use super::percent::percent;
use super::probe_record::Figures;
use super::run_record::RunRecord;
use crate::model::risk::{RiskReport, Verdict};
use crate::plan::{format_duration, trim};

/// The whole summary: the run, thresholds, faults, health, probes, predictions,
/// mitigations, what was not undone, the risk and the remediation.
pub fn summary(record: &RunRecord) -> String {
    let mut out = format!(
        "run {}: \"{}\" {} in {} (seed {})\n",
        record.run_id,
        record.experiment,
        record.ending,
        format_duration(record.wall_ms.round()),
        record.seed
    );
    out.push_str("times are since the run began, as in the log\n");
    out.push_str(&format!("\nthresholds: {}\n", record.thresholds.len()));
    for t in &record.thresholds {
        out.push_str(&format!(
            "  {}  {:<40} {}\n",
            t.status(),
            t.text,
            t.outcome()
        ));
    }
    let applied = record
        .faults
        .iter()
        .filter(|f| f.applied_ms.is_some())
        .count();
    out.push_str(&format!("\nfaults applied: {applied}\n"));
    for fault in &record.faults {
        let when = match (fault.applied_ms, &fault.error) {
            (Some(at), _) => format!(
                "at {} (planned {}, {:+.0}ms)",
                seconds(at),
                seconds(fault.planned_ms),
                fault.delay_ms.unwrap_or(0.0)
            ),
            (None, Some(err)) => format!("not applied: {err}"),
            (None, None) => "not applied".to_string(),
        };
        let reverted = match fault.reverted_ms {
            Some(at) => format!(", reverted at {}", seconds(at)),
            None if fault.applied_ms.is_some() => ", reverted at the end".to_string(),
            None => String::new(),
        };
        out.push_str(&format!(
            "  {:<16} {} on {} {when}{reverted}\n",
            fault.fault, fault.kind, fault.target
        ));
        if let Some(reason) = &fault.no_effect {
            out.push_str(&format!("    no observable effect: {reason}\n"));
        }
        if let Some(measured) = &fault.measured {
            out.push_str(&format!("    measured: {measured}\n"));
        }
    }
    out.push_str(&health_section(record));
    if !record.resource_events.is_empty() {
        out.push_str(&format!(
            "\nresource events: {}\n",
            record.resource_events.len()
        ));
    }
    for event in &record.resource_events {
        let why = match &event.explained_by {
            Some(reason) => format!("expected: {reason}"),
            None => "UNEXPECTED: fails the run".to_string(),
        };
        out.push_str(&format!(
            "  {} {} at {} ({why})\n",
            event.resource,
            event.what,
            seconds(event.at_ms)
        ));
    }
    out.push_str(&format!("\nprobes: {}\n", record.probes.len()));
    for probe in &record.probes {
        out.push_str(&format!("  {}\n", probe.probe));
        for (label, figures) in probe_rows(record, probe) {
            out.push_str(&format!("    {label:<24} {}\n", probe_line(figures)));
        }
    }
    if record.predicting || !record.predictions.is_empty() {
        out.push_str(&format!("\npredictions: {}\n", record.predictions.len()));
    }
    for p in &record.predictions {
        let came = match (p.lead_ms, &p.evidence) {
            (Some(lead), Some(evidence)) => format!(
                "happened at {} ({evidence}): lead time {}",
                seconds(p.happened_ms.unwrap_or(0.0)),
                format_duration(lead.round())
            ),
            _ => "did not happen during the run".to_string(),
        };
        let expected = p
            .expected
            .as_ref()
            .map_or(String::new(), |c| format!(", {c}"));
        out.push_str(&format!(
            "  {} on {} at {}, confidence {:.2}{expected} (pattern {}): {came}\n",
            p.kind,
            p.resource,
            seconds(p.at_ms),
            p.confidence,
            p.pattern
        ));
        for signal in &p.signals {
            let trend = signal
                .trend
                .as_deref()
                .map_or(String::new(), |t| format!(" {t}"));
            out.push_str(&format!(
                "      {} = {}{trend}, anomaly {:.2}\n",
                signal.metric,
                trim(signal.value),
                signal.anomaly
            ));
        }
    }
    if record.mitigation_rules > 0 || !record.mitigations.is_empty() {
        out.push_str(&format!("\nmitigations: {}\n", record.mitigations.len()));
    }
    for m in &record.mitigations {
        let prediction = match (&m.prediction, m.confidence) {
            (Some(p), Some(c)) => format!(", {p} at confidence {c:.2}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {} {} on {}{prediction}: {} {}\n",
            seconds(m.at_ms),
            m.action,
            m.trigger,
            if m.ok { "ok" } else { "FAILED" },
            m.outcome
        ));
    }
    for error in &record.teardown_errors {
        out.push_str(&format!("\nNOT UNDONE: {error}\n"));
    }
    out.push_str(&risk_summary(&record.risk));
    out
}

/// A time on the run's clock, as the log prints it (`5.20s`).
pub fn seconds(ms: f64) -> String {
    format!("{:.2}s", ms / 1000.0)
}

/// The rows of a probe's figures: the whole run, the declared warm-up, every check outside
/// the faults (warm-up, gaps and recovery), and under each fault.
pub fn probe_rows<'a>(
    record: &RunRecord,
    probe: &'a super::probe_record::ProbeRecord,
) -> Vec<(String, &'a Figures)> {
    let mut rows: Vec<(String, &Figures)> = Vec::new();
    if let Some(f) = &probe.overall {
        rows.push(("whole run".to_string(), f));
    }
    if let Some(f) = &probe.warmup {
        rows.push((
            format!("warm-up ({})", format_duration(record.warmup_ms)),
            f,
        ));
    }
    if let Some(f) = &probe.baseline {
        rows.push(("outside faults".to_string(), f));
    }
    for (fault, f) in &probe.under {
        rows.push((format!("under {fault}"), f));
    }
    rows
}

fn probe_line(s: &Figures) -> String {
    format!(
        "n={:<5} errors {:>5}  p50 {}ms  p99 {}ms  max {}ms",
        s.count,
        percent(s.error_rate),
        trim(s.p50_ms),
        trim(s.p99_ms),
        trim(s.max_ms)
    )
}

/// Why a scenario scored what it did, in the verdicts' words.
pub fn risk_reason(s: &crate::model::risk::ScenarioRisk) -> String {
    let mut why = Vec::new();
    if !s.thresholds_failed.is_empty() {
        why.push(format!("failed {}", s.thresholds_failed.join(", ")));
    }
    if !s.exceeded_under.is_empty() {
        why.push(format!(
            "under {} the checks broke the limit of {} (passed over the run)",
            s.fault,
            s.exceeded_under.join(", ")
        ));
    }
    if why.is_empty() {
        why.push(format!(
            "degradation {}, 95% interval {}-{} over {} checks",
            percent(s.failure),
            percent(s.failure_low),
            percent(s.failure_high),
            s.checks
        ));
    }
    why.join("; ")
}

/// The risk section of the summary.
fn risk_summary(risk: &RiskReport) -> String {
    let mut out = String::from("\nrisk (probability of failure in production within 30 days):\n");
    for s in &risk.scenarios {
        if !s.observed {
            out.push_str(&format!(
                "  {:<16} not observed in this run (probability {:.2}%)\n",
                s.fault,
                s.probability * 100.0
            ));
            continue;
        }
        out.push_str(&format!(
            "  {:<16} risk {:>6.2}% = probability {:.2}% × failure {:.2} ({}){}\n",
            s.fault,
            s.risk * 100.0,
            s.probability * 100.0,
            s.failure,
            risk_reason(s),
            match s.verdict_kind() {
                Verdict::Above => format!("  ABOVE tolerance {:.1}%", s.tolerance * 100.0),
                Verdict::Inconclusive => format!("  {}", s.verdict),
                Verdict::Within | Verdict::NotObserved => String::new(),
            }
        ));
    }
    for r in &risk.resources {
        out.push_str(&format!(
            "  resource {:<12} risk {:>6.2}%  (tolerance {:.1}%, {:?}){}\n",
            r.resource,
            r.risk * 100.0,
            r.tolerance * 100.0,
            r.criticality,
            if r.risk > r.tolerance { "  ABOVE" } else { "" }
        ));
    }
    if !risk.suggestions.is_empty() {
        out.push_str("\nremediation:\n");
        for s in &risk.suggestions {
            out.push_str(&format!(
                "  [{}] {} ({}, {}): {}\n",
                s.fault,
                s.resource.as_deref().unwrap_or("-"),
                s.mode,
                s.source,
                s.text
            ));
        }
    }
    out
}

/// Each watched resource's checks and unhealthy periods.
fn health_section(record: &RunRecord) -> String {
    if record.health.is_empty() {
        return String::new();
    }
    let mut out = format!("\nhealth: {}\n", record.health.len());
    for health in &record.health {
        let state = if health.unhealthy.is_empty() {
            "healthy throughout".to_string()
        } else {
            format!("unhealthy {} time(s)", health.unhealthy.len())
        };
        out.push_str(&format!(
            "  {:<16} {} checks, {} failed; {state}\n",
            health.resource, health.checks, health.failures
        ));
        for period in &health.unhealthy {
            let until = match period.until_ms {
                Some(until) => format!(
                    "to {} ({})",
                    seconds(until),
                    format_duration((until - period.from_ms).max(0.0).round())
                ),
                None => "to the end".to_string(),
            };
            out.push_str(&format!(
                "    unhealthy from {} {until}: {}\n",
                seconds(period.from_ms),
                period.detail
            ));
        }
    }
    out
}

/// The log line of an event: `[   5.20s] fault slow (latency on db) applied for 2s`.
pub fn event_line(event: &crate::run::RunEvent) -> String {
    log_line(event.at_ms, &event.kind)
}

/// A log line at `at_ms` on the run's clock: also the line of an event a `pfi serve` server
/// streams (it sends each event as the text it stores).
pub fn log_line(at_ms: f64, message: &dyn std::fmt::Display) -> String {
    format!("[{:>7.2}s] {message}", at_ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_event_line_prints_like_a_local_event() {
        let local = crate::run::RunEvent {
            at_ms: 5200.0,
            kind: crate::run::EventKind::ResourceStarting {
                resource: "api".into(),
            },
        };
        assert_eq!(event_line(&local), "[   5.20s] starting api");
        assert_eq!(log_line(5200.0, &"starting api"), event_line(&local));
    }
}

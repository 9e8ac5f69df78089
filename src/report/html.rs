//! The HTML report: one self-contained page (inline CSS and SVG, no script, no network),
//! readable on a laptop and printable. A header with the verdict and one line on what failed
//! and why; the fault timeline; per probe, latency (p50 and p99 per second) and error rate
//! over time with the fault windows shaded and labelled, the threshold limits drawn and the
//! warm-up baseline marked; resource and link telemetry on the same time axis; predictions
//! and mitigations as markers; then the tables: thresholds, faults planned against applied,
//! probe figures, predictions, mitigations, risk, remediation, health and the log.

use super::fault_timeline::fault_timeline;
use super::html_text::escape;
use super::percent::{percent, value_in};
use super::probe_record::{Check, ProbeRecord};
use super::run_diff::RunDiff;
use super::run_record::RunRecord;
use super::summary::{event_line, probe_rows, risk_reason, seconds};
use super::svg_chart::{Limit, Line, Marker, Scale, TimeChart, Unit, Window};
use super::threshold_record::ThresholdRecord;
use crate::plan::{MetricUnit, format_duration, trim};
use std::fmt::Write;

const MIB: f64 = 1_048_576.0;

/// The page's style sheet (the charts' classes among them), for a page that shows the
/// charts without the rest of the report (the service's live run page).
pub const CHART_STYLE: &str = STYLE;

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#111;background:#fff;max-width:1040px;margin:0 auto;padding:18px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:26px 0 8px;border-bottom:2px solid #222;padding-bottom:2px}h3{font-size:15px;margin:18px 0 6px}
.verdict{display:inline-block;padding:2px 10px;border:2px solid currentColor;border-radius:4px;font-weight:700;letter-spacing:.04em;margin-right:8px}
.pass{color:#166534}.fail{color:#991b1b}
.headline{font-size:16px;margin:8px 0;padding:8px 10px;border-left:5px solid currentColor;background:#f9fafb}
.meta{color:#374151}.meta span{margin-right:16px;white-space:nowrap}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}th,td{border-bottom:1px solid #d1d5db;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
svg.chart{display:block;margin:6px 0 12px;border:1px solid #e5e7eb}
svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:11px;fill:#1f2937}
svg .chart-title{font-size:13px;font-weight:600}svg .axis-label{font-size:11px;fill:#374151}
svg .window-label{font-size:10px;font-weight:600;fill:#111}svg .limit-label{font-size:10px;fill:#991b1b;font-weight:600}
svg .grid{stroke:#e5e7eb;stroke-width:1}svg .axis{stroke:#4b5563;stroke-width:1}
.key{font-size:12px;color:#374151}
pre.log{font-size:12px;background:#f9fafb;padding:8px;overflow-x:auto;white-space:pre-wrap}
footer{margin-top:30px;color:#6b7280;font-size:12px}
@media print{body{max-width:none;padding:0}h2{break-after:avoid}svg.chart,table{break-inside:avoid}details{display:block}details>*{display:block}}
";

/// The HTML page of `record`.
pub fn html(record: &RunRecord) -> String {
    let mut out = page_start(&format!("pfi report: {}", record.experiment));
    header(&mut out, record);
    body(&mut out, record, "r");
    page_end(&mut out, record);
    out
}

/// The HTML page comparing two runs: what got worse, then both runs' probe charts.
pub fn html_diff(diff: &RunDiff) -> String {
    let (a, b) = (&diff.before, &diff.after);
    let mut out = page_start(&format!("pfi comparison: {}", b.experiment));
    let _ = write!(
        out,
        "<header><h1>{}</h1><p><span class=\"verdict {}\">BEFORE {}</span> → <span class=\"verdict {}\">AFTER {}</span></p>\
         <p class=\"headline\">{}</p><p class=\"meta\"><span>before: run <code>{}</code>, seed {}, {}</span><span>after: run <code>{}</code>, seed {}, {}</span></p></header>",
        escape(&b.experiment),
        class(a.passed),
        word(a.passed),
        class(b.passed),
        word(b.passed),
        escape(&diff.headline()),
        escape(&a.run_id),
        a.seed,
        escape(&a.ending),
        escape(&b.run_id),
        b.seed,
        escape(&b.ending),
    );
    out.push_str("<section><h2>What changed</h2><table><thead><tr><th>Measure</th><th class=\"num\">Before</th><th class=\"num\">After</th><th>Change</th></tr></thead><tbody>");
    for row in &diff.rows {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}{}</td></tr>",
            if row.worse { "worse fail" } else { "same" },
            escape(&row.label),
            escape(&row.before),
            escape(&row.after),
            if row.worse {
                "<strong>worse</strong>: "
            } else {
                ""
            },
            escape(&row.change)
        );
    }
    out.push_str("</tbody></table></section>");
    for (name, record, id) in [("Before", a, "a"), ("After", b, "b")] {
        let _ = write!(
            out,
            "<section><h2>{name}: run {} (seed {})</h2>",
            escape(&record.run_id),
            record.seed
        );
        let end = end_ms(record);
        out.push_str(&fault_timeline(record, end, &format!("{id}-timeline")));
        for (i, probe) in record.probes.iter().enumerate() {
            for chart in probe_charts(record, probe, end) {
                out.push_str(&chart.svg(&format!("{id}-p{i}-{}", chart_id(&chart))));
            }
        }
        out.push_str("</section>");
    }
    page_end(&mut out, b);
    out
}

fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(title)
    )
}

fn page_end(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "<footer>Generated by pfi {} from a version {} journal. Times are seconds since the run began (the clock of the log). Latency is measured per check; per-second p50 and p99 are over the checks sent in that second.</footer></body></html>",
        escape(env!("CARGO_PKG_VERSION")),
        record.version
    );
}

fn class(passed: bool) -> &'static str {
    if passed { "pass" } else { "fail" }
}

fn word(passed: bool) -> &'static str {
    if passed { "PASSED" } else { "FAILED" }
}

fn header(out: &mut String, r: &RunRecord) {
    let _ = writeln!(
        out,
        "<header><h1>{exp}</h1><p><span class=\"verdict {c}\">{w}</span><span class=\"meta\">{ending}</span></p>\
         <p class=\"headline {c}\" id=\"headline\">{headline}</p>\
         <p class=\"meta\"><span>seed <strong>{seed}</strong></span><span>duration <strong>{dur}</strong></span><span>run <code>{id}</code></span><span>scenario <code>{file}</code></span><span>warm-up {warm}, faults for {faults}</span></p></header>",
        exp = escape(&r.experiment),
        c = class(r.passed),
        w = word(r.passed),
        ending = escape(&r.ending),
        headline = escape(&r.headline()),
        seed = r.seed,
        dur = format_duration(r.wall_ms.round()),
        id = escape(&r.run_id),
        file = escape(&r.scenario),
        warm = format_duration(r.warmup_ms),
        faults = format_duration(r.duration_ms),
    );
}

/// The end of every chart's time axis: the last thing the run recorded.
fn end_ms(r: &RunRecord) -> f64 {
    let last_check = r
        .probes
        .iter()
        .filter_map(|p| p.checks.last().map(|c| c.at_ms + c.latency_ms))
        .fold(0.0f64, f64::max);
    r.wall_ms.max(last_check)
}

fn body(out: &mut String, r: &RunRecord, id: &str) {
    let end = end_ms(r);
    out.push_str("<section><h2>Timeline</h2>");
    out.push_str(&fault_timeline(r, end, &format!("{id}-timeline")));
    out.push_str("<p class=\"key\">Shaded bands on the charts below are the faults' applied windows (each fault its own hatching); the dotted band is the warm-up baseline; red dash-dot lines are threshold limits (drawn only over a fault's windows for a <code>during</code> threshold); ▼ marks a prediction, ◆ a mitigation.</p></section>\n");
    for (i, probe) in r.probes.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"probe\" data-probe=\"{name}\"><h2>Probe <code>{name}</code></h2>",
            name = escape(&probe.probe)
        );
        if probe.checks.is_empty() {
            out.push_str("<p>No checks were recorded.</p>");
        }
        for chart in probe_charts(r, probe, end) {
            out.push_str(&chart.svg(&format!("{id}-p{i}-{}", chart_id(&chart))));
        }
        out.push_str(&figures_table(r, probe));
        out.push_str("</section>\n");
    }
    let telemetry = telemetry_charts(r, end);
    if !telemetry.is_empty() {
        out.push_str("<section><h2>Resources and links</h2>");
        for (i, chart) in telemetry.iter().enumerate() {
            out.push_str(&chart.svg(&format!("{id}-t{i}")));
        }
        out.push_str("</section>\n");
    }
    thresholds_table(out, r);
    faults_table(out, r);
    predictions_and_mitigations(out, r);
    risk_tables(out, r);
    health_and_teardown(out, r);
    out.push_str("<section><h2>Log</h2><details><summary>Every event of the run</summary><pre class=\"log\">");
    for e in &r.events {
        out.push_str(&escape(&event_line(e)));
        out.push('\n');
    }
    out.push_str("</pre></details></section>\n");
}

/// The charts of the report alone, for a run still running ([`RunRecord::live`]): the fault
/// timeline, each probe's latency and error rate, the telemetry; `id` prefixes the SVG ids.
pub fn live_charts(r: &RunRecord, id: &str) -> String {
    let end = end_ms(r);
    let mut out = String::from("<section><h2>Timeline</h2>");
    out.push_str(&fault_timeline(r, end, &format!("{id}-timeline")));
    out.push_str("</section>\n");
    for (i, probe) in r.probes.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"probe\" data-probe=\"{name}\"><h2>Probe <code>{name}</code></h2>",
            name = escape(&probe.probe)
        );
        if probe.checks.is_empty() {
            out.push_str("<p>No checks yet.</p>");
        }
        for chart in probe_charts(r, probe, end) {
            out.push_str(&chart.svg(&format!("{id}-p{i}-{}", chart_id(&chart))));
        }
        out.push_str("</section>\n");
    }
    let telemetry = telemetry_charts(r, end);
    if !telemetry.is_empty() {
        out.push_str("<section><h2>Resources and links</h2>");
        for (i, chart) in telemetry.iter().enumerate() {
            out.push_str(&chart.svg(&format!("{id}-t{i}")));
        }
        out.push_str("</section>\n");
    }
    out
}

fn chart_id(chart: &TimeChart) -> &'static str {
    if chart.unit == Unit::Ms {
        "latency"
    } else {
        "errors"
    }
}

/// The shaded windows of every applied fault, each fault with its own pattern.
fn windows(r: &RunRecord, end: f64) -> Vec<Window> {
    let mut names: Vec<&str> = Vec::new();
    r.faults
        .iter()
        .filter_map(|f| {
            let (from, to) = f.window(end)?;
            let style = match names.iter().position(|n| *n == f.fault) {
                Some(i) => i,
                None => {
                    names.push(&f.fault);
                    names.len() - 1
                }
            };
            Some(Window {
                fault: f.fault.clone(),
                from_ms: from,
                to_ms: to,
                style,
            })
        })
        .collect()
}

fn markers(r: &RunRecord) -> Vec<Marker> {
    let predictions = r.predictions.iter().map(|p| Marker {
        at_ms: p.at_ms,
        label: format!(
            "▼ predicted {} on {} (confidence {:.2}){}",
            p.kind,
            p.resource,
            p.confidence,
            p.lead_ms.map_or(String::new(), |l| format!(
                ", came true {} later",
                format_duration(l.round())
            ))
        ),
        class: "prediction",
    });
    let mitigations = r.mitigations.iter().map(|m| Marker {
        at_ms: m.at_ms,
        label: format!(
            "◆ {} on {}: {} {}",
            m.action,
            m.trigger,
            if m.ok { "ok" } else { "FAILED" },
            m.outcome
        ),
        class: "mitigation",
    });
    predictions.chain(mitigations).collect()
}

/// The spans where a threshold applies: its fault's windows for `during`, else the run.
fn spans(t: &ThresholdRecord, windows: &[Window]) -> Option<Vec<(f64, f64)>> {
    let fault = t.during.as_deref()?;
    Some(
        windows
            .iter()
            .filter(|w| w.fault == fault)
            .map(|w| (w.from_ms, w.to_ms))
            .collect(),
    )
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Per second: (mid-second ms, p50, p99, error rate) of the checks sent in it.
fn per_second(checks: &[Check]) -> Vec<(f64, f64, f64, f64)> {
    let mut buckets: std::collections::BTreeMap<i64, (Vec<f64>, usize)> = Default::default();
    for c in checks {
        let entry = buckets
            .entry((c.at_ms / 1000.0).floor() as i64)
            .or_default();
        entry.0.push(c.latency_ms);
        entry.1 += usize::from(!c.ok);
    }
    buckets
        .into_iter()
        .map(|(second, (mut latencies, errors))| {
            latencies.sort_by(f64::total_cmp);
            let n = latencies.len();
            (
                second as f64 * 1000.0 + 500.0,
                quantile(&latencies, 0.5),
                quantile(&latencies, 0.99),
                errors as f64 / n as f64,
            )
        })
        .collect()
}

fn probe_charts(r: &RunRecord, probe: &ProbeRecord, end: f64) -> Vec<TimeChart> {
    if probe.checks.is_empty() {
        return Vec::new();
    }
    let windows = windows(r, end);
    let seconds = per_second(&probe.checks);
    let warmup = r.ready_ms.map(|ready| (ready, ready + r.warmup_ms));
    let mut latency = TimeChart::new(
        &format!("{}: latency per second (p50, p99)", probe.probe),
        "latency (ms, log scale)",
        Unit::Ms,
        end,
    );
    latency.scale = Scale::Log;
    latency.description = format!(
        "Latency of probe {} per second: the median and the 99th percentile of the checks sent in each second, with fault windows shaded and latency thresholds drawn.",
        probe.probe
    );
    latency.lines = vec![
        Line {
            label: "p50".into(),
            points: seconds.iter().map(|s| (s.0, s.1)).collect(),
        },
        Line {
            label: "p99".into(),
            points: seconds.iter().map(|s| (s.0, s.2)).collect(),
        },
    ];
    let mut errors = TimeChart::new(
        &format!("{}: error rate per second", probe.probe),
        "failed checks (%)",
        Unit::Percent,
        end,
    );
    errors.description = format!(
        "Share of failed checks of probe {} per second, with fault windows shaded and error-rate thresholds drawn.",
        probe.probe
    );
    errors.lines = vec![Line {
        label: "error rate".into(),
        points: seconds.iter().map(|s| (s.0, s.3)).collect(),
    }];
    for t in r.thresholds.iter() {
        let (source, metric) = t.source_and_metric();
        if source != probe.probe {
            continue;
        }
        let spans = spans(t, &windows);
        match (t.unit, metric) {
            (MetricUnit::Milliseconds, _) => latency.limits.push(Limit {
                label: format!("{} (limit {})", t.text, value_in(t.unit, t.limit)),
                value: t.limit,
                spans,
                key: t.text.clone(),
            }),
            (MetricUnit::Fraction, "error_rate") => errors.limits.push(Limit {
                label: format!("{} (limit {})", t.text, percent(t.limit)),
                value: t.limit,
                spans,
                key: t.text.clone(),
            }),
            (MetricUnit::Fraction, "availability") => errors.limits.push(Limit {
                label: format!("{} (errors at most {})", t.text, percent(1.0 - t.limit)),
                value: 1.0 - t.limit,
                spans,
                key: t.text.clone(),
            }),
            _ => {}
        }
    }
    let markers = markers(r);
    let mut charts = vec![latency, errors];
    for chart in &mut charts {
        chart.windows = windows
            .iter()
            .map(|w| Window {
                fault: w.fault.clone(),
                ..*w
            })
            .collect();
        chart.warmup = warmup;
        chart.markers = markers
            .iter()
            .map(|m| Marker {
                label: m.label.clone(),
                ..*m
            })
            .collect();
    }
    charts
}

/// One chart per telemetry metric (cpu, memory, connections, ...), every source of it a line.
fn telemetry_charts(r: &RunRecord, end: f64) -> Vec<TimeChart> {
    let probes: Vec<&str> = r.probes.iter().map(|p| p.probe.as_str()).collect();
    // The resource and link metrics a reader needs, and any other a threshold judges.
    let judged: Vec<&str> = r
        .thresholds
        .iter()
        .map(|t| t.source_and_metric().1)
        .collect();
    let wanted = |m: &str| {
        matches!(m, "cpu" | "memory" | "connections" | "error_rate") || judged.contains(&m)
    };
    let mut metrics: Vec<&str> = Vec::new();
    for s in &r.telemetry {
        if probes.contains(&s.source()) || s.points.is_empty() || !wanted(s.metric()) {
            continue;
        }
        if !metrics.contains(&s.metric()) {
            metrics.push(s.metric());
        }
    }
    let order = |m: &str| match m {
        "cpu" => 0,
        "memory" => 1,
        "connections" => 2,
        "error_rate" | "errors" => 3,
        "latency" => 4,
        _ => 5,
    };
    metrics.sort_by_key(|m| order(m));
    let windows = windows(r, end);
    let warmup = r.ready_ms.map(|ready| (ready, ready + r.warmup_ms));
    metrics
        .into_iter()
        .map(|metric| {
            let (unit, label) = match metric {
                "cpu" => (Unit::Percent, "CPU (% of one core)"),
                "memory" => (Unit::Plain, "resident memory (MiB)"),
                "error_rate" => (Unit::Percent, "error rate (%)"),
                "latency" => (Unit::Ms, "latency (ms)"),
                "io_read" | "io_write" | "bytes" => (Unit::Plain, "bytes"),
                _ => (Unit::Plain, metric),
            };
            let mut chart = TimeChart::new(&format!("{metric} over time"), label, unit, end);
            chart.height = 200.0;
            chart.description = format!("Telemetry `{metric}` of every resource and link that reports it, with fault windows shaded.");
            chart.lines = r
                .telemetry
                .iter()
                .filter(|s| s.metric() == metric && !probes.contains(&s.source()))
                .map(|s| Line {
                    label: s.source().to_string(),
                    // Memory is plotted in MiB, so the ticks are round numbers of MiB.
                    points: if metric == "memory" {
                        s.points.iter().map(|&(t, v)| (t, v / MIB)).collect()
                    } else {
                        s.points.clone()
                    },
                })
                .collect();
            for t in &r.thresholds {
                let (source, m) = t.source_and_metric();
                if m == metric && chart.lines.iter().any(|l| l.label == source) {
                    chart.limits.push(Limit {
                        label: format!("{} (limit {})", t.text, value_in(t.unit, t.limit)),
                        value: if metric == "memory" {
                            t.limit / MIB
                        } else {
                            t.limit
                        },
                        spans: spans(t, &windows),
                        key: t.text.clone(),
                    });
                }
            }
            chart.windows = windows
                .iter()
                .map(|w| Window {
                    fault: w.fault.clone(),
                    ..*w
                })
                .collect();
            chart.warmup = warmup;
            chart
        })
        .collect()
}

fn figures_table(r: &RunRecord, probe: &ProbeRecord) -> String {
    let mut out = String::from(
        "<table class=\"figures\"><thead><tr><th>Checks</th><th class=\"num\">n</th><th class=\"num\">errors</th><th class=\"num\">p50</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead><tbody>",
    );
    for (label, f) in probe_rows(r, probe) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}ms</td><td class=\"num\">{}ms</td><td class=\"num\">{}ms</td></tr>",
            escape(&label),
            f.count,
            percent(f.error_rate),
            trim(f.p50_ms),
            trim(f.p99_ms),
            trim(f.max_ms)
        );
    }
    out.push_str("</tbody></table><p class=\"key\">Warm-up: the checks of the declared baseline, before any fault. Outside faults: every check that overlapped no fault (the warm-up, gaps between faults and the recovery after them).</p>");
    out
}

fn thresholds_table(out: &mut String, r: &RunRecord) {
    let _ = write!(
        out,
        "<section><h2>Thresholds ({} of {} passed)</h2><table><thead><tr><th>Verdict</th><th>Threshold as written</th><th class=\"num\">Measured</th><th>Limit judged</th></tr></thead><tbody>",
        r.thresholds.iter().filter(|t| t.passed).count(),
        r.thresholds.len()
    );
    for t in &r.thresholds {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td><strong>{}</strong></td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
            class(t.passed),
            t.status(),
            escape(&t.text),
            escape(&match t.measured {
                Some(v) => value_in(t.unit, v),
                None => t.note.clone().unwrap_or_else(|| "not measured".into()),
            }),
            escape(&t.limit_text())
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn faults_table(out: &mut String, r: &RunRecord) {
    out.push_str("<section><h2>Faults: planned and applied</h2>");
    if r.faults.is_empty() {
        out.push_str("<p>No fault fired.</p></section>\n");
        return;
    }
    out.push_str("<table><thead><tr><th>Fault</th><th>Kind</th><th>On</th><th class=\"num\">Planned</th><th class=\"num\">Applied</th><th class=\"num\">Delay</th><th class=\"num\">Reverted</th><th>Detail</th></tr></thead><tbody>");
    for f in &r.faults {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{} for {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&f.fault),
            escape(&f.kind),
            escape(&f.target),
            seconds(f.planned_ms),
            format_duration(f.planned_duration_ms),
            f.applied_ms.map_or("not applied".to_string(), seconds),
            f.delay_ms.map_or("-".to_string(), |d| format!("{d:+.0}ms")),
            match (f.applied_ms, f.reverted_ms) {
                (_, Some(at)) => seconds(at),
                (Some(_), None) => "at the end".to_string(),
                (None, None) => "-".to_string(),
            },
            escape(f.error.as_deref().unwrap_or(&f.detail))
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn predictions_and_mitigations(out: &mut String, r: &RunRecord) {
    if r.predicting || !r.predictions.is_empty() {
        let _ = write!(
            out,
            "<section><h2>Predictions ({})</h2>",
            r.predictions.len()
        );
        if !r.predictions.is_empty() {
            out.push_str("<table><thead><tr><th class=\"num\">At</th><th>Predicted</th><th class=\"num\">Confidence</th><th>Pattern</th><th>Outcome</th></tr></thead><tbody>");
            for p in &r.predictions {
                let _ = write!(
                    out,
                    "<tr><td class=\"num\">{}</td><td>{} on {}</td><td class=\"num\">{:.2}</td><td>{}</td><td>{}</td></tr>",
                    seconds(p.at_ms),
                    escape(&p.kind),
                    escape(&p.resource),
                    p.confidence,
                    escape(&p.pattern),
                    escape(&match (p.happened_ms, p.lead_ms, &p.evidence) {
                        (Some(at), Some(lead), Some(e)) => format!(
                            "happened at {} ({e}): time to failure {}",
                            seconds(at),
                            format_duration(lead.round())
                        ),
                        _ => "did not happen during the run".to_string(),
                    })
                );
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("</section>\n");
    }
    if r.mitigation_rules > 0 || !r.mitigations.is_empty() {
        let _ = write!(
            out,
            "<section><h2>Mitigations ({})</h2>",
            r.mitigations.len()
        );
        if !r.mitigations.is_empty() {
            out.push_str("<table><thead><tr><th class=\"num\">At</th><th>Action</th><th>Trigger</th><th>Outcome</th></tr></thead><tbody>");
            for m in &r.mitigations {
                let _ = write!(
                    out,
                    "<tr class=\"{}\"><td class=\"num\">{}</td><td>{}</td><td>{}{}</td><td><strong>{}</strong> {}</td></tr>",
                    class(m.ok),
                    seconds(m.at_ms),
                    escape(&m.action),
                    escape(&m.trigger),
                    escape(&match (&m.prediction, m.confidence) {
                        (Some(p), Some(c)) => format!(" ({p}, confidence {c:.2})"),
                        _ => String::new(),
                    }),
                    if m.ok { "ok" } else { "FAILED" },
                    escape(&m.outcome)
                );
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("</section>\n");
    }
}

fn risk_tables(out: &mut String, r: &RunRecord) {
    let risk = &r.risk;
    if risk.scenarios.is_empty() && risk.resources.is_empty() {
        return;
    }
    out.push_str("<section><h2>Risk: probability of failure in production within 30 days</h2><table><thead><tr><th>Scenario</th><th class=\"num\">Probability</th><th class=\"num\">Failure</th><th class=\"num\">Risk</th><th class=\"num\">Tolerance</th><th>Why</th></tr></thead><tbody>");
    for s in &risk.scenarios {
        if !s.observed {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td colspan=\"4\">not observed in this run</td></tr>",
                escape(&s.fault),
                percent(s.probability)
            );
            continue;
        }
        let above = s.risk > s.tolerance;
        let _ = write!(
            out,
            "<tr class=\"{}\"><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\"><strong>{}</strong>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            class(!above),
            escape(&s.fault),
            percent(s.probability),
            s.failure,
            percent(s.risk),
            if above { " ABOVE" } else { "" },
            percent(s.tolerance),
            escape(&risk_reason(s))
        );
    }
    for res in &risk.resources {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>resource <code>{}</code> ({:?})</td><td></td><td></td><td class=\"num\"><strong>{}</strong>{}</td><td class=\"num\">{}</td><td>all scenarios that reach it</td></tr>",
            class(res.risk <= res.tolerance),
            escape(&res.resource),
            res.criticality,
            percent(res.risk),
            if res.risk > res.tolerance {
                " ABOVE"
            } else {
                ""
            },
            percent(res.tolerance)
        );
    }
    out.push_str("</tbody></table>");
    if !risk.suggestions.is_empty() {
        out.push_str("<h3>Remediation</h3><ul>");
        for s in &risk.suggestions {
            let _ = write!(
                out,
                "<li><strong>{}</strong> on {} ({}, from {}): {}</li>",
                escape(&s.fault),
                escape(s.resource.as_deref().unwrap_or("-")),
                escape(&s.mode),
                escape(&s.source),
                escape(&s.text)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>\n");
}

fn health_and_teardown(out: &mut String, r: &RunRecord) {
    if !r.health.is_empty() {
        out.push_str("<section><h2>Health</h2><table><thead><tr><th>Resource</th><th>Check</th><th class=\"num\">Checks</th><th class=\"num\">Failed</th><th>Unhealthy</th></tr></thead><tbody>");
        for h in &r.health {
            let periods: Vec<String> = h
                .unhealthy
                .iter()
                .map(|u| {
                    format!(
                        "{} to {}: {}",
                        seconds(u.from_ms),
                        u.until_ms.map_or("the end".to_string(), seconds),
                        u.detail
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&h.resource),
                escape(&h.check),
                h.checks,
                h.failures,
                if periods.is_empty() {
                    "healthy throughout".to_string()
                } else {
                    escape(&periods.join("; "))
                }
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    if !r.teardown_errors.is_empty() {
        out.push_str("<section><h2 class=\"fail\">Not undone</h2><ul>");
        for e in &r.teardown_errors {
            let _ = write!(out, "<li class=\"fail\">{}</li>", escape(e));
        }
        out.push_str("</ul></section>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_record;
    use scraper::{Html, Selector};

    fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
        let selector = Selector::parse(css).unwrap();
        doc.select(&selector).collect()
    }

    fn number(e: &scraper::ElementRef, attr: &str) -> f64 {
        e.value().attr(attr).unwrap().parse().unwrap()
    }

    #[test]
    fn every_fault_window_threshold_line_and_marker_of_a_known_run_is_drawn() {
        let record = sample_record();
        let doc = Html::parse_document(&html(&record));
        // The verdict and what failed, in words.
        let headline = select(&doc, "#headline")[0].text().collect::<String>();
        assert!(
            headline.contains("checkout.error_rate < 5% failed: measured 50%"),
            "{headline}"
        );
        assert_eq!(
            select(&doc, ".verdict.fail")[0].text().collect::<String>(),
            "FAILED"
        );
        // Both probe charts shade the three applied windows, labelled, in time order.
        for chart in ["#r-p0-latency", "#r-p0-errors"] {
            let windows = select(&doc, &format!("{chart} g.fault-window"));
            let faults: Vec<&str> = windows
                .iter()
                .map(|w| w.value().attr("data-fault").unwrap())
                .collect();
            assert_eq!(
                faults,
                vec!["slow_backend", "freeze", "slow_backend"],
                "{chart}"
            );
            let rects = select(&doc, &format!("{chart} g.fault-window rect"));
            let xs: Vec<f64> = rects.iter().map(|r| number(r, "x")).collect();
            assert!(xs[0] < xs[2] && xs[2] < xs[1], "{xs:?}");
            let labels = select(&doc, &format!("{chart} g.fault-window text"));
            assert_eq!(labels[1].text().collect::<String>(), "freeze");
            assert_eq!(select(&doc, &format!("{chart} g.warmup")).len(), 1);
            // A prediction and a mitigation marker on every chart.
            assert_eq!(
                select(&doc, &format!("{chart} g.prediction-marker")).len(),
                1
            );
            assert_eq!(
                select(&doc, &format!("{chart} g.mitigation-marker")).len(),
                1
            );
            assert!(!select(&doc, &format!("{chart} title")).is_empty());
        }
        // The latency limits on the latency chart: the run-wide one across the run, the
        // `during` one only over slow_backend's two windows.
        let lines = |chart: &str, key: &str| {
            select(
                &doc,
                &format!("{chart} g.threshold-line[data-threshold=\"{key}\"] line"),
            )
        };
        assert_eq!(lines("#r-p0-latency", "checkout.p99 < 1500ms").len(), 1);
        let during = lines("#r-p0-latency", "checkout.p99 < 250ms during slow_backend");
        assert_eq!(during.len(), 2);
        let windows = select(&doc, "#r-p0-latency g.fault-window rect");
        assert_eq!(number(&during[0], "x1"), number(&windows[0], "x"));
        assert_eq!(lines("#r-p0-errors", "checkout.error_rate < 5%").len(), 1);
        assert_eq!(
            lines("#r-p0-errors", "checkout.availability > 90% abort").len(),
            1
        );
        // The fault timeline: planned and applied per activation, the prediction's
        // confidence and the mitigation's outcome in their titles.
        assert_eq!(select(&doc, "#r-timeline rect.planned").len(), 3);
        assert_eq!(select(&doc, "#r-timeline rect.applied").len(), 3);
        let prediction = select(&doc, "#r-timeline g.prediction-marker title")[0]
            .text()
            .collect::<String>();
        assert!(prediction.contains("confidence 0.82"), "{prediction}");
        let mitigation = select(&doc, "#r-timeline g.mitigation-marker title")[0]
            .text()
            .collect::<String>();
        assert!(
            mitigation.contains("alert on predicted(stall)"),
            "{mitigation}"
        );
        // Telemetry on the same axis, memory in MiB.
        assert!(!select(&doc, "svg[id^=r-t] path.series").is_empty());
        // Self-contained: no script, no external reference.
        let text = html(&record);
        assert!(!text.contains("<script"));
        assert!(!text.contains(" src="));
        assert!(!text.contains("href="));
        assert_eq!(
            text.matches("http").count(),
            text.matches("http://www.w3.org/2000/svg").count()
        );
        // Risk and remediation tables.
        let risk = select(&doc, "td")
            .iter()
            .map(|t| t.text().collect::<String>())
            .collect::<Vec<_>>()
            .join("|");
        assert!(
            risk.contains("under slow_backend the checks broke the limit"),
            "{risk}"
        );
        assert!(risk.contains("50%"), "{risk}");
    }

    #[test]
    fn per_second_figures_use_the_checks_sent_in_that_second() {
        let checks = [
            Check {
                at_ms: 100.0,
                latency_ms: 2.0,
                ok: true,
            },
            Check {
                at_ms: 900.0,
                latency_ms: 10.0,
                ok: false,
            },
            Check {
                at_ms: 1100.0,
                latency_ms: 4.0,
                ok: true,
            },
        ];
        assert_eq!(
            per_second(&checks),
            vec![(500.0, 2.0, 10.0, 0.5), (1500.0, 4.0, 4.0, 0.0)]
        );
    }
}

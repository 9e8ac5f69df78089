//! The fault timeline as SVG, on the charts' time axis: one row per fired activation, the
//! planned interval outlined and the applied one filled (the gap between their starts is
//! the delay), then a row of predictions (triangles) and one of mitigations (diamonds).

use super::html_text::escape;
use super::run_record::RunRecord;
use super::svg_chart::{LEFT, RIGHT, WIDTH, nice_step, seconds};
use crate::plan::{format_duration, trim};
use std::fmt::Write;

const ROW: f64 = 22.0;
const TOP: f64 = 28.0;

pub fn fault_timeline(record: &RunRecord, end_ms: f64, id: &str) -> String {
    let end_ms = end_ms.max(1.0);
    let x = |ms: f64| LEFT + (ms.clamp(0.0, end_ms) / end_ms) * (WIDTH - LEFT - RIGHT);
    let rows = record.faults.len() + 2;
    let height = TOP + ROW * rows as f64 + 36.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart timeline\" id=\"{id}\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">Fault timeline</title><desc id=\"{id}-desc\">Each fault activation: planned (outlined) and applied (filled), with predictions and mitigations below, in seconds since the run began.</desc>\
         <defs><pattern id=\"{id}-fill\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fdba74\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#9a3412\" stroke-width=\"1.2\"/></pattern></defs>\
         <text class=\"chart-title\" x=\"{LEFT}\" y=\"16\">Fault timeline: planned (outline) and applied (filled)</text>"
    );
    if let Some(ready) = record.ready_ms {
        let (a, b) = (x(ready), x(ready + record.warmup_ms));
        let _ = write!(
            s,
            "<g class=\"warmup\"><rect x=\"{a}\" y=\"{TOP}\" width=\"{w}\" height=\"{h}\" fill=\"#f3f4f6\"/><text class=\"window-label\" x=\"{tx}\" y=\"{ty}\">warm-up</text></g>",
            w = (b - a).max(0.5),
            h = ROW * rows as f64,
            tx = a + 3.0,
            ty = TOP + ROW * rows as f64 - 4.0,
        );
    }
    for (i, f) in record.faults.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let label = format!("{} ({} on {})", f.fault, f.kind, f.target);
        let _ = write!(
            s,
            "<text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\
             <rect class=\"planned\" x=\"{px}\" y=\"{y1}\" width=\"{pw}\" height=\"{h}\" fill=\"none\" stroke=\"#333\" stroke-dasharray=\"4 2\"><title>{label} planned at {ps} for {pd}</title></rect>",
            tx = LEFT - 6.0,
            ty = y + 15.0,
            name = escape(&f.fault),
            px = x(f.planned_ms),
            y1 = y + 3.0,
            pw = (x(f.planned_ms + f.planned_duration_ms) - x(f.planned_ms)).max(1.0),
            h = ROW - 6.0,
            label = escape(&label),
            ps = seconds(f.planned_ms),
            pd = format_duration(f.planned_duration_ms),
        );
        match f.window(end_ms) {
            Some((from, to)) => {
                let _ = write!(
                    s,
                    "<rect class=\"applied\" data-fault=\"{name}\" x=\"{ax}\" y=\"{y1}\" width=\"{aw}\" height=\"{h}\" fill=\"url(#{id}-fill)\" stroke=\"#9a3412\"><title>{label} applied at {a} ({delay} after plan), reverted at {r}</title></rect>",
                    name = escape(&f.fault),
                    ax = x(from),
                    y1 = y + 7.0,
                    aw = (x(to) - x(from)).max(1.5),
                    h = ROW - 14.0,
                    label = escape(&label),
                    a = seconds(from),
                    delay = f.delay_ms.map_or("-".to_string(), |d| format!("{d:+.0}ms")),
                    r = f.reverted_ms.map_or("the end".to_string(), seconds),
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text class=\"tick not-applied\" x=\"{tx}\" y=\"{ty}\">not applied: {why}</text>",
                    tx = x(f.planned_ms) + 4.0,
                    ty = y + 15.0,
                    why = escape(f.error.as_deref().unwrap_or("-")),
                );
            }
        }
    }
    let py = TOP + ROW * record.faults.len() as f64;
    let _ = write!(
        s,
        "<text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">predictions</text><text class=\"tick\" x=\"{tx}\" y=\"{ty2}\" text-anchor=\"end\">mitigations</text>",
        tx = LEFT - 6.0,
        ty = py + 15.0,
        ty2 = py + ROW + 15.0,
    );
    for p in &record.predictions {
        let px = x(p.at_ms);
        let _ = write!(
            s,
            "<g class=\"prediction-marker\" data-kind=\"{kind}\"><path d=\"M{a:.1},{t0} L{b:.1},{t0} L{px:.1},{t1} Z\" fill=\"#6b21a8\"/><title>predicted {kind} on {res} at {at}, confidence {c:.2}{came}</title></g>",
            kind = escape(&p.kind),
            res = escape(&p.resource),
            a = px - 6.0,
            b = px + 6.0,
            t0 = py + 5.0,
            t1 = py + 17.0,
            at = seconds(p.at_ms),
            c = p.confidence,
            came = escape(&match p.lead_ms {
                Some(lead) => format!("; came true {} later", format_duration(lead.round())),
                None => "; did not happen".to_string(),
            }),
        );
    }
    for m in &record.mitigations {
        let mx = x(m.at_ms);
        let my = py + ROW + 11.0;
        let _ = write!(
            s,
            "<g class=\"mitigation-marker\" data-action=\"{action}\"><path d=\"M{mx:.1},{t0} L{b:.1},{my} L{mx:.1},{t1} L{a:.1},{my} Z\" fill=\"{fill}\" stroke=\"#0e7490\" stroke-width=\"1.5\"/><title>{action} on {trigger} at {at}: {ok} {outcome}</title></g>",
            action = escape(&m.action),
            trigger = escape(&m.trigger),
            a = mx - 6.0,
            b = mx + 6.0,
            t0 = my - 6.0,
            t1 = my + 6.0,
            fill = if m.ok { "#ffffff" } else { "#0e7490" },
            at = seconds(m.at_ms),
            ok = if m.ok { "ok" } else { "FAILED" },
            outcome = escape(&m.outcome),
        );
    }
    let bottom = TOP + ROW * rows as f64;
    let step = nice_step(end_ms / 1000.0, 10) * 1000.0;
    let mut t = 0.0;
    while t <= end_ms + 1e-6 {
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{xt}\" x2=\"{xt}\" y1=\"{TOP}\" y2=\"{bottom}\"/><text class=\"tick\" x=\"{xt}\" y=\"{ty}\" text-anchor=\"middle\">{label}s</text>",
            xt = x(t),
            ty = bottom + 14.0,
            label = trim(t / 1000.0),
        );
        t += step;
    }
    let _ = write!(
        s,
        "<text class=\"axis-label\" x=\"{mx}\" y=\"{ly}\" text-anchor=\"middle\">time since the run began (s)</text></svg>",
        mx = (LEFT + WIDTH - RIGHT) / 2.0,
        ly = height - 4.0,
    );
    s
}

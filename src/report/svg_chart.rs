//! Hand-written SVG charts on the run's time axis: lines, shaded fault windows with their
//! labels, the warm-up marked, threshold limits, prediction and mitigation markers. Every
//! chart shares the x axis (seconds since the run began), has a title, a description, axis
//! labels with units, and tells its series apart by dash pattern and marker shape as well as
//! colour, so it survives grey-scale printing.

use super::html_text::escape;
use crate::plan::trim;
use std::fmt::Write;

pub const WIDTH: f64 = 960.0;
pub const LEFT: f64 = 118.0;
pub const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

/// Line styles, in order: colour and dash pattern (distinct in grey scale too).
const STYLES: [(&str, &str); 6] = [
    ("#1f4e9c", ""),
    ("#c2410c", "6 3"),
    ("#15803d", "2 3"),
    ("#6b21a8", "10 3 2 3"),
    ("#0e7490", "1 2"),
    ("#444444", "14 4"),
];
/// Fill patterns of fault windows, in order (hatching differs, so grey scale tells them apart).
pub const WINDOW_PATTERNS: usize = 4;

/// How values map to the y axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    /// Base 10; values ≤ 0 are drawn at the bottom.
    Log,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Limit {
    pub label: String,
    pub value: f64,
    /// Where the limit applies (ms); `None`: the whole run.
    pub spans: Option<Vec<(f64, f64)>>,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub fault: String,
    pub from_ms: f64,
    pub to_ms: f64,
    /// Index of the fault (its pattern).
    pub style: usize,
}

#[derive(Debug, Clone)]
pub struct Marker {
    pub at_ms: f64,
    pub label: String,
    /// `prediction` or `mitigation`.
    pub class: &'static str,
}

/// A chart over `[0, end_ms]`.
pub struct TimeChart {
    pub title: String,
    pub description: String,
    pub y_label: String,
    pub unit: Unit,
    pub scale: Scale,
    pub height: f64,
    pub end_ms: f64,
    pub warmup: Option<(f64, f64)>,
    pub windows: Vec<Window>,
    pub lines: Vec<Line>,
    pub limits: Vec<Limit>,
    pub markers: Vec<Marker>,
}

/// How a y value prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Ms,
    Percent,
    Plain,
}

impl Unit {
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{}ms", trim(round_sig(v))),
            Unit::Percent => format!("{}%", trim(round_sig(v * 100.0))),
            Unit::Plain => trim(round_sig(v)),
        }
    }
}

fn round_sig(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return 0.0;
    }
    let digits = 3 - v.abs().log10().ceil() as i32;
    let factor = 10f64.powi(digits.clamp(-6, 6));
    (v * factor).round() / factor
}

impl TimeChart {
    pub fn new(title: &str, y_label: &str, unit: Unit, end_ms: f64) -> TimeChart {
        TimeChart {
            title: title.to_string(),
            description: String::new(),
            y_label: y_label.to_string(),
            unit,
            scale: Scale::Linear,
            height: 230.0,
            end_ms: end_ms.max(1.0),
            warmup: None,
            windows: Vec::new(),
            lines: Vec::new(),
            limits: Vec::new(),
            markers: Vec::new(),
        }
    }

    fn x(&self, ms: f64) -> f64 {
        LEFT + (ms.clamp(0.0, self.end_ms) / self.end_ms) * (WIDTH - LEFT - RIGHT)
    }

    /// The y range: from 0 (linear) or the smallest positive value (log) to the largest
    /// value or limit, with room above.
    fn range(&self) -> (f64, f64) {
        let values = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .chain(self.limits.iter().map(|l| l.value))
            .filter(|v| v.is_finite());
        match self.scale {
            Scale::Linear => {
                let max = values.fold(0.0f64, f64::max);
                let max = if max <= 0.0 {
                    1.0
                } else {
                    nice_ceiling(max * 1.08)
                };
                (0.0, max)
            }
            Scale::Log => {
                let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
                for v in values.filter(|v| *v > 0.0) {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
                if !lo.is_finite() {
                    return (1.0, 10.0);
                }
                let lo = 10f64.powf(lo.log10().floor());
                let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
                (lo, hi)
            }
        }
    }

    fn y(&self, v: f64, (lo, hi): (f64, f64)) -> f64 {
        let bottom = self.height - BOTTOM;
        let span = bottom - TOP;
        let t = match self.scale {
            Scale::Linear => (v - lo) / (hi - lo),
            Scale::Log if v <= 0.0 => 0.0,
            Scale::Log => (v.log10() - lo.log10()) / (hi.log10() - lo.log10()),
        };
        bottom - t.clamp(0.0, 1.0) * span
    }

    fn y_ticks(&self, (lo, hi): (f64, f64)) -> Vec<f64> {
        match self.scale {
            Scale::Linear => {
                let step = nice_step(hi - lo, 5);
                (0..=((hi - lo) / step).round() as usize)
                    .map(|i| lo + step * i as f64)
                    .collect()
            }
            Scale::Log => {
                let decades = (hi.log10() - lo.log10()).round() as i32;
                let mut ticks = Vec::new();
                for d in 0..=decades {
                    let base = lo * 10f64.powi(d);
                    ticks.push(base);
                    if decades <= 2 && d < decades {
                        ticks.push(base * 2.0);
                        ticks.push(base * 5.0);
                    }
                }
                ticks
            }
        }
    }

    /// The chart as an `<svg>` element.
    pub fn svg(&self, id: &str) -> String {
        let range = self.range();
        let (top, bottom) = (TOP, self.height - BOTTOM);
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {WIDTH} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
             <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
            h = self.height,
            title = escape(&self.title),
            desc = escape(&self.description),
        );
        s.push_str(&patterns(id));
        let _ = write!(
            s,
            "<text class=\"chart-title\" x=\"{LEFT}\" y=\"16\">{}</text>",
            escape(&self.title)
        );
        if let Some((from, to)) = self.warmup {
            let _ = write!(
                s,
                "<g class=\"warmup\"><rect x=\"{x}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" fill=\"url(#{id}-dots)\"><title>warm-up baseline: {from_s} to {to_s}</title></rect>\
                 <text class=\"window-label\" x=\"{tx}\" y=\"{ty}\">warm-up (baseline)</text></g>",
                x = self.x(from),
                w = (self.x(to) - self.x(from)).max(0.5),
                h = bottom - top,
                from_s = seconds(from),
                to_s = seconds(to),
                tx = self.x(from) + 3.0,
                ty = top + 11.0,
            );
        }
        for w in &self.windows {
            let (x0, x1) = (self.x(w.from_ms), self.x(w.to_ms));
            let _ = write!(
                s,
                "<g class=\"fault-window\" data-fault=\"{fault}\"><rect x=\"{x0}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" fill=\"url(#{id}-hatch{p})\" stroke=\"#555\" stroke-width=\"0.6\"><title>{fault}: {from} to {to}</title></rect>\
                 <text class=\"window-label\" x=\"{tx}\" y=\"{ty}\">{fault}</text></g>",
                fault = escape(&w.fault),
                w = (x1 - x0).max(1.0),
                h = bottom - top,
                p = w.style % WINDOW_PATTERNS,
                from = seconds(w.from_ms),
                to = seconds(w.to_ms),
                tx = x0 + 2.0,
                ty = top + 11.0 + 11.0 * (w.style % 2) as f64,
            );
        }
        // Axes and grid.
        for tick in self.y_ticks(range) {
            let y = self.y(tick, range);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\"/><text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>",
                x2 = WIDTH - RIGHT,
                tx = LEFT - 6.0,
                ty = y + 4.0,
                label = escape(&self.unit.show(tick)),
            );
        }
        let step = nice_step(self.end_ms / 1000.0, 10) * 1000.0;
        let mut t = 0.0;
        while t <= self.end_ms + 1e-6 {
            let x = self.x(t);
            let _ = write!(
                s,
                "<line class=\"axis\" x1=\"{x}\" x2=\"{x}\" y1=\"{bottom}\" y2=\"{y2}\"/><text class=\"tick\" x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{label}s</text>",
                y2 = bottom + 4.0,
                ty = bottom + 16.0,
                label = trim(t / 1000.0),
            );
            t += step;
        }
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{bottom}\" y2=\"{bottom}\"/><line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{top}\" y2=\"{bottom}\"/>\
             <text class=\"axis-label\" x=\"{mx}\" y=\"{ly}\" text-anchor=\"middle\">time since the run began (s)</text>\
             <text class=\"axis-label\" transform=\"translate(14 {my}) rotate(-90)\" text-anchor=\"middle\">{yl}</text>",
            x2 = WIDTH - RIGHT,
            mx = (LEFT + WIDTH - RIGHT) / 2.0,
            ly = self.height - 6.0,
            my = (top + bottom) / 2.0,
            yl = escape(&self.y_label),
        );
        for (i, line) in self.lines.iter().enumerate() {
            let (colour, dash) = STYLES[i % STYLES.len()];
            let mut path = String::new();
            for (j, &(at, v)) in line.points.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let _ = write!(
                    path,
                    "{}{:.1},{:.1}",
                    if j == 0 { "M" } else { " L" },
                    self.x(at),
                    self.y(v, range)
                );
            }
            let _ = write!(
                s,
                "<path class=\"series\" data-series=\"{label}\" d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" stroke-dasharray=\"{dash}\"><title>{label}</title></path>",
                label = escape(&line.label),
            );
        }
        for limit in &self.limits {
            let y = self.y(limit.value, range);
            let spans = limit
                .spans
                .clone()
                .unwrap_or_else(|| vec![(0.0, self.end_ms)]);
            let _ = write!(
                s,
                "<g class=\"threshold-line\" data-threshold=\"{key}\">",
                key = escape(&limit.key)
            );
            for (from, to) in &spans {
                let _ = write!(
                    s,
                    "<line x1=\"{x1}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#b91c1c\" stroke-width=\"1.4\" stroke-dasharray=\"8 3 2 3\"><title>{label}</title></line>",
                    x1 = self.x(*from),
                    x2 = self.x(*to),
                    label = escape(&limit.label),
                );
            }
            let first = spans.first().map_or(0.0, |s| s.0);
            let _ = write!(
                s,
                "<text class=\"limit-label\" x=\"{x}\" y=\"{ty}\">{label}</text></g>",
                x = self.x(first) + 4.0,
                ty = y - 4.0,
                label = escape(&limit.label),
            );
        }
        for m in &self.markers {
            let x = self.x(m.at_ms);
            let shape = if m.class == "prediction" {
                format!(
                    "<path d=\"M{a:.1},{t0} L{b:.1},{t0} L{x:.1},{t1} Z\" fill=\"#6b21a8\"/>",
                    a = x - 5.0,
                    b = x + 5.0,
                    t0 = top - 10.0,
                    t1 = top,
                )
            } else {
                format!(
                    "<path d=\"M{x:.1},{t0} L{b:.1},{tm} L{x:.1},{t1} L{a:.1},{tm} Z\" fill=\"#fff\" stroke=\"#0e7490\" stroke-width=\"1.5\"/>",
                    a = x - 5.0,
                    b = x + 5.0,
                    t0 = top - 11.0,
                    tm = top - 5.5,
                    t1 = top,
                )
            };
            let _ = write!(
                s,
                "<g class=\"{class}-marker\"><line x1=\"{x}\" x2=\"{x}\" y1=\"{top}\" y2=\"{bottom}\" stroke=\"#333\" stroke-width=\"1\" stroke-dasharray=\"1 3\"/>{shape}<title>{label}</title></g>",
                class = m.class,
                label = escape(&m.label),
            );
        }
        if !self.lines.is_empty() {
            s.push_str(&self.legend());
        }
        s.push_str("</svg>");
        s
    }

    fn legend(&self) -> String {
        let mut s = String::from("<g class=\"legend\">");
        let mut x = WIDTH - RIGHT - 10.0;
        for (i, line) in self.lines.iter().enumerate().rev() {
            let (colour, dash) = STYLES[i % STYLES.len()];
            let w = 40.0 + 7.0 * line.label.chars().count() as f64;
            x -= w;
            let _ = write!(
                s,
                "<line x1=\"{x}\" x2=\"{x2}\" y1=\"12\" y2=\"12\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/><text class=\"tick\" x=\"{tx}\" y=\"16\">{label}</text>",
                x2 = x + 22.0,
                tx = x + 26.0,
                label = escape(&line.label),
            );
        }
        s.push_str("</g>");
        s
    }
}

/// The fill patterns of one chart: dots for the warm-up, four hatchings for fault windows.
fn patterns(id: &str) -> String {
    format!(
        "<defs>\
         <pattern id=\"{id}-dots\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><rect width=\"6\" height=\"6\" fill=\"#f3f4f6\"/><circle cx=\"3\" cy=\"3\" r=\"0.9\" fill=\"#9ca3af\"/></pattern>\
         <pattern id=\"{id}-hatch0\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"7\" height=\"7\" fill=\"#fde68a\" fill-opacity=\"0.55\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#a16207\" stroke-width=\"1\"/></pattern>\
         <pattern id=\"{id}-hatch1\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(-45)\"><rect width=\"7\" height=\"7\" fill=\"#fecaca\" fill-opacity=\"0.55\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#b91c1c\" stroke-width=\"1\"/></pattern>\
         <pattern id=\"{id}-hatch2\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\"><rect width=\"7\" height=\"7\" fill=\"#bfdbfe\" fill-opacity=\"0.55\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#1d4ed8\" stroke-width=\"1\"/></pattern>\
         <pattern id=\"{id}-hatch3\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\"><rect width=\"7\" height=\"7\" fill=\"#bbf7d0\" fill-opacity=\"0.55\"/><line x1=\"0\" y1=\"3.5\" x2=\"7\" y2=\"3.5\" stroke=\"#15803d\" stroke-width=\"1\"/></pattern>\
         </defs>"
    )
}

/// `5.20s`.
pub fn seconds(ms: f64) -> String {
    format!("{:.2}s", ms / 1000.0)
}

/// A round step (1, 2 or 5 × 10^k) that cuts `span` into about `parts`.
pub fn nice_step(span: f64, parts: usize) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / parts.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn nice_ceiling(v: f64) -> f64 {
    let step = nice_step(v, 5);
    (v / step).ceil() * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(23.0, 10), 5.0);
        assert_eq!(nice_step(1.0, 5), 0.2);
        assert_eq!(nice_step(1500.0, 5), 500.0);
        assert_eq!(nice_ceiling(0.0378), 0.04);
    }

    #[test]
    fn a_log_chart_spans_whole_decades() {
        let mut chart = TimeChart::new("t", "ms", Unit::Ms, 1000.0);
        chart.scale = Scale::Log;
        chart.lines.push(Line {
            label: "p99".into(),
            points: vec![(0.0, 3.0), (500.0, 900.0)],
        });
        assert_eq!(chart.range(), (1.0, 1000.0));
        assert_eq!(chart.y_ticks((1.0, 1000.0)), vec![1.0, 10.0, 100.0, 1000.0]);
    }
}

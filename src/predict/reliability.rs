//! `Reliability`: how well probabilities of an event match what happened — the Brier score,
//! its climatology (always forecasting the base rate) and a reliability diagram in ten buckets —
//! and [`isotonic`], the pool-adjacent-violators fit that calibrates them.

/// A set of `(probability, outcome 0 or 1)` events summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Reliability {
    pub events: usize,
    pub brier: f64,
    /// The Brier score of forecasting the base rate every time: `rate · (1 − rate)`.
    pub climatology: f64,
    /// `(low, high, events, mean probability, observed frequency)` of every non-empty bucket
    /// `[low, high)` (the last one includes 1).
    pub buckets: Vec<(f64, f64, usize, f64, f64)>,
}

impl Reliability {
    pub fn of(events: &[(f64, f64)]) -> Reliability {
        let n = events.len().max(1) as f64;
        let brier = events.iter().map(|(p, o)| (p - o).powi(2)).sum::<f64>() / n;
        let rate = events.iter().map(|(_, o)| o).sum::<f64>() / n;
        let mut buckets = Vec::new();
        for b in 0..10 {
            let (low, high) = (f64::from(b) / 10.0, f64::from(b + 1) / 10.0);
            let inside: Vec<&(f64, f64)> = events
                .iter()
                .filter(|(p, _)| *p >= low && (*p < high || (b == 9 && *p <= 1.0)))
                .collect();
            if inside.is_empty() {
                continue;
            }
            let k = inside.len() as f64;
            let mean = inside.iter().map(|(p, _)| p).sum::<f64>() / k;
            let observed = inside.iter().map(|(_, o)| o).sum::<f64>() / k;
            buckets.push((low, high, inside.len(), mean, observed));
        }
        Reliability {
            events: events.len(),
            brier,
            climatology: rate * (1.0 - rate),
            buckets,
        }
    }

    /// `1 − Brier / climatology` (0 when the events are all alike).
    pub fn skill(&self) -> f64 {
        if self.climatology > 0.0 {
            1.0 - self.brier / self.climatology
        } else {
            0.0
        }
    }

    /// The summary line and the diagram, indented by `indent`.
    pub fn render(&self, label: &str, indent: &str) -> String {
        let mut out = format!(
            "{indent}{label}: Brier {:.4} (climatology {:.4}, skill {:.2}), {} events\n",
            self.brier,
            self.climatology,
            self.skill(),
            self.events
        );
        out.push_str(&format!(
            "{indent}  bucket        events  mean p  observed\n"
        ));
        for (low, high, n, mean, observed) in &self.buckets {
            out.push_str(&format!(
                "{indent}  [{low:.1}, {high:.1})  {n:>8}  {mean:>6.3}  {observed:>8.3}\n"
            ));
        }
        out
    }
}

/// Isotonic regression of outcomes on probabilities (pool-adjacent-violators): sorted
/// `(highest probability of the block, fitted frequency)` steps for
/// [`super::calibration::apply_steps`]. Adjacent steps less than a point apart, or ending at
/// the same probability, are merged (a table shipped in the source stays short, and each
/// probability has one step).
pub fn isotonic(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut merged: Vec<(f64, f64, f64)> = Vec::new();
    for (score, p, n) in pav(points) {
        match merged.last_mut() {
            Some(last) if (p - last.1 / last.2).abs() < 0.01 || score <= last.0 => {
                *last = (score, last.1 + p * n, last.2 + n);
            }
            _ => merged.push((score, p * n, n)),
        }
    }
    merged.into_iter().map(|(s, sum, n)| (s, sum / n)).collect()
}

/// Platt scaling: the logistic regression `P = σ(a · logit(p) + b)` of outcomes on the
/// probabilities (clamped to [1e-6, 1 − 1e-6]), fitted by Newton's method with a small ridge
/// (1e-6) so that separable data stays finite. Returns `(a, b)`; `(1, 0)` is the identity.
pub fn platt(points: &[(f64, f64)]) -> (f64, f64) {
    let xs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(p, o)| p.is_finite() && o.is_finite())
        .map(|(p, o)| (logit(*p), *o))
        .collect();
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-6, 0.0, 1e-6);
        for (x, o) in &xs {
            let q = sigmoid(a * x + b);
            let w = (q * (1.0 - q)).max(1e-12);
            ga += (q - o) * x;
            gb += q - o;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a -= da;
        b -= db;
        if !(a.is_finite() && b.is_finite()) {
            return (1.0, 0.0);
        }
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a, b)
}

/// [`platt`]'s map applied to `p`.
pub fn apply_platt((a, b): (f64, f64), p: f64) -> f64 {
    sigmoid(a * logit(p) + b)
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Pool-adjacent-violators: (highest score, fitted probability, samples) per block.
fn pav(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64, f64)> {
    points.retain(|(p, o)| p.is_finite() && o.is_finite());
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for (score, outcome) in points {
        blocks.push((score, outcome, 1.0));
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.1 / a.2 <= b.1 / b.2 {
                break;
            }
            blocks.truncate(n - 2);
            blocks.push((b.0, a.1 + b.1, a.2 + b.2));
        }
    }
    blocks
        .into_iter()
        .map(|(s, sum, n)| (s, sum / n, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::calibration::apply_steps;

    #[test]
    fn brier_buckets_and_skill_by_hand() {
        let events = [(0.9, 1.0), (0.9, 0.0), (0.1, 0.0), (0.1, 0.0)];
        let r = Reliability::of(&events);
        // (0.01 + 0.81 + 0.01 + 0.01) / 4
        assert!((r.brier - 0.21).abs() < 1e-12);
        assert!((r.climatology - 0.1875).abs() < 1e-12);
        assert!(r.skill() < 0.0);
        assert_eq!(r.buckets.len(), 2);
        assert_eq!(r.buckets[1].2, 2);
        assert!((r.buckets[1].4 - 0.5).abs() < 1e-12);
        assert!(r.render("raw", "  ").contains("Brier 0.2100"));
    }

    #[test]
    fn isotonic_pools_violators_and_calibrates() {
        // Over-confident: 0.9 happens half the time, 0.1 never.
        let points = vec![
            (0.1, 0.0),
            (0.1, 0.0),
            (0.5, 1.0),
            (0.6, 0.0),
            (0.9, 1.0),
            (0.9, 0.0),
        ];
        let steps = isotonic(points.clone());
        for w in steps.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 <= w[1].1, "{steps:?}");
        }
        assert_eq!(apply_steps(&steps, 0.1), 0.0);
        let before = Reliability::of(&points).brier;
        let fitted: Vec<(f64, f64)> = points
            .iter()
            .map(|(p, o)| (apply_steps(&steps, *p), *o))
            .collect();
        assert!(Reliability::of(&fitted).brier < before);
    }

    #[test]
    fn platt_recovers_a_known_distortion() {
        // Outcomes happen with probability σ(0.5·logit(p) − 1): over-confident and too high.
        let mut points = Vec::new();
        for i in 1..100 {
            let p = f64::from(i) / 100.0;
            let truth = apply_platt((0.5, -1.0), p);
            for j in 0..100 {
                points.push((
                    p,
                    if f64::from(j) < truth * 100.0 {
                        1.0
                    } else {
                        0.0
                    },
                ));
            }
        }
        let (a, b) = platt(&points);
        assert!((a - 0.5).abs() < 0.05 && (b + 1.0).abs() < 0.05, "{a} {b}");
        let fitted: Vec<(f64, f64)> = points
            .iter()
            .map(|(p, o)| (apply_platt((a, b), *p), *o))
            .collect();
        assert!(Reliability::of(&fitted).brier < Reliability::of(&points).brier);
        assert!((apply_platt((1.0, 0.0), 0.3) - 0.3).abs() < 1e-12);
    }
}

//! `PrecursorCorpus`: a seeded generator of labelled telemetry series for early-warning
//! benchmarks (`cargo bench --bench precursors`).
//!
//! Each series is one metric with a known failure limit (a memory limit, 100% disk, a queue's
//! capacity, an SLO) and, for the *precursor* shapes, a fault: the first sample at or beyond the
//! limit, after a precursor that starts at `onset`. The series ends at the fault (the service
//! died, the disk filled). The *distractors* never reach their limit. Every series starts with
//! at least two hours of normal behaviour (one of them for warming up).
//!
//! | shape | sampling | what happens |
//! |---|---|---|
//! | `leak` | 5 s | memory grows linearly to the limit in 10–60 min (half with a GC sawtooth) |
//! | `latency_creep` | 10 s | p99 latency (log-normal noise) grows exponentially to the SLO in 10–60 min |
//! | `disk_fill` | 30 s | disk use grows linearly to 100% in 20 min–3 h |
//! | `queue_saturation` | 5 s | a queue grows quadratically to its capacity in 5–30 min |
//! | `flapping_errors` | 10 s | error-rate bursts every 2–5 min, growing until one reaches the SLO in 15–60 min |
//! | `growing_variance` | 5 s | the spread grows linearly until a sample reaches the limit in 10–40 min |
//! | `noise` (distractor) | 5–30 s | heavy-tailed (Student t, 3 d.f.) noise, 6 h |
//! | `blips` (distractor) | 10 s | noise and short spikes to 30–90% of the way to the limit, 6 h |
//! | `daily_cycle` (distractor) | 60 s | a daily cycle peaking 20–60% of its amplitude below the limit, 3 days |
//! | `level_shift` (distractor) | 10 s | one or two steps up that stay below the limit, 8 h |
//!
//! Nothing here is tuned to any detector: the shapes and their ranges were written down before
//! any detector was scored on them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Series of each shape in a corpus.
pub const PER_SHAPE: usize = 12;

/// The precursor shapes (series that fail).
pub const PRECURSORS: &[&str] = &[
    "leak",
    "latency_creep",
    "disk_fill",
    "queue_saturation",
    "flapping_errors",
    "growing_variance",
];

/// The distractor shapes (series that do not fail).
pub const DISTRACTORS: &[&str] = &["noise", "blips", "daily_cycle", "level_shift"];

/// One labelled series.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSeries {
    /// `shape-index`, e.g. `leak-03`.
    pub name: String,
    /// The generator's shape, or a recorded corpus' label (`leak`, `healthy`, ...).
    pub shape: String,
    /// `(timestamp seconds, value)`, regularly sampled from 0.
    pub samples: Vec<(f64, f64)>,
    /// The failure limit, reached from below.
    pub limit: f64,
    /// When the precursor starts and when the fault happens (precursor shapes only).
    pub onset: Option<f64>,
    pub fault: Option<f64>,
    /// The sampling interval, seconds.
    pub step: f64,
}

impl LabelledSeries {
    /// Seconds covered.
    pub fn duration(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) => b.0 - a.0 + self.step,
            _ => 0.0,
        }
    }
}

/// A random source with the few distributions the generator needs.
struct Draw(ChaCha8Rng);

impl Draw {
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.0.random::<f64>()
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller.
        let u1: f64 = self.0.random::<f64>().max(1.0e-300);
        let u2: f64 = self.0.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Student t with 3 degrees of freedom, scaled to unit variance.
    fn heavy(&mut self) -> f64 {
        let chi2: f64 = (0..3).map(|_| self.normal().powi(2)).sum();
        self.normal() / (chi2 / 3.0).sqrt() / 3.0_f64.sqrt()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.random::<f64>() < p
    }
}

/// The corpus for `seed`: [`PER_SHAPE`] series of every precursor and distractor shape.
pub fn generate(seed: u64) -> Vec<LabelledSeries> {
    let mut corpus = Vec::new();
    for (s, shape) in PRECURSORS.iter().chain(DISTRACTORS).enumerate() {
        for i in 0..PER_SHAPE {
            let mut draw = Draw(ChaCha8Rng::seed_from_u64(
                seed.wrapping_mul(1_000_003)
                    .wrapping_add((s * 1000 + i) as u64),
            ));
            corpus.push(one(shape, i, &mut draw));
        }
    }
    corpus
}

const HOUR: f64 = 3600.0;
const MINUTE: f64 = 60.0;

fn one(shape: &'static str, index: usize, draw: &mut Draw) -> LabelledSeries {
    let name = format!("{shape}-{index:02}");
    let series =
        |step: f64, limit: f64, onset: Option<f64>, samples: Vec<(f64, f64)>| LabelledSeries {
            name: name.clone(),
            shape: shape.to_string(),
            samples,
            limit,
            onset,
            fault: None,
            step,
        };
    let labelled = match shape {
        "leak" => {
            let step = 5.0;
            let base = draw.uniform(200.0, 600.0);
            let limit = (base * draw.uniform(1.5, 3.0)).round();
            let sd = base * draw.uniform(0.002, 0.01);
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(10.0, 60.0) * MINUTE;
            let rate = (limit - base) / to_limit;
            let sawtooth = draw
                .chance(0.5)
                .then(|| (draw.uniform(60.0, 300.0), 3.0 * sd));
            let samples = until_fault(step, onset + 2.0 * to_limit, limit, |t| {
                let saw = sawtooth.map_or(0.0, |(period, height)| height * ((t % period) / period));
                base + saw + sd * draw.normal().clamp(-4.0, 4.0) + rate * (t - onset).max(0.0)
            });
            series(step, limit, Some(onset), samples)
        }
        "latency_creep" => {
            let step = 10.0;
            let base = draw.uniform(50.0, 200.0);
            let sigma = draw.uniform(0.05, 0.15);
            let limit = (base * draw.uniform(2.5, 5.0)).round();
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(10.0, 60.0) * MINUTE;
            let growth = (limit / base).ln() / to_limit;
            let samples = until_fault(step, onset + 2.0 * to_limit, limit, |t| {
                base * (sigma * draw.normal().clamp(-4.0, 4.0) + growth * (t - onset).max(0.0))
                    .exp()
            });
            series(step, limit, Some(onset), samples)
        }
        "disk_fill" => {
            let step = 30.0;
            let base = draw.uniform(30.0, 70.0);
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(20.0, 180.0) * MINUTE;
            let rate = (100.0 - base) / to_limit;
            let samples = until_fault(step, onset + 2.0 * to_limit, 100.0, |t| {
                base + 0.2 * draw.normal().clamp(-4.0, 4.0) + rate * (t - onset).max(0.0)
            });
            series(step, 100.0, Some(onset), samples)
        }
        "queue_saturation" => {
            let step = 5.0;
            let base = draw.uniform(5.0, 50.0);
            let limit = draw.uniform(500.0, 2000.0).round();
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(5.0, 30.0) * MINUTE;
            let curve = (limit - base) / (to_limit * to_limit);
            let samples = until_fault(step, onset + 2.0 * to_limit, limit, |t| {
                let grown = curve * (t - onset).max(0.0).powi(2);
                (base + base.sqrt() * draw.normal().clamp(-4.0, 4.0) + grown).max(0.0)
            });
            series(step, limit, Some(onset), samples)
        }
        "flapping_errors" => {
            let step = 10.0;
            let base = draw.uniform(0.1, 0.5);
            let limit = 5.0;
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(15.0, 60.0) * MINUTE;
            let period = draw.uniform(2.0, 5.0) * MINUTE;
            let width = draw.uniform(30.0, 90.0);
            let samples = until_fault(step, onset + 2.0 * to_limit, limit, |t| {
                let noise = base * (1.0 + 0.3 * draw.normal().clamp(-3.0, 3.0));
                let since = t - onset;
                let burst = if since >= 0.0 && since % period < width {
                    // Each burst higher than the last: the one starting at `to_limit` reaches
                    // the limit (bursts are sampled at their start, height fixed per burst).
                    let start = since - since % period;
                    (limit + 0.5) * ((start + period) / (to_limit + period)).min(1.2)
                } else {
                    0.0
                };
                noise.max(0.0) + burst
            });
            series(step, limit, Some(onset), samples)
        }
        "growing_variance" => {
            let step = 5.0;
            let base = draw.uniform(10.0, 100.0);
            let sd = base * 0.02;
            let limit = base + 8.0 * sd;
            let onset = draw.uniform(2.0, 5.0) * HOUR;
            let to_limit = draw.uniform(10.0, 40.0) * MINUTE;
            // The spread reaches (limit - base) / 2.5 at `to_limit`: a sample crosses around
            // then, or earlier by chance.
            let growth = ((limit - base) / 2.5 / sd - 1.0) / to_limit;
            let samples = until_fault(step, onset + 3.0 * to_limit, limit, |t| {
                let spread = sd * (1.0 + growth * (t - onset).max(0.0));
                let clamp = if t < onset { 4.0 } else { 10.0 };
                base + spread * draw.normal().clamp(-clamp, clamp)
            });
            series(step, limit, Some(onset), samples)
        }
        "noise" => {
            let step = [5.0, 10.0, 30.0][index % 3];
            let base = draw.uniform(10.0, 1000.0);
            let sd = base * draw.uniform(0.01, 0.1);
            let limit = base + draw.uniform(10.0, 20.0) * sd;
            let samples = sample(step, 6.0 * HOUR, |_| {
                base + sd * draw.heavy().clamp(-8.0, 8.0)
            });
            series(step, limit, None, samples)
        }
        "blips" => {
            let step = 10.0;
            let base = draw.uniform(10.0, 1000.0);
            let sd = base * draw.uniform(0.01, 0.05);
            let limit = base + draw.uniform(10.0, 20.0) * sd;
            let mut blip_left = 0;
            let mut height = 0.0;
            let samples = sample(step, 6.0 * HOUR, |_| {
                if blip_left == 0 && draw.chance(step / (30.0 * MINUTE)) {
                    blip_left = 1 + (draw.uniform(0.0, 3.0) as usize);
                    height = draw.uniform(0.3, 0.9) * (limit - base);
                }
                let blip = if blip_left > 0 {
                    blip_left -= 1;
                    height
                } else {
                    0.0
                };
                base + sd * draw.normal().clamp(-4.0, 4.0) + blip
            });
            series(step, limit, None, samples)
        }
        "daily_cycle" => {
            let step = 60.0;
            let base = draw.uniform(20.0, 500.0);
            let amplitude = base * draw.uniform(0.2, 0.6);
            let sd = amplitude * draw.uniform(0.02, 0.08);
            let limit = base + amplitude + (draw.uniform(0.2, 0.6) * amplitude).max(6.0 * sd);
            let phase = draw.uniform(0.0, std::f64::consts::TAU);
            let samples = sample(step, 72.0 * HOUR, |t| {
                let day = (t / 86_400.0 * std::f64::consts::TAU + phase).sin();
                base + amplitude * day + sd * draw.normal().clamp(-4.0, 4.0)
            });
            series(step, limit, None, samples)
        }
        _ => {
            // level_shift
            let step = 10.0;
            let base = draw.uniform(10.0, 1000.0);
            let sd = base * draw.uniform(0.01, 0.05);
            let limit = base + draw.uniform(15.0, 30.0) * sd;
            let room = limit - base - 6.0 * sd;
            let first = draw.uniform(2.0, 6.0) * HOUR;
            let first_step = draw.uniform(0.2, 0.5) * room;
            let second = draw.chance(0.5).then(|| {
                (
                    first + draw.uniform(0.5, 1.5) * HOUR,
                    draw.uniform(0.1, 0.4) * room,
                )
            });
            let samples = sample(step, 8.0 * HOUR, |t| {
                let mut level = base;
                if t >= first {
                    level += first_step;
                }
                if let Some((at, size)) = second
                    && t >= at
                {
                    level += size;
                }
                level + sd * draw.normal().clamp(-4.0, 4.0)
            });
            series(step, limit, None, samples)
        }
    };
    label(labelled)
}

/// Samples `f(t)` every `step` seconds for `duration` seconds.
fn sample(step: f64, duration: f64, mut f: impl FnMut(f64) -> f64) -> Vec<(f64, f64)> {
    let n = (duration / step).round() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * step;
            (t, f(t))
        })
        .collect()
}

/// Samples `f(t)` every `step` seconds until a value reaches `limit` (included) or `until`.
fn until_fault(
    step: f64,
    until: f64,
    limit: f64,
    mut f: impl FnMut(f64) -> f64,
) -> Vec<(f64, f64)> {
    let mut samples = Vec::new();
    let mut t = 0.0;
    while t <= until {
        let v = f(t);
        samples.push((t, v));
        if v >= limit {
            break;
        }
        t += step;
    }
    samples
}

/// Sets `fault` (the first sample at or beyond the limit) on precursor series, and makes sure
/// distractors stay below their limit (clamping the rare sample that would not).
fn label(mut s: LabelledSeries) -> LabelledSeries {
    let limit = s.limit;
    if s.onset.is_some() {
        s.fault = s.samples.iter().find(|(_, v)| *v >= limit).map(|(t, _)| *t);
    } else {
        let below = limit - (limit.abs() * 1.0e-6).max(1.0e-9);
        for sample in &mut s.samples {
            sample.1 = sample.1.min(below);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_seeded_and_labelled() {
        let a = generate(7);
        assert_eq!(a, generate(7));
        assert_ne!(a, generate(8));
        assert_eq!(a.len(), PER_SHAPE * (PRECURSORS.len() + DISTRACTORS.len()));
        for s in &a {
            let first_over = s.samples.iter().position(|(_, v)| *v >= s.limit);
            match (s.onset, s.fault) {
                (Some(onset), Some(fault)) => {
                    assert!(onset >= 2.0 * HOUR && fault > onset, "{}", s.name);
                    // The fault is the last sample, and the first one at the limit.
                    assert_eq!(first_over, Some(s.samples.len() - 1), "{}", s.name);
                    assert_eq!(s.samples.last().map(|x| x.0), Some(fault));
                }
                (None, None) => assert_eq!(first_over, None, "{}", s.name),
                _ => panic!("{}: a precursor without a fault", s.name),
            }
            assert!(
                s.samples
                    .iter()
                    .all(|(t, v)| t.is_finite() && v.is_finite())
            );
        }
    }
}

//! How much a fault degraded a probe, with its uncertainty.
//!
//! The degradation of a probe under a fault is
//! max(error_rate under − error_rate in the baseline, (pQ under / pQ baseline − 1) / 4,
//! (p50 under − p50 baseline) / (4 × p50 baseline)), clamped to [0, 1] (the baseline
//! quantiles taken as at least 1 ms): the `failure` of the risk score. The median term is
//! the robust one (see `latency_term`). Q is 99 when both sides have at least 500 checks; with fewer it is the quantile
//! that leaves `TAIL_CHECKS` checks above it on the smaller side (p88 of 41 checks, p95 of
//! 100): the p99 of 41 checks is their maximum, one stray slow check, and made the verdict
//! flip between identical runs.
//!
//! The estimate comes with a 95% percentile-bootstrap interval: both sets of checks are
//! resampled with replacement `ROUNDS` times (a seeded generator, so the same checks give the
//! same interval) and the degradation recomputed. With fewer than `MIN_CHECKS` checks under
//! the fault or in the baseline, no verdict is drawn from it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// p99 growth (as a multiple of the baseline, minus one) that counts as a full failure.
pub const LATENCY_SPAN: f64 = 4.0;
/// Fewer checks than this under a fault (or in the baseline) give no verdict.
pub const MIN_CHECKS: usize = 10;
/// Checks left above the latency quantile on the smaller side.
pub const TAIL_CHECKS: f64 = 5.0;
/// Bootstrap resamples.
pub const ROUNDS: usize = 500;
/// The interval's coverage.
pub const COVERAGE: f64 = 0.95;

/// One check, as the degradation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub latency_ms: f64,
    pub success: bool,
}

/// A probe's degradation under one fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// The point estimate, from all the checks.
    pub value: f64,
    /// Its latency term, the larger of (pQ under / pQ baseline − 1) / 4 and the median's
    /// (not clamped), and Q.
    pub latency: f64,
    pub quantile: f64,
    /// The 95% bootstrap interval.
    pub low: f64,
    pub high: f64,
    /// Checks under the fault and in the baseline.
    pub checks: usize,
    pub baseline_checks: usize,
}

impl Degradation {
    /// Whether there are enough checks for a verdict.
    pub fn conclusive(&self) -> bool {
        self.checks >= MIN_CHECKS && self.baseline_checks >= MIN_CHECKS
    }

    /// The degradation of `under` against `baseline`, `None` when either is empty. `seed`
    /// fixes the resampling (derive it from the run's seed and the probe and fault names).
    pub fn of(baseline: &[Sample], under: &[Sample], seed: u64) -> Option<Degradation> {
        if baseline.is_empty() || under.is_empty() {
            return None;
        }
        let q = latency_quantile(baseline.len().min(under.len()));
        let value = degradation(baseline, under, q);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut base = Vec::with_capacity(baseline.len());
        let mut hit = Vec::with_capacity(under.len());
        let mut values: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                resample(&mut rng, baseline, &mut base);
                resample(&mut rng, under, &mut hit);
                degradation(&base, &hit, q)
            })
            .collect();
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - COVERAGE) / 2.0;
        Some(Degradation {
            value,
            latency: latency_term(baseline, under, q),
            quantile: q,
            low: quantile(&values, tail),
            high: quantile(&values, 1.0 - tail),
            checks: under.len(),
            baseline_checks: baseline.len(),
        })
    }
}

/// A stable seed from a run's seed and names.
pub fn seed_for(run_seed: u64, names: &[&str]) -> u64 {
    // FNV-1a: fixed across platforms and releases, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ run_seed;
    for name in names {
        for byte in name.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn resample(rng: &mut ChaCha8Rng, from: &[Sample], into: &mut Vec<Sample>) {
    into.clear();
    into.extend((0..from.len()).map(|_| from[rng.random_range(0..from.len())]));
}

/// The latency quantile judged with `n` checks on the smaller side.
pub fn latency_quantile(n: usize) -> f64 {
    (1.0 - TAIL_CHECKS / n.max(1) as f64).clamp(0.5, 0.99)
}

/// The point degradation of two non-empty sets of checks.
fn degradation(baseline: &[Sample], under: &[Sample], q: f64) -> f64 {
    let errors = error_rate(under) - error_rate(baseline);
    errors.max(latency_term(baseline, under, q)).clamp(0.0, 1.0)
}

/// The larger of the tail term, (pQ under / pQ baseline − 1) / 4, and the median term, (p50
/// under − p50 baseline) / (4 × p50 baseline). The median term is what a latency fault
/// shifts every check by; it barely moves when a loaded machine adds a few slow checks to
/// either side, where the tail term swings with them (a 40 ms latency judged "above" on an
/// idle machine and "inconclusive" on a loaded one). The tail term still sees faults that
/// slow only some checks.
fn latency_term(baseline: &[Sample], under: &[Sample], q: f64) -> f64 {
    let tail = quantile_ms(under, q) / quantile_ms(baseline, q).max(1.0) - 1.0;
    let base_median = quantile_ms(baseline, 0.5).max(1.0);
    let median = (quantile_ms(under, 0.5) - base_median) / base_median;
    tail.max(median) / LATENCY_SPAN
}

fn error_rate(samples: &[Sample]) -> f64 {
    samples.iter().filter(|s| !s.success).count() as f64 / samples.len() as f64
}

/// The nearest-rank latency quantile `q`, as the run's figures compute quantiles.
fn quantile_ms(samples: &[Sample], q: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    ms.sort_by(f64::total_cmp);
    crate::monitor::nearest_rank(&ms, q)
}

/// The nearest-rank quantile `q` of sorted `values` (not empty).
fn quantile(values: &[f64], q: f64) -> f64 {
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(n: usize, latency_ms: impl Fn(usize) -> f64, failed: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                latency_ms: latency_ms(i),
                success: i >= failed,
            })
            .collect()
    }

    #[test]
    fn the_point_estimate_is_the_risk_formula() {
        let base = checks(100, |_| 2.0, 0);
        // Errors up by 30 points.
        let d = Degradation::of(&base, &checks(100, |_| 2.0, 30), 1).unwrap();
        assert!((d.value - 0.3).abs() < 1e-12, "{d:?}");
        // Latency three times the baseline: (3 - 1) / 4.
        let d = Degradation::of(&base, &checks(100, |_| 6.0, 0), 1).unwrap();
        assert!((d.value - 0.5).abs() < 1e-12, "{d:?}");
        assert_eq!(d.quantile, 0.95);
        assert!(d.low <= d.value && d.value <= d.high, "{d:?}");
        assert!(Degradation::of(&base, &[], 1).is_none());
    }

    #[test]
    fn few_noisy_checks_give_a_wide_interval_and_no_verdict() {
        let base = checks(100, |i| 1.0 + (i % 10) as f64 * 0.1, 0);
        // Four checks, one failed: 0% to 50% errors are all plausible.
        let few = [(1.2, true), (1.1, false), (1.0, true), (1.3, true)].map(|(ms, ok)| Sample {
            latency_ms: ms,
            success: ok,
        });
        let d = Degradation::of(&base, &few, 7).unwrap();
        assert!(!d.conclusive());
        assert!(d.high - d.low >= 0.5, "{d:?}");
        // Many steady checks: a narrow interval.
        let many = checks(200, |i| 1.0 + (i % 10) as f64 * 0.1, 20);
        let d = Degradation::of(&base, &many, 7).unwrap();
        assert!(d.conclusive());
        assert!(d.high - d.low < 0.12, "{d:?}");
        assert!(d.low > 0.0, "{d:?}");
    }

    #[test]
    fn the_quantile_leaves_five_checks_above_it_up_to_p99() {
        assert_eq!(latency_quantile(100), 0.95);
        assert_eq!(latency_quantile(500), 0.99);
        assert_eq!(latency_quantile(5000), 0.99);
        assert!((latency_quantile(40) - 0.875).abs() < 1e-12);
        assert_eq!(latency_quantile(4), 0.5);
        // One stray slow check among 40 does not make a degradation.
        let base = checks(40, |_| 2.0, 0);
        let under = checks(40, |i| if i == 7 { 500.0 } else { 2.0 }, 0);
        let d = Degradation::of(&base, &under, 3).unwrap();
        assert_eq!(d.value, 0.0, "{d:?}");
    }

    #[test]
    fn a_shift_of_every_check_is_judged_by_the_median_whatever_slow_checks_load_adds() {
        // A 40 ms latency fault on a 2 ms server, on a loaded machine: one check in ten is
        // 60-100 ms slow on both sides (scheduling delays).
        let loaded = |i: usize, base: f64| {
            if i % 10 == 3 {
                60.0 + (i % 7) as f64 * 6.0
            } else {
                base + (i % 5) as f64 * 0.3
            }
        };
        let base = checks(100, |i| loaded(i, 2.0), 0);
        let under = checks(40, |i| loaded(i, 42.0), 0);
        let d = Degradation::of(&base, &under, 5).unwrap();
        // The tail alone (p88 of 40 against the baseline's) depends on how many slow checks a
        // resample draws: one baseline resample in five has more than 12% of them, its p88 is
        // a slow check and the tail term is nothing. The median says 20× in every resample.
        assert!(d.value >= 0.99, "{d:?}");
        assert!(d.low >= 0.99, "the interval must be tight: {d:?}");
        // No fault, the same load: no degradation from the median.
        let calm = checks(40, |i| loaded(i + 1, 2.0), 0);
        let d = Degradation::of(&base, &calm, 5).unwrap();
        assert!(d.value < 0.05, "{d:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let base = checks(50, |i| (i % 7) as f64, 2);
        let under = checks(30, |i| (i % 11) as f64 * 3.0, 5);
        let a = Degradation::of(&base, &under, seed_for(1, &["p", "f"])).unwrap();
        let b = Degradation::of(&base, &under, seed_for(1, &["p", "f"])).unwrap();
        assert_eq!(a, b);
        assert_ne!(seed_for(1, &["p", "f"]), seed_for(1, &["pf"]));
        assert_ne!(seed_for(1, &["p"]), seed_for(2, &["p"]));
    }
}

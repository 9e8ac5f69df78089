//! Probability distributions for every sampled quantity in a scenario.
//!
//! A `Distribution` is unit-agnostic: its parameters are in the base unit of the quantity it
//! samples (milliseconds for durations, bytes for sizes, a fraction for percentages), which the
//! checker has already converted.

use rand::Rng;
use rand_distr::Distribution as _;
use serde::{Deserialize, Serialize};

/// A distribution over non-negative values, in the base unit of the quantity it samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    /// Always `value`.
    Fixed { value: f64 },
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Normal with `mean` and standard deviation `sd`, truncated at zero.
    Normal { mean: f64, sd: f64 },
    /// Log-normal given by its `median` and the shape `sigma` (sd of the log).
    LogNormal { median: f64, sigma: f64 },
    /// Exponential with the given `mean`.
    Exponential { mean: f64 },
    /// Pareto with scale (minimum) `scale` and tail index `shape`.
    Pareto { scale: f64, shape: f64 },
    /// Weibull with `scale` and `shape`.
    Weibull { scale: f64, shape: f64 },
    /// Resampling of observed values (from a history column).
    Empirical { source: String, values: Vec<f64> },
}

impl Distribution {
    /// Draws one value. Never negative, never NaN: parameters were validated by the checker,
    /// and a normal sample below zero is clamped to zero (a delay cannot be negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let value = match self {
            Distribution::Fixed { value } => *value,
            Distribution::Uniform { min, max } => {
                if max > min {
                    rng.random_range(*min..=*max)
                } else {
                    *min
                }
            }
            Distribution::Normal { mean, sd } => match rand_distr::Normal::new(*mean, *sd) {
                Ok(d) => d.sample(rng),
                Err(_) => *mean,
            },
            Distribution::LogNormal { median, sigma } => {
                match rand_distr::LogNormal::new(median.max(f64::MIN_POSITIVE).ln(), *sigma) {
                    Ok(d) => d.sample(rng),
                    Err(_) => *median,
                }
            }
            Distribution::Exponential { mean } => {
                if *mean > 0.0 {
                    match rand_distr::Exp::new(1.0 / mean) {
                        Ok(d) => d.sample(rng),
                        Err(_) => *mean,
                    }
                } else {
                    0.0
                }
            }
            Distribution::Pareto { scale, shape } => {
                match rand_distr::Pareto::new(*scale, *shape) {
                    Ok(d) => d.sample(rng),
                    Err(_) => *scale,
                }
            }
            Distribution::Weibull { scale, shape } => {
                match rand_distr::Weibull::new(*scale, *shape) {
                    Ok(d) => d.sample(rng),
                    Err(_) => *scale,
                }
            }
            Distribution::Empirical { values, .. } => {
                if values.is_empty() {
                    0.0
                } else {
                    values[rng.random_range(0..values.len())]
                }
            }
        };
        if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        }
    }

    /// The mean of the distribution (before truncation at zero), for summaries and for
    /// choosing a less severe version of a fault.
    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Fixed { value } => *value,
            Distribution::Uniform { min, max } => (min + max) / 2.0,
            Distribution::Normal { mean, .. } => *mean,
            Distribution::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Distribution::Exponential { mean } => *mean,
            Distribution::Pareto { scale, shape } => {
                if *shape > 1.0 {
                    shape * scale / (shape - 1.0)
                } else {
                    f64::INFINITY
                }
            }
            Distribution::Weibull { scale, shape } => scale * gamma(1.0 + 1.0 / shape),
            Distribution::Empirical { values, .. } => {
                if values.is_empty() {
                    0.0
                } else {
                    values.iter().sum::<f64>() / values.len() as f64
                }
            }
        }
    }

    /// The same distribution with every location parameter multiplied by `factor`
    /// (a less severe fault for rehearsals uses a factor below one).
    pub fn scaled(&self, factor: f64) -> Distribution {
        match self {
            Distribution::Fixed { value } => Distribution::Fixed {
                value: value * factor,
            },
            Distribution::Uniform { min, max } => Distribution::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Distribution::Normal { mean, sd } => Distribution::Normal {
                mean: mean * factor,
                sd: sd * factor,
            },
            Distribution::LogNormal { median, sigma } => Distribution::LogNormal {
                median: median * factor,
                sigma: *sigma,
            },
            Distribution::Exponential { mean } => Distribution::Exponential {
                mean: mean * factor,
            },
            Distribution::Pareto { scale, shape } => Distribution::Pareto {
                scale: scale * factor,
                shape: *shape,
            },
            Distribution::Weibull { scale, shape } => Distribution::Weibull {
                scale: scale * factor,
                shape: *shape,
            },
            Distribution::Empirical { source, values } => Distribution::Empirical {
                source: source.clone(),
                values: values.iter().map(|v| v * factor).collect(),
            },
        }
    }
}

/// Lanczos approximation of the gamma function (for the Weibull mean).
fn gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x))
    } else {
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + G + 0.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;

    fn mean_of(d: &Distribution, n: usize) -> f64 {
        let mut rng = rng_for(7, "test");
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_analytic_means() {
        let cases = [
            Distribution::Fixed { value: 5.0 },
            Distribution::Uniform {
                min: 10.0,
                max: 20.0,
            },
            Distribution::Normal {
                mean: 100.0,
                sd: 10.0,
            },
            Distribution::LogNormal {
                median: 50.0,
                sigma: 0.3,
            },
            Distribution::Exponential { mean: 20.0 },
            Distribution::Pareto {
                scale: 10.0,
                shape: 3.0,
            },
            Distribution::Weibull {
                scale: 100.0,
                shape: 1.5,
            },
        ];
        for d in cases {
            let got = mean_of(&d, 200_000);
            let want = d.mean();
            assert!(
                (got - want).abs() / want < 0.02,
                "{d:?}: sample mean {got}, analytic {want}"
            );
        }
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let d = Distribution::Normal {
            mean: 1.0,
            sd: 10.0,
        };
        let mut rng = rng_for(1, "t");
        assert!((0..10_000).all(|_| d.sample(&mut rng) >= 0.0));
    }

    #[test]
    fn gamma_matches_factorials() {
        assert!((gamma(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-9);
    }
}

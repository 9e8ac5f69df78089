//! `Prior`: a Gamma prior on an incident rate — the fixed Gamma(0.5, 1 year) or one fitted
//! to a history by empirical Bayes (see `rates.rs`) — and `ln_gamma`, which fitting needs.

use serde::Serialize;

/// The fixed prior's shape α₀ (used when the history is too small to fit one).
pub const PRIOR_ALPHA: f64 = 0.5;
/// The fixed prior's rate β₀, in years of exposure.
pub const PRIOR_BETA_YEARS: f64 = 1.0;

/// A Gamma(shape, rate) prior on the incident rate (rate in years of exposure).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prior {
    pub alpha: f64,
    pub beta: f64,
    /// Whether it was fitted to the history (else the fixed prior).
    pub fitted: bool,
}

impl Prior {
    /// Gamma(0.5, 1 year).
    pub const FIXED: Prior = Prior {
        alpha: PRIOR_ALPHA,
        beta: PRIOR_BETA_YEARS,
        fitted: false,
    };

    /// The empirical-Bayes prior of `cells` (incidents, exposure in years), or `None` when they
    /// are too few (fewer than 3 cells or 3 incidents) or the fit fails.
    pub fn fit(cells: &[(usize, f64)]) -> Option<Prior> {
        let total: usize = cells.iter().map(|c| c.0).sum();
        let exposure: f64 = cells.iter().map(|c| c.1).sum();
        if cells.len() < 3 || total < 3 || exposure <= 0.0 {
            return None;
        }
        // Parametrised by ln α and ln m (the prior mean α/β); started at the pooled rate.
        let loglik = |ln_a: f64, ln_m: f64| -> f64 {
            let a = ln_a.exp();
            let b = a / ln_m.exp();
            let ln_ga = ln_gamma(a);
            cells
                .iter()
                .map(|&(k, t)| {
                    ln_gamma(a + k as f64) - ln_ga + a * b.ln() - (a + k as f64) * (b + t).ln()
                })
                .sum()
        };
        let mut x = [0.0f64, (total as f64 / exposure).ln()];
        let mut best = loglik(x[0], x[1]);
        let mut step = 1.0;
        // Compass search: halve the step when no move improves; α kept in [e^-5, e^6].
        while step > 1e-6 {
            let mut moved = false;
            for (dim, sign) in [(0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)] {
                let mut y = x;
                y[dim] += sign * step;
                if !(-5.0..=6.0).contains(&y[0]) {
                    continue;
                }
                let v = loglik(y[0], y[1]);
                if v.is_finite() && v > best {
                    best = v;
                    x = y;
                    moved = true;
                }
            }
            if !moved {
                step /= 2.0;
            }
        }
        let alpha = x[0].exp();
        let beta = alpha / x[1].exp();
        (alpha.is_finite() && beta.is_finite() && alpha > 0.0 && beta > 0.0).then_some(Prior {
            alpha,
            beta,
            fitted: true,
        })
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
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
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

//! `CellPrior`: an empirical-Bayes prior per (resource type, fault kind) cell that pools
//! strength across types AND kinds — a multiplicative Poisson model.
//!
//! The prior mean of cell (t, k) is `m = pooled · u_t · v_k`: the fleet's pooled rate, times a
//! type factor (how incident-prone resources of type t are) and a kind factor (how common
//! kind k is). Each factor is itself a Gamma–Poisson shrinkage estimate: the types' incident
//! totals against what the pooled rate and the kind factors expect of them, with a Gamma prior
//! on the factor fitted to those totals by marginal likelihood ([`Prior::fit`]); then the
//! kinds against the type factors; alternated three times (backfitting). The cell's prior is
//! then Gamma(α, α/m), α fitted by the marginal likelihood of the cells' counts,
//! Π NegBin(n | α, (α/m) / (α/m + T)) — a large α trusts the structure, a small one lets each
//! cell speak for itself.
//!
//! The structured prior is used only when it explains the counts better than the single
//! fitted Gamma prior by more than its extra parameters (one per type and per kind: the
//! log-likelihood gain must exceed their number, Akaike's rule); otherwise [`RateTable`] keeps
//! the single prior. `cargo bench --bench fleet` measures both on simulated fleets.
//!
//! [`RateTable`]: super::rates::RateTable

use super::prior::{Prior, ln_gamma};
use serde::Serialize;
use std::collections::BTreeMap;

/// One cell of the history: type, kind, incidents, exposure (resource-years).
pub type Cell<'a> = (&'a str, &'a str, usize, f64);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellPrior {
    /// The cells' Gamma shape around their structured mean.
    pub alpha: f64,
    /// Incidents per resource-year over the whole history.
    pub pooled: f64,
    pub type_factors: BTreeMap<String, f64>,
    pub kind_factors: BTreeMap<String, f64>,
    /// The log-likelihood gain over the single fitted prior (what selected this model).
    pub gain: f64,
}

impl CellPrior {
    /// The prior of cell (t, k); a type or kind the history does not know has factor 1.
    pub fn prior(&self, resource_type: &str, kind: &str) -> Prior {
        let m = self.mean(resource_type, kind);
        Prior {
            alpha: self.alpha,
            beta: self.alpha / m,
            fitted: true,
        }
    }

    /// The prior mean rate of cell (t, k), per resource-year.
    pub fn mean(&self, resource_type: &str, kind: &str) -> f64 {
        let u = self.type_factors.get(resource_type).copied().unwrap_or(1.0);
        let v = self.kind_factors.get(kind).copied().unwrap_or(1.0);
        self.pooled * u * v
    }

    /// The structured prior of `cells`, when it beats `single` (the single fitted prior) by
    /// more than its extra parameters; `None` otherwise, or when the history is too small
    /// (fewer than 3 types or 3 kinds, or fewer than 3 incidents).
    pub fn fit(cells: &[Cell], single: Prior) -> Option<CellPrior> {
        let mut types: BTreeMap<&str, f64> = BTreeMap::new();
        let mut kinds: BTreeMap<&str, f64> = BTreeMap::new();
        for (t, k, _, _) in cells {
            types.insert(t, 1.0);
            kinds.insert(k, 1.0);
        }
        let total: usize = cells.iter().map(|c| c.2).sum();
        let exposure: f64 = cells.iter().map(|c| c.3).sum();
        if types.len() < 3 || kinds.len() < 3 || total < 3 || exposure <= 0.0 {
            return None;
        }
        let pooled = total as f64 / exposure;
        for _ in 0..3 {
            shrink(cells, pooled, &mut types, &kinds, |c| c.0, |c| c.1);
            shrink(cells, pooled, &mut kinds, &types, |c| c.1, |c| c.0);
        }
        let means: Vec<f64> = cells
            .iter()
            .map(|(t, k, _, _)| pooled * types[t] * kinds[k])
            .collect();
        let loglik = |ln_a: f64| -> f64 {
            let a = ln_a.exp();
            cells
                .iter()
                .zip(&means)
                .map(|(&(_, _, n, e), m)| negbin(n, a, a / m, e))
                .sum()
        };
        // Golden-section search on ln α in [-5, 8].
        let (mut lo, mut hi) = (-5.0f64, 8.0f64);
        let g = (5f64.sqrt() - 1.0) / 2.0;
        while hi - lo > 1e-5 {
            let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if loglik(a) < loglik(b) {
                lo = a;
            } else {
                hi = b;
            }
        }
        let ln_alpha = (lo + hi) / 2.0;
        let structured = loglik(ln_alpha);
        let flat: f64 = cells
            .iter()
            .map(|&(_, _, n, e)| negbin(n, single.alpha, single.beta, e))
            .sum();
        let gain = structured - flat;
        let extra = (types.len() + kinds.len()) as f64;
        (structured.is_finite() && gain > extra).then(|| CellPrior {
            alpha: ln_alpha.exp(),
            pooled,
            type_factors: types.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            kind_factors: kinds.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            gain,
        })
    }
}

/// ln NegBin(n | α, β/(β+T)): the marginal likelihood of `n` incidents over exposure `t`
/// under a Gamma(α, β) rate.
fn negbin(n: usize, alpha: f64, beta: f64, t: f64) -> f64 {
    let n = n as f64;
    ln_gamma(alpha + n) - ln_gamma(alpha) - ln_gamma(n + 1.0) + alpha * beta.ln()
        - (alpha + n) * (beta + t).ln()
        + n * t.max(1e-300).ln()
}

/// Re-estimates the factors of one dimension (`own` of each cell) against the other's
/// (`other`): each level's incidents against the incidents expected of it, shrunk by a Gamma
/// prior fitted to all levels (left at 1 when no prior can be fitted).
fn shrink<'a>(
    cells: &[Cell<'a>],
    pooled: f64,
    factors: &mut BTreeMap<&'a str, f64>,
    others: &BTreeMap<&'a str, f64>,
    own: impl Fn(&Cell<'a>) -> &'a str,
    other: impl Fn(&Cell<'a>) -> &'a str,
) {
    let mut sums: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for c in cells {
        let entry = sums.entry(own(c)).or_default();
        entry.0 += c.2;
        entry.1 += c.3 * pooled * others[other(c)];
    }
    let levels: Vec<(usize, f64)> = sums.values().copied().collect();
    let Some(prior) = Prior::fit(&levels) else {
        return;
    };
    for (level, (n, expected)) in sums {
        factors.insert(level, (prior.alpha + n as f64) / (prior.beta + expected));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells_of(rates: &[(&'static str, &'static str, f64)], years: f64) -> Vec<Cell<'static>> {
        rates
            .iter()
            .map(|&(t, k, r)| (t, k, (r * years).round() as usize, years))
            .collect()
    }

    #[test]
    fn recovers_a_type_and_kind_structure_and_declines_without_one() {
        // Rates = type factor × kind factor exactly: the structured prior is chosen and its
        // means follow the structure, also for a cell with no incident.
        let types = [("web", 1.0), ("db", 4.0), ("cache", 0.5), ("queue", 2.0)];
        let kinds = [
            ("kill", 2.0),
            ("pause", 0.25),
            ("latency", 1.0),
            ("cpu", 0.5),
        ];
        let mut rates = Vec::new();
        for (t, u) in types {
            for (k, v) in kinds {
                rates.push((t, k, u * v));
            }
        }
        let cells = cells_of(&rates, 20.0);
        let counts: Vec<(usize, f64)> = cells.iter().map(|c| (c.2, c.3)).collect();
        let single = Prior::fit(&counts).unwrap();
        let fitted = CellPrior::fit(&cells, single).expect("structure found");
        assert!(fitted.alpha > 5.0, "{fitted:?}");
        let db_kill = fitted.mean("db", "kill");
        let cache_pause = fitted.mean("cache", "pause");
        assert!((db_kill / 8.0 - 1.0).abs() < 0.2, "{db_kill}");
        assert!((cache_pause / 0.125 - 1.0).abs() < 0.5, "{cache_pause}");
        let p = fitted.prior("db", "kill");
        assert!((p.alpha / p.beta - db_kill).abs() < 1e-9);
        // Unknown levels take factor 1.
        assert!(
            (fitted.mean("new", "kill") - fitted.pooled * fitted.kind_factors["kill"]).abs() < 1e-9
        );
        // No structure (a checkerboard: every type and kind has the same total): declined.
        let mut flat = Vec::new();
        for (i, (t, _)) in types.iter().enumerate() {
            for (j, (k, _)) in kinds.iter().enumerate() {
                flat.push((*t, *k, if (i + j) % 2 == 0 { 4.0 } else { 0.25 }));
            }
        }
        let cells = cells_of(&flat, 20.0);
        let counts: Vec<(usize, f64)> = cells.iter().map(|c| (c.2, c.3)).collect();
        assert_eq!(CellPrior::fit(&cells, Prior::fit(&counts).unwrap()), None);
        // Too few types.
        let small = cells_of(&[("a", "x", 1.0), ("b", "y", 2.0), ("a", "y", 3.0)], 5.0);
        assert_eq!(CellPrior::fit(&small, Prior::FIXED), None);
    }
}

//! Fault rates per (resource type, fault kind) from history, with Bayesian smoothing.
//!
//! The model is Gamma–Poisson. Incidents of one kind on one resource are a Poisson process
//! with an unknown rate λ (incidents per resource per year). The prior on λ is Gamma(α₀, β₀).
//! After observing `k` incidents over an exposure of `T` resource-years the posterior is
//! Gamma(α₀ + k, β₀ + T), whose mean is (α₀ + k) / (β₀ + T). A kind never seen on a type that
//! the history does cover still gets a positive rate, α₀ / (β₀ + T), shrinking as the history
//! grows; a type the history does not mention at all keeps the prior.
//!
//! The prior is **empirical Bayes** (a hierarchical Gamma fitted to the history itself): the
//! cells are every (type, kind) pair of the types and kinds the history mentions (a kind seen on
//! one type and never on another is a zero count there), and (α₀, β₀) maximise the marginal
//! likelihood of their counts, Π NegBin(k | α₀, β₀ / (β₀ + T)) — so a short history borrows
//! strength from the other types and kinds: how common incidents are in this fleet, and how
//! much they vary from cell to cell. With fewer than 3 cells, fewer than 3 incidents, or a fit
//! that does not converge, the fixed prior Gamma(0.5, 1 year) is kept (one incident every two
//! years, worth one year of observation). `cargo bench --bench fleet` measures both on
//! simulated fleets.
//!
//! Exposure: the history covers the span from its first to its last incident (at least 30
//! days), times the number of distinct resources of the type in it (at least one).
//!
//! The probability of at least one incident within a horizon `H` (years) integrates over the
//! posterior: P = 1 − (β / (β + H))^α — the Gamma–Poisson (negative binomial) predictive.

use super::cell_prior::{Cell, CellPrior};
use super::history::History;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use super::prior::{PRIOR_ALPHA, PRIOR_BETA_YEARS, Prior, ln_gamma};

/// The shortest span a history is taken to cover.
pub const MIN_SPAN_YEARS: f64 = 30.0 / 365.25;
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// The posterior of one (resource type, fault kind) rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    pub resource_type: String,
    pub fault_kind: String,
    /// Incidents observed.
    pub count: usize,
    /// Resource-years of exposure.
    pub exposure_years: f64,
    /// Posterior shape and rate (rate in years).
    pub alpha: f64,
    pub beta: f64,
}

impl Rate {
    /// The fixed prior, or its posterior after `count` incidents over `exposure_years`.
    pub fn posterior(
        resource_type: &str,
        fault_kind: &str,
        count: usize,
        exposure_years: f64,
    ) -> Rate {
        Rate::posterior_of(
            Prior::FIXED,
            resource_type,
            fault_kind,
            count,
            exposure_years,
        )
    }

    /// `prior`'s posterior after `count` incidents over `exposure_years`.
    pub fn posterior_of(
        prior: Prior,
        resource_type: &str,
        fault_kind: &str,
        count: usize,
        exposure_years: f64,
    ) -> Rate {
        Rate {
            resource_type: resource_type.to_string(),
            fault_kind: fault_kind.to_string(),
            count,
            exposure_years,
            alpha: prior.alpha + count as f64,
            beta: prior.beta + exposure_years,
        }
    }

    /// Posterior mean, incidents per resource per year.
    pub fn mean_per_year(&self) -> f64 {
        self.alpha / self.beta
    }

    /// The central credible interval with probability `mass` (e.g. 0.9), per year.
    pub fn interval(&self, mass: f64) -> (f64, f64) {
        let tail = (1.0 - mass) / 2.0;
        (
            gamma_quantile(self.alpha, self.beta, tail),
            gamma_quantile(self.alpha, self.beta, 1.0 - tail),
        )
    }

    /// Probability of at least one incident within `horizon_years`, over the posterior.
    pub fn probability_within(&self, horizon_years: f64) -> f64 {
        1.0 - (self.beta / (self.beta + horizon_years)).powf(self.alpha)
    }
}

/// Rates learned from a history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateTable {
    /// Span covered by the history, in years.
    pub span_years: f64,
    /// Observed (type, kind) pairs.
    pub rates: Vec<Rate>,
    /// Exposure (resource-years) per resource type present in the history.
    pub exposure: BTreeMap<String, f64>,
    /// The prior every rate starts from (fitted to the history when it is large enough).
    pub prior: Prior,
    /// The per-cell prior pooling across types and kinds, when the history shows such a
    /// structure (`cell_prior.rs`); it then replaces `prior` for every cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<CellPrior>,
}

impl RateTable {
    pub fn empty() -> RateTable {
        RateTable {
            span_years: 0.0,
            rates: Vec::new(),
            exposure: BTreeMap::new(),
            prior: Prior::FIXED,
            structure: None,
        }
    }

    /// Rates with the empirical-Bayes prior fitted to `history` (see the module documentation).
    pub fn from_history(history: &History) -> RateTable {
        let fixed = RateTable::from_history_with(history, Prior::FIXED);
        let kinds: BTreeSet<&str> = fixed.rates.iter().map(|r| r.fault_kind.as_str()).collect();
        let named: Vec<Cell> = fixed
            .exposure
            .iter()
            .flat_map(|(t, exposure)| {
                let fixed = &fixed;
                kinds.iter().map(move |k| {
                    let count = fixed
                        .rates
                        .iter()
                        .find(|r| &r.resource_type == t && r.fault_kind == *k)
                        .map_or(0, |r| r.count);
                    (t.as_str(), *k, count, *exposure)
                })
            })
            .collect();
        let cells: Vec<(usize, f64)> = named.iter().map(|c| (c.2, c.3)).collect();
        let Some(prior) = Prior::fit(&cells) else {
            return fixed;
        };
        let mut table = RateTable::from_history_with(history, prior);
        if let Some(structure) = CellPrior::fit(&named, prior) {
            for rate in &mut table.rates {
                *rate = Rate::posterior_of(
                    structure.prior(&rate.resource_type, &rate.fault_kind),
                    &rate.resource_type,
                    &rate.fault_kind,
                    rate.count,
                    rate.exposure_years,
                );
            }
            table.structure = Some(structure);
        }
        table
    }

    /// Rates from `history` with a given prior.
    pub fn from_history_with(history: &History, prior: Prior) -> RateTable {
        if history.incidents.is_empty() {
            return RateTable::empty();
        }
        let span_years = (history.span_s() / SECONDS_PER_YEAR).max(MIN_SPAN_YEARS);
        let mut instances: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for i in &history.incidents {
            instances
                .entry(&i.resource_type)
                .or_default()
                .insert(&i.resource);
            *counts.entry((&i.resource_type, &i.fault_kind)).or_default() += 1;
        }
        let exposure: BTreeMap<String, f64> = instances
            .iter()
            .map(|(t, names)| (t.to_string(), span_years * names.len().max(1) as f64))
            .collect();
        let rates = counts
            .iter()
            .map(|((t, k), n)| Rate::posterior_of(prior, t, k, *n, exposure[*t]))
            .collect();
        RateTable {
            span_years,
            rates,
            exposure,
            prior,
            structure: None,
        }
    }

    /// The rate of `kind` on `resource_type`: observed, zero-count on a known type, or prior.
    pub fn rate(&self, resource_type: &str, kind: &str) -> Rate {
        if let Some(r) = self
            .rates
            .iter()
            .find(|r| r.resource_type == resource_type && r.fault_kind == kind)
        {
            return r.clone();
        }
        let exposure = self.exposure.get(resource_type).copied().unwrap_or(0.0);
        let prior = self
            .structure
            .as_ref()
            .map_or(self.prior, |s| s.prior(resource_type, kind));
        Rate::posterior_of(prior, resource_type, kind, 0, exposure)
    }

    /// Whether the history mentions this resource type.
    pub fn knows_type(&self, resource_type: &str) -> bool {
        self.exposure.contains_key(resource_type)
    }

    /// The fault kinds seen on `resource_type`.
    pub fn kinds_of(&self, resource_type: &str) -> Vec<&Rate> {
        self.rates
            .iter()
            .filter(|r| r.resource_type == resource_type)
            .collect()
    }
}

/// The regularized lower incomplete gamma function P(a, x).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let front = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series.
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum * front).min(1.0)
    } else {
        // Continued fraction for Q (Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (1.0 - front * h).max(0.0)
    }
}

/// The `p` quantile of Gamma(shape `alpha`, rate `beta`), by bisection.
pub fn gamma_quantile(alpha: f64, beta: f64, p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, (alpha / beta).max(1e-9));
    while gamma_p(alpha, hi * beta) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_p(alpha, mid * beta) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::history::parse_csv;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn special_functions_match_known_values() {
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-12));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-12
        ));
        // P(1, x) = 1 - e^-x.
        assert!(close(gamma_p(1.0, 2.0), 1.0 - (-2f64).exp(), 1e-12));
        assert!(close(gamma_p(3.0, 0.5), 0.014_387_677_966_970_687, 1e-12));
        // Exponential median: ln 2 / rate.
        assert!(close(gamma_quantile(1.0, 2.0, 0.5), 2f64.ln() / 2.0, 1e-9));
    }

    #[test]
    fn posterior_by_hand() {
        // Two resources of type postgres over exactly one year (first to last incident):
        // exposure 2 resource-years; 3 pauses → Gamma(3.5, 3): mean 3.5/3 per year.
        let text = "timestamp,resource,resource_type,fault_kind,duration,root_cause\n\
            2024-01-01T00:00:00Z,db1,postgres,pause,1s,x\n\
            2024-06-01T00:00:00Z,db2,postgres,pause,1s,x\n\
            2024-12-31T06:00:00Z,db1,postgres,pause,1s,x\n";
        let table = RateTable::from_history(&parse_csv(text).unwrap());
        assert!(close(table.span_years, 1.0, 1e-9));
        let r = table.rate("postgres", "pause");
        assert_eq!(r.count, 3);
        assert!(close(r.alpha, 3.5, 1e-12) && close(r.beta, 3.0, 1e-9));
        assert!(close(r.mean_per_year(), 3.5 / 3.0, 1e-9));
        // Never seen on a known type: Gamma(0.5, 3), mean 1/6 — small but not zero.
        let unseen = table.rate("postgres", "kill");
        assert_eq!(unseen.count, 0);
        assert!(close(unseen.mean_per_year(), 0.5 / 3.0, 1e-9));
        // An unknown type keeps the prior, mean 0.5.
        assert!(close(
            table.rate("redis", "kill").mean_per_year(),
            0.5,
            1e-12
        ));
        // P(at least one within a month) = 1 - (3 / (3 + 1/12))^3.5.
        let p = r.probability_within(1.0 / 12.0);
        assert!(close(
            p,
            1.0 - (3.0f64 / (3.0 + 1.0 / 12.0)).powf(3.5),
            1e-12
        ));
    }

    #[test]
    fn the_prior_is_fitted_to_the_history() {
        // Three types over one year, one resource each; `kill` is frequent everywhere, `pause`
        // seen once: the fitted prior's mean lies between the cells' rates, and a kind never seen
        // on a type gets less than the fixed prior's 0.5/(1+1) = 0.25 a year.
        let mut text =
            String::from("timestamp,resource,resource_type,fault_kind,duration,root_cause\n");
        for (t, n) in [("a", 6), ("b", 4), ("c", 8)] {
            for i in 0..n {
                text.push_str(&format!(
                    "2024-{:02}-01T00:00:00Z,{t}1,{t},kill,1s,x\n",
                    1 + i % 12
                ));
            }
        }
        text.push_str("2024-12-31T00:00:00Z,a1,a,pause,1s,x\n");
        text.push_str("2024-01-01T00:00:00Z,c1,c,pause,1s,x\n");
        let table = RateTable::from_history(&parse_csv(&text).unwrap());
        assert!(table.prior.fitted, "{:?}", table.prior);
        let mean = table.prior.alpha / table.prior.beta;
        assert!(mean > 0.3 && mean < 6.0, "prior mean {mean}");
        let unseen = table.rate("b", "pause").mean_per_year();
        assert!(unseen > 0.0 && unseen < table.rate("b", "kill").mean_per_year());
        // Too few cells: the fixed prior.
        let one = "timestamp,resource,resource_type,fault_kind,duration,root_cause\n\
            2024-01-01T00:00:00Z,db1,postgres,pause,1s,x\n\
            2024-06-01T00:00:00Z,db1,postgres,pause,1s,x\n\
            2024-12-01T00:00:00Z,db1,postgres,pause,1s,x\n";
        assert_eq!(
            RateTable::from_history(&parse_csv(one).unwrap()).prior,
            Prior::FIXED
        );
    }

    #[test]
    fn the_fit_recovers_a_known_prior() {
        // Cells drawn (deterministically, by quantiles) from Gamma(2, 4): rate mean 0.5/year,
        // each observed for 10 years: the fitted mean is near 0.5 and the shape is finite.
        let cells: Vec<(usize, f64)> = (0..200)
            .map(|i| {
                let lambda = gamma_quantile(2.0, 4.0, (i as f64 + 0.5) / 200.0);
                ((lambda * 10.0).round() as usize, 10.0)
            })
            .collect();
        let prior = Prior::fit(&cells).unwrap();
        let mean = prior.alpha / prior.beta;
        assert!((mean - 0.5).abs() < 0.05, "{prior:?}");
        assert!(prior.alpha > 1.0 && prior.alpha < 4.0, "{prior:?}");
    }

    #[test]
    fn sparse_history_has_wide_intervals() {
        let few = Rate::posterior("t", "k", 1, 0.5);
        let many = Rate::posterior("t", "k", 100, 50.0);
        let (lo1, hi1) = few.interval(0.9);
        let (lo2, hi2) = many.interval(0.9);
        assert!(lo1 > 0.0 && lo1 < few.mean_per_year() && few.mean_per_year() < hi1);
        assert!((hi1 - lo1) / few.mean_per_year() > 3.0 * (hi2 - lo2) / many.mean_per_year());
    }
}

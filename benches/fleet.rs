//! The risk model on simulated fleets: how good are `pfi plan`'s probabilities of "at least one
//! incident of this kind on this resource within the next 30 days" with a short (90 days) and a
//! long (2 years) history? Run with `cargo bench --bench fleet`.
//!
//! A fleet (seeded): 8 resource types with 1–20 resources each, 6 fault kinds, a true incident
//! rate per (type, kind) drawn log-uniformly over two orders of magnitude (0.1–10 a year per
//! resource), one Poisson process per resource and kind. The history is the incidents of the
//! last 90 days (or 2 years), given to `RateTable` exactly as `pfi plan` reads a history file;
//! the next 30 days are drawn from the true rates. Every (resource, kind) is one forecast.
//!
//! Printed, Brier score over 400 fleets (lower is better) and skill over climatology
//! (1 − Brier / Brier of climatology):
//! - **true rates**: 1 − e^(−λ·30 d), the best any model could do;
//! - **climatology**: one probability for every forecast, the history's pooled rate;
//! - **fixed prior**: Gamma(0.5, 1 year) per (type, kind), the model before empirical Bayes;
//! - **pfi (empirical Bayes)**: the prior fitted to the history (`Prior::fit`);
//! - **Bayes, true prior**: the ceiling for any model of the history — the posterior mean of
//!   1 − e^(−λ·30 d) under the simulator's own log-uniform prior, with the true exposure
//!   (numerical integration over λ).
//!
//! and pfi's share of the true rates' skill (the target: ≥ 90% with 90 days).
//!
//! Two simulators, both as the issue describes a fleet (rates per type and kind over two orders
//! of magnitude): **independent** cells (each (type, kind) rate drawn on its own, log-uniform
//! on 0.1–10 a year; no model can pool anything but the spread of rates, and the Bayes ceiling
//! above is exact), and **type × kind** (log10 λ = −1 + 2·(U_type + U_kind + U_cell)/3, each U
//! uniform on [0, 1): some types are flakier than others, some kinds more common everywhere,
//! and each cell has its own share; still 0.1–10 a year). The second is a choice of structure,
//! not a measurement of real fleets; both are printed. Rows: the fitted single prior alone
//! (`pfi before`: the model of the previous session) and the model `pfi plan` uses now, which
//! adds the type × kind prior (`cell_prior.rs`) when the history supports it.

use pfi::model::history::{History, Incident};
use pfi::model::rates::{Prior, RateTable};

const TYPES: usize = 8;
const KINDS: [&str; 6] = [
    "kill",
    "pause",
    "latency",
    "cpu_limit",
    "memory_limit",
    "partition",
];
const HORIZON_DAYS: f64 = 30.0;
const YEAR_DAYS: f64 = 365.25;
const FLEETS: u64 = 400;

/// SplitMix64: a small seeded generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> usize {
        // Knuth's product of uniforms (the means here stay below ~20).
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.uniform();
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }
}

struct Cell {
    resource: String,
    resource_type: String,
    kind: &'static str,
    rate_per_year: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Structure {
    Independent,
    TypeAndKind,
}

fn fleet(rng: &mut Rng, structure: Structure) -> Vec<Cell> {
    let mut cells = Vec::new();
    // (Drawn only for the structured simulator: the independent one is the previous
    // session's, draw for draw.)
    let kind_effects: Vec<f64> = match structure {
        Structure::Independent => vec![0.0; KINDS.len()],
        Structure::TypeAndKind => KINDS.iter().map(|_| rng.uniform()).collect(),
    };
    for t in 0..TYPES {
        let resources = 1 + (rng.next() % 20) as usize;
        let type_effect = match structure {
            Structure::Independent => 0.0,
            Structure::TypeAndKind => rng.uniform(),
        };
        let rates: Vec<f64> = kind_effects
            .iter()
            .map(|kind_effect| match structure {
                Structure::Independent => 10f64.powf(-1.0 + 2.0 * rng.uniform()),
                Structure::TypeAndKind => {
                    10f64.powf(-1.0 + 2.0 * (type_effect + kind_effect + rng.uniform()) / 3.0)
                }
            })
            .collect();
        for r in 0..resources {
            for (kind, rate) in KINDS.iter().zip(&rates) {
                cells.push(Cell {
                    resource: format!("type{t}-{r}"),
                    resource_type: format!("type{t}"),
                    kind,
                    rate_per_year: *rate,
                });
            }
        }
    }
    cells
}

fn history(cells: &[Cell], days: f64, rng: &mut Rng) -> History {
    let mut incidents = Vec::new();
    for c in cells {
        let n = rng.poisson(c.rate_per_year * days / YEAR_DAYS);
        for _ in 0..n {
            incidents.push(Incident {
                timestamp_s: 1.7e9 + rng.uniform() * days * 86_400.0,
                resource: c.resource.clone(),
                resource_type: c.resource_type.clone(),
                fault_kind: c.kind.to_string(),
                duration_ms: 1000.0,
                root_cause: "simulated".to_string(),
                severity: None,
                row: incidents.len() + 2,
            });
        }
    }
    incidents.sort_by(|a, b| a.timestamp_s.total_cmp(&b.timestamp_s));
    History { incidents }
}

#[derive(Default)]
struct Brier {
    truth: f64,
    climatology: f64,
    fixed: f64,
    before: f64,
    pfi: f64,
    structured: usize,
    oracle: f64,
    forecasts: usize,
}

/// E[1 − e^(−λh) | k incidents over `exposure` years], λ log-uniform on [0.1, 10] a year.
fn oracle(k: usize, exposure: f64, h: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..400 {
        let lambda = 10f64.powf(-1.0 + 2.0 * (f64::from(i) + 0.5) / 400.0);
        let w = (k as f64 * lambda.ln() - lambda * exposure).exp();
        num += w * (1.0 - (-lambda * h).exp());
        den += w;
    }
    num / den
}

fn simulate(days: f64, structure: Structure) -> Brier {
    let mut b = Brier::default();
    let horizon_years = HORIZON_DAYS / YEAR_DAYS;
    for seed in 0..FLEETS {
        let mut rng = Rng(seed.wrapping_mul(7919).wrapping_add(days as u64));
        let cells = fleet(&mut rng, structure);
        let log = history(&cells, days, &mut rng);
        let pfi = RateTable::from_history(&log);
        // The previous model: the single fitted prior (what `from_history` falls back to).
        let before = if pfi.structure.is_some() {
            b.structured += 1;
            RateTable::from_history_with(&log, pfi.prior)
        } else {
            pfi.clone()
        };
        let fixed = RateTable::from_history_with(&log, Prior::FIXED);
        let pooled = log.incidents.len() as f64 / (cells.len() as f64 * days / YEAR_DAYS);
        let p_climatology = 1.0 - (-pooled * horizon_years).exp();
        let mut counts: std::collections::HashMap<(&str, &str), usize> = Default::default();
        let mut sizes: std::collections::HashMap<&str, usize> = Default::default();
        for i in &log.incidents {
            *counts
                .entry((i.resource_type.as_str(), i.fault_kind.as_str()))
                .or_default() += 1;
        }
        for c in &cells {
            if c.kind == KINDS[0] {
                *sizes.entry(c.resource_type.as_str()).or_default() += 1;
            }
        }
        for c in &cells {
            let k = counts
                .get(&(c.resource_type.as_str(), c.kind))
                .copied()
                .unwrap_or(0);
            let exposure = sizes[c.resource_type.as_str()] as f64 * days / YEAR_DAYS;
            let p_oracle = oracle(k, exposure, horizon_years);
            let happened = f64::from(u8::from(rng.poisson(c.rate_per_year * horizon_years) > 0));
            let p_true = 1.0 - (-c.rate_per_year * horizon_years).exp();
            let p_fixed = fixed
                .rate(&c.resource_type, c.kind)
                .probability_within(horizon_years);
            let p_before = before
                .rate(&c.resource_type, c.kind)
                .probability_within(horizon_years);
            let p_pfi = pfi
                .rate(&c.resource_type, c.kind)
                .probability_within(horizon_years);
            b.truth += (p_true - happened).powi(2);
            b.climatology += (p_climatology - happened).powi(2);
            b.fixed += (p_fixed - happened).powi(2);
            b.before += (p_before - happened).powi(2);
            b.pfi += (p_pfi - happened).powi(2);
            b.oracle += (p_oracle - happened).powi(2);
            b.forecasts += 1;
        }
    }
    let n = b.forecasts as f64;
    b.truth /= n;
    b.climatology /= n;
    b.fixed /= n;
    b.before /= n;
    b.pfi /= n;
    b.oracle /= n;
    b
}

fn main() {
    println!(
        "{FLEETS} simulated fleets ({TYPES} types of 1-20 resources, {} kinds, rates 0.1-10/year), \
         P(incident within {HORIZON_DAYS} days) per resource and kind",
        KINDS.len()
    );
    println!(
        "{:<10} {:<26} {:>8} {:>8} {:>14}",
        "history", "model", "Brier", "skill", "of true skill"
    );
    for (name, structure) in [
        ("independent cells", Structure::Independent),
        ("type x kind", Structure::TypeAndKind),
    ] {
        println!("simulator: {name}");
        for (label, days) in [("90 days", 90.0), ("2 years", 2.0 * YEAR_DAYS)] {
            let b = simulate(days, structure);
            let skill = |brier: f64| 1.0 - brier / b.climatology;
            let true_skill = skill(b.truth);
            let mut rows = vec![
                ("true rates", b.truth),
                ("climatology", b.climatology),
                ("fixed prior Gamma(0.5,1y)", b.fixed),
                ("pfi before (single prior)", b.before),
                ("pfi (type x kind prior)", b.pfi),
            ];
            if structure == Structure::Independent {
                rows.push(("Bayes ceiling (indep.)", b.oracle));
            }
            for (model, brier) in rows {
                println!(
                    "{label:<10} {model:<26} {brier:>8.5} {:>8.4} {:>13.1}%",
                    skill(brier),
                    100.0 * skill(brier) / true_skill
                );
            }
            println!(
                "{label:<10} (the type x kind prior was chosen in {} of {FLEETS} fleets)",
                b.structured
            );
        }
    }
}

//! The fault injection profile: the scenario's faults ranked by how much they are worth
//! running, with their probabilities from history and the dependency map.
//!
//! A scenario is one declared fault. Its *resource* is its target, or for a fault on a link
//! the resource behind the link (its upstream, or the dependency reached through it).
//!
//! Per resource, the probability of failing within the horizon on its own (every kind its
//! type has seen) and with its dependencies (closed form on trees, seeded Monte Carlo
//! otherwise).
//!
//! - probability: P(at least one incident of the fault's kind on the resource's type within
//!   the horizon, 30 days), from the Gamma–Poisson rates (`rates.rs`). A resource without a
//!   `type` is matched by its name.
//! - impact: Σ over resources r of weight(criticality of r) × P(r fails | the scenario's
//!   resource fails), propagation along the dependency map (`propagation.rs`); weights low 1,
//!   medium 2, high 4, critical 8. A fault with no resource behind it has impact 2.
//! - score: probability × impact.
//!
//! Ranking rule: first, for every dependency edge (in the order of its best score), the
//! highest-scoring scenario that exercises it (a fault on the dependency or on the link it
//! goes through), unless an earlier pick already covers that edge; then the remaining
//! scenarios by score. Ties break by fault name. So `--profile top:N` with N at least the
//! number of coverable edges covers every dependency edge.

use super::propagation::{Graph, PROPAGATION, SAMPLES};
use super::rates::{Rate, RateTable};
use super::thresholds::link_resource;
use crate::plan::seed::stream_seed;
use crate::plan::{Criticality, Plan};
use serde::Serialize;

/// The horizon the probabilities are over.
pub const HORIZON_DAYS: f64 = 30.0;

pub fn weight(c: Criticality) -> f64 {
    match c {
        Criticality::Low => 1.0,
        Criticality::Medium => 2.0,
        Criticality::High => 4.0,
        Criticality::Critical => 8.0,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub horizon_days: f64,
    pub propagation: f64,
    pub seed: u64,
    pub resources: Vec<ResourceOutlook>,
    /// In rank order.
    pub scenarios: Vec<Scenario>,
    /// Dependency edges no scenario exercises: `from -> to`.
    pub uncovered: Vec<String>,
}

/// A resource's failure probability over the horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceOutlook {
    pub name: String,
    pub resource_type: String,
    pub criticality: Criticality,
    /// On its own, from the rates of every kind its type has seen (or the prior).
    pub own: f64,
    /// Including failures of its dependencies (seeded Monte Carlo over the map).
    pub total: f64,
    /// Something depends on it and no standby of the same type is declared.
    pub single_point_of_failure: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub rank: usize,
    pub fault: String,
    pub kind: String,
    pub target: String,
    pub resource: Option<String>,
    pub rate: Rate,
    /// 90% credible interval of the rate, per year.
    pub rate_interval: (f64, f64),
    pub probability: f64,
    pub impact: f64,
    pub score: f64,
    /// P(r fails | this scenario) per resource it reaches.
    pub reach: Vec<(String, f64)>,
    /// Dependency edges it exercises: `from -> to`.
    pub covers: Vec<String>,
    /// Why it has its rank.
    pub why: String,
}

/// The history key of a resource: its type, or its name.
fn type_of(plan: &Plan, resource: &str) -> String {
    plan.resource(resource)
        .and_then(|r| r.resource_type.clone())
        .unwrap_or_else(|| resource.to_string())
}

/// The profile of `plan` under `rates`, seeded by `seed`.
pub fn profile(plan: &Plan, rates: &RateTable, seed: u64) -> Profile {
    let horizon = HORIZON_DAYS / 365.25;
    let names: Vec<String> = plan.resources.iter().map(|r| r.name.clone()).collect();
    let edges: Vec<(String, String)> = plan
        .dependencies
        .iter()
        .map(|d| (d.from.clone(), d.to.clone()))
        .collect();
    let graph = Graph::new(names, &edges);
    let own: Vec<f64> = plan
        .resources
        .iter()
        .map(|r| {
            let t = type_of(plan, &r.name);
            let kinds = rates.kinds_of(&t);
            if kinds.is_empty() {
                rates.rate(&t, "any").probability_within(horizon)
            } else {
                1.0 - kinds
                    .iter()
                    .map(|k| 1.0 - k.probability_within(horizon))
                    .product::<f64>()
            }
        })
        .collect();
    // Exact when no two paths share an ancestor; sampled (seeded) otherwise.
    let total = if graph.is_forest() {
        graph.exact_tree(&own, PROPAGATION)
    } else {
        graph.monte_carlo(
            &own,
            PROPAGATION,
            SAMPLES,
            stream_seed(seed, "model:resources"),
        )
    };
    let resources = plan
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let t = type_of(plan, &r.name);
            let has_standby = plan.resources.iter().any(|s| {
                s.standby && s.name != r.name && s.resource_type.as_deref() == Some(t.as_str())
            });
            ResourceOutlook {
                name: r.name.clone(),
                resource_type: t,
                criticality: r.criticality,
                own: own[i],
                total: total[i],
                single_point_of_failure: !r.standby
                    && !graph.dependents(i).is_empty()
                    && !has_standby,
            }
        })
        .collect();

    let mut scenarios: Vec<Scenario> = plan
        .faults
        .iter()
        .map(|f| {
            let resource = if plan.resource(&f.target).is_some() {
                Some(f.target.clone())
            } else {
                link_resource(plan, &f.target)
            };
            let t = resource
                .as_deref()
                .map(|r| type_of(plan, r))
                .unwrap_or_else(|| f.target.clone());
            let rate = rates.rate(&t, &f.kind);
            let probability = rate.probability_within(horizon);
            let reach: Vec<(String, f64)> = match resource.as_deref().and_then(|r| graph.index(r)) {
                Some(root) => graph
                    .reach(
                        root,
                        PROPAGATION,
                        SAMPLES,
                        stream_seed(seed, &format!("model:reach:{}", f.name)),
                    )
                    .into_iter()
                    .enumerate()
                    .filter(|(_, p)| *p > 0.0)
                    .map(|(i, p)| (graph.names[i].clone(), p))
                    .collect(),
                None => Vec::new(),
            };
            let impact = if reach.is_empty() {
                weight(Criticality::Medium)
            } else {
                reach
                    .iter()
                    .map(|(r, p)| {
                        p * weight(
                            plan.resource(r)
                                .map(|r| r.criticality)
                                .unwrap_or(Criticality::Medium),
                        )
                    })
                    .sum()
            };
            let covers = plan
                .dependencies
                .iter()
                .filter(|d| {
                    resource.as_deref() == Some(d.to.as_str())
                        || d.via.as_deref() == Some(f.target.as_str())
                })
                .map(|d| format!("{} -> {}", d.from, d.to))
                .collect();
            Scenario {
                rank: 0,
                fault: f.name.clone(),
                kind: f.kind.clone(),
                target: f.target.clone(),
                resource,
                rate_interval: rate.interval(0.9),
                rate,
                probability,
                impact,
                score: probability * impact,
                reach,
                covers,
                why: String::new(),
            }
        })
        .collect();
    scenarios.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.fault.cmp(&b.fault))
    });

    // Edges in the order of their best covering scenario.
    let mut edge_list: Vec<(String, usize)> = Vec::new();
    for d in &plan.dependencies {
        let edge = format!("{} -> {}", d.from, d.to);
        if edge_list.iter().any(|(e, _)| *e == edge) {
            continue;
        }
        if let Some(best) = scenarios.iter().position(|s| s.covers.contains(&edge)) {
            edge_list.push((edge, best));
        }
    }
    edge_list.sort_by_key(|(_, best)| *best);
    let mut order: Vec<usize> = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    let mut whys: Vec<String> = vec![String::new(); scenarios.len()];
    for (edge, best) in &edge_list {
        if covered.contains(edge) {
            continue;
        }
        if !order.contains(best) {
            order.push(*best);
            whys[*best] = format!("best scenario exercising {edge}");
            covered.extend(scenarios[*best].covers.iter().cloned());
        }
    }
    for (i, why) in whys.iter_mut().enumerate() {
        if !order.contains(&i) {
            order.push(i);
            *why = "by probability × impact".to_string();
        }
    }
    let mut ranked: Vec<Scenario> = Vec::with_capacity(scenarios.len());
    for (rank, i) in order.iter().enumerate() {
        let mut s = scenarios[*i].clone();
        s.rank = rank + 1;
        s.why = std::mem::take(&mut whys[*i]);
        ranked.push(s);
    }
    let uncovered = plan
        .dependencies
        .iter()
        .map(|d| format!("{} -> {}", d.from, d.to))
        .filter(|e| !edge_list.iter().any(|(c, _)| c == e))
        .collect();
    Profile {
        horizon_days: HORIZON_DAYS,
        propagation: PROPAGATION,
        seed,
        resources,
        scenarios: ranked,
        uncovered,
    }
}

impl Profile {
    /// The faults of the top `n` scenarios.
    pub fn top(&self, n: usize) -> Vec<String> {
        self.scenarios
            .iter()
            .take(n)
            .map(|s| s.fault.clone())
            .collect()
    }

    pub fn scenario(&self, fault: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.fault == fault)
    }
}

/// Keeps only the faults named in `keep`, plus the faults they start after (so `after`
/// arrivals still have their event). Returns the names of the faults removed. The timeline
/// draws each fault from its own stream, so the kept faults keep their activations.
pub fn restrict(plan: &mut Plan, keep: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = keep.to_vec();
    loop {
        let mut added = false;
        for f in &plan.faults {
            if !kept.contains(&f.name) {
                continue;
            }
            if let crate::plan::Arrival::After { event, .. } = &f.arrival
                && plan.fault(&event.name).is_some()
                && !kept.contains(&event.name)
            {
                kept.push(event.name.clone());
                added = true;
                break;
            }
        }
        if !added {
            break;
        }
    }
    let removed = plan
        .faults
        .iter()
        .filter(|f| !kept.contains(&f.name))
        .map(|f| f.name.clone())
        .collect();
    plan.faults.retain(|f| kept.contains(&f.name));
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_text;
    use crate::model::history::parse_csv;

    const SCENARIO: &str = r#"
experiment "x" { duration 10s; seed 3 }
resource db: process ["sleep", "60"] { type postgres; criticality high }
resource cache: process ["sleep", "60"] { type redis }
resource api: process ["sleep", "60"] { type api; criticality critical }
link api_db: tcp 127.0.0.1:1 -> 127.0.0.1:2
api depends_on db via api_db
api depends_on cache
fault slow_db: latency on api_db { delay 100ms; at 1s; lasting 1s }
fault freeze_db: pause on db { at 1s; lasting 1s }
fault kill_cache: kill on cache { at 1s }
fault kill_api: kill on api { at 2s }
"#;

    // Exactly one year: 4 postgres latency, 1 postgres pause, 2 api kills.
    const HISTORY: &str = "timestamp,resource,resource_type,fault_kind,duration,root_cause\n\
        2024-01-01T00:00:00Z,db,postgres,latency,1s,x\n\
        2024-03-01T00:00:00Z,db,postgres,latency,1s,x\n\
        2024-05-01T00:00:00Z,db,postgres,latency,1s,x\n\
        2024-07-01T00:00:00Z,db,postgres,pause,1s,x\n\
        2024-09-01T00:00:00Z,db,postgres,latency,1s,x\n\
        2024-10-01T00:00:00Z,api,api,kill,1s,x\n\
        2024-12-31T06:00:00Z,api,api,kill,1s,x\n";

    fn plan() -> Plan {
        let checked = check_text(std::path::Path::new("/tmp/x.pfi"), SCENARIO);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        checked.plan.unwrap()
    }

    #[test]
    fn ranks_by_probability_times_impact_with_edge_coverage() {
        let plan = plan();
        let rates = RateTable::from_history(&parse_csv(HISTORY).unwrap());
        let p = profile(&plan, &rates, 3);
        let h = HORIZON_DAYS / 365.25;
        // slow_db: latency on postgres, Gamma(4.5, 2) → P = 1 − (2/(2+h))^4.5; it reaches db
        // (high, weight 4) and api (critical, 8) with 0.5: impact 4 + 4 = 8.
        let slow = p.scenario("slow_db").unwrap();
        let expect = 1.0 - (2.0f64 / (2.0 + h)).powf(4.5);
        assert!((slow.probability - expect).abs() < 1e-12);
        assert!((slow.impact - 8.0).abs() < 1e-12);
        // kill_api: Gamma(2.5, 2) on api (critical, 8), which nothing depends on: impact 8.
        let kill_api = p.scenario("kill_api").unwrap();
        assert!((kill_api.probability - (1.0 - (2.0f64 / (2.0 + h)).powf(2.5))).abs() < 1e-12);
        assert!((kill_api.impact - 8.0).abs() < 1e-12);
        // kill_cache: redis is not in the history: the prior Gamma(0.5, 1); impact
        // 2 (medium cache) + 0.5 × 8 (api) = 6.
        let kill_cache = p.scenario("kill_cache").unwrap();
        assert!((kill_cache.probability - (1.0 - (1.0f64 / (1.0 + h)).powf(0.5))).abs() < 1e-12);
        assert!((kill_cache.impact - 6.0).abs() < 1e-12);
        // Order: slow_db (covers api -> db, highest score), then kill_cache (the only one
        // covering api -> cache), then the rest by score: kill_api before freeze_db.
        let order: Vec<&str> = p.scenarios.iter().map(|s| s.fault.as_str()).collect();
        assert_eq!(
            order,
            vec!["slow_db", "kill_cache", "kill_api", "freeze_db"]
        );
        assert!(kill_api.score > p.scenario("freeze_db").unwrap().score);
        assert_eq!(p.top(2), vec!["slow_db", "kill_cache"]);
        assert!(p.uncovered.is_empty());
        let db = p.resources.iter().find(|r| r.name == "db").unwrap();
        assert!(db.single_point_of_failure);
        assert!(
            !p.resources
                .iter()
                .find(|r| r.name == "api")
                .unwrap()
                .single_point_of_failure
        );
    }

    #[test]
    fn restricting_keeps_the_faults_a_kept_fault_starts_after() {
        let text = SCENARIO.replace(
            "fault kill_api: kill on api { at 2s }",
            "fault kill_api: kill on api { after kill_cache.start + 1s }",
        );
        let checked = check_text(std::path::Path::new("/tmp/x.pfi"), &text);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let mut plan = checked.plan.unwrap();
        let removed = restrict(&mut plan, &["kill_api".to_string()]);
        assert_eq!(removed, vec!["slow_db", "freeze_db"]);
        let names: Vec<&str> = plan.faults.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["kill_cache", "kill_api"]);
    }

    #[test]
    fn the_profile_is_reproducible_under_a_seed() {
        let plan = plan();
        let rates = RateTable::from_history(&parse_csv(HISTORY).unwrap());
        assert_eq!(profile(&plan, &rates, 9), profile(&plan, &rates, 9));
    }
}

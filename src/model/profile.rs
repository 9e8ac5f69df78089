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
//! - code analysis (`analysis "src/"`): a resource the application's code calls without a
//!   timeout or without any handling of the failure (retry, circuit breaker, fallback) takes
//!   its dependents down more often: its propagation to each dependent is
//!   `PROPAGATION + UNGUARDED_STEP × unguarded calls`, at most `MAX_CARRY`. This raises the
//!   `total` of its dependents and the impact of every scenario on it, and the scenario's
//!   `why` says so.
//!
//! Ranking rule: first, for every dependency edge (in the order of its best score), the
//! highest-scoring scenario that exercises it (a fault on the dependency or on the link it
//! goes through), unless an earlier pick already covers that edge; then the remaining
//! scenarios by score. Ties break by fault name. So `--profile top:N` with N at least the
//! number of coverable edges covers every dependency edge.

use super::propagation::{Graph, PROPAGATION, samples_for};
use super::rates::{Rate, RateTable};
use crate::plan::seed::stream_seed;
use crate::plan::{Criticality, Plan, ResourcePlan};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How much each unguarded call to a resource adds to its propagation to its dependents.
pub const UNGUARDED_STEP: f64 = 0.1;
/// The most the propagation from a resource with unguarded calls can reach.
pub const MAX_CARRY: f64 = 0.9;

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
    /// The resources whose propagation the code analysis raised (`analysis "src/"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<CodeFinding>,
    /// Monte Carlo samples behind the resources' `total` (absent: the closed form, the map
    /// is a forest). Fewer than `propagation::SAMPLES` on a very large map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_samples: Option<usize>,
    /// Monte Carlo samples behind the reach of the scenarios whose resource reaches something
    /// along two paths (absent: none does, every reach is in closed form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach_samples: Option<usize>,
    /// The prior the rates start from (absent without a history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_prior: Option<super::risk_prior::RiskPrior>,
}

/// A resource the application's code calls, and how its propagation changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeFinding {
    pub resource: String,
    /// The dependencies of the code that reach it, as the code names them.
    pub dependencies: Vec<String>,
    pub calls: usize,
    pub unguarded: usize,
    /// Its propagation to each dependent.
    pub carry: f64,
    /// `file:line:column` of the worst unguarded call.
    pub worst: Option<String>,
}

/// The resources the code analysis of `plan` reaches, in resource order, with their raised
/// propagation.
pub fn code_findings(plan: &Plan) -> Vec<CodeFinding> {
    let Some(analysis) = &plan.analysis else {
        return Vec::new();
    };
    let mut out: Vec<CodeFinding> = Vec::new();
    for r in &plan.resources {
        let mut finding = CodeFinding {
            resource: r.name.clone(),
            dependencies: Vec::new(),
            calls: 0,
            unguarded: 0,
            carry: PROPAGATION,
            worst: None,
        };
        for d in &analysis.dependencies {
            if d.resource.as_deref() == Some(r.name.as_str()) {
                finding.dependencies.push(d.dependency.clone());
                finding.calls += d.calls;
                finding.unguarded += d.unguarded;
                if finding.worst.is_none() {
                    finding.worst = d.worst.clone();
                }
            }
        }
        if finding.calls == 0 {
            continue;
        }
        finding.carry = (PROPAGATION + UNGUARDED_STEP * finding.unguarded as f64).min(MAX_CARRY);
        out.push(finding);
    }
    out
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
    /// P(r fails | this scenario) per resource it reaches (shared by the scenarios on the
    /// same resource).
    pub reach: Arc<[(String, f64)]>,
    /// Dependency edges it exercises: `from -> to`.
    pub covers: Vec<String>,
    /// Why it has its rank.
    pub why: String,
}

/// Name lookups into a plan, built once: the first resource or link of a name, and the first
/// dependency through each link (what `Plan::resource`, `Plan::link` and
/// `thresholds::link_resource` find, without a scan per question).
pub struct Lookup<'a> {
    plan: &'a Plan,
    resources: HashMap<&'a str, usize>,
    links: HashMap<&'a str, usize>,
    via: HashMap<&'a str, usize>,
}

impl<'a> Lookup<'a> {
    pub fn new(plan: &'a Plan) -> Lookup<'a> {
        let mut resources = HashMap::with_capacity(plan.resources.len());
        for (i, r) in plan.resources.iter().enumerate() {
            resources.entry(r.name.as_str()).or_insert(i);
        }
        let mut links = HashMap::with_capacity(plan.links.len());
        for (i, l) in plan.links.iter().enumerate() {
            links.entry(l.name.as_str()).or_insert(i);
        }
        let mut via = HashMap::new();
        for (i, d) in plan.dependencies.iter().enumerate() {
            if let Some(v) = d.via.as_deref() {
                via.entry(v).or_insert(i);
            }
        }
        Lookup {
            plan,
            resources,
            links,
            via,
        }
    }

    pub fn resource(&self, name: &str) -> Option<&'a ResourcePlan> {
        let plan = self.plan;
        self.resources.get(name).map(|i| &plan.resources[*i])
    }

    /// The resource behind a link: its upstream resource, or the dependency reached through
    /// it (as `thresholds::link_resource`).
    pub fn link_resource(&self, link: &str) -> Option<String> {
        let l = &self.plan.links[*self.links.get(link)?];
        l.upstream_resource.clone().or_else(|| {
            self.via
                .get(link)
                .map(|d| self.plan.dependencies[*d].to.clone())
        })
    }

    /// The history key of a resource: its type, or its name.
    pub fn type_of(&self, resource: &str) -> String {
        self.resource(resource)
            .and_then(|r| r.resource_type.clone())
            .unwrap_or_else(|| resource.to_string())
    }
}

/// The reach of one resource and the impact it makes: shared by every scenario on it.
struct RootReach {
    reach: Arc<[(String, f64)]>,
    impact: f64,
}

/// What the profile derives from a rate: a function of its posterior (α, β) alone, so
/// computed once per distinct posterior (every type without history shares the prior).
#[derive(Clone, Copy)]
struct RateFigures {
    interval: (f64, f64),
    probability: f64,
}

/// The profile of `plan` under `rates`, seeded by `seed`.
///
/// O((V + E + F) log) plus what the reach of the scenarios' resources takes: the
/// resources downstream of each distinct one, once.
pub fn profile(plan: &Plan, rates: &RateTable, seed: u64) -> Profile {
    let horizon = HORIZON_DAYS / 365.25;
    let lookup = Lookup::new(plan);
    let names: Vec<String> = plan.resources.iter().map(|r| r.name.clone()).collect();
    let edges: Vec<(String, String)> = plan
        .dependencies
        .iter()
        .map(|d| (d.from.clone(), d.to.clone()))
        .collect();
    let mut graph = Graph::new(names, &edges);
    let analysis = code_findings(plan);
    for f in &analysis {
        if let Some(i) = graph.index(&f.resource) {
            graph.set_carry(i, f.carry);
        }
    }
    let mut own_of_type: HashMap<String, f64> = HashMap::new();
    let types: Vec<String> = plan
        .resources
        .iter()
        .map(|r| lookup.type_of(&r.name))
        .collect();
    let own: Vec<f64> = types
        .iter()
        .map(|t| {
            *own_of_type.entry(t.clone()).or_insert_with(|| {
                let kinds = rates.kinds_of(t);
                if kinds.is_empty() {
                    rates.rate(t, "any").probability_within(horizon)
                } else {
                    1.0 - kinds
                        .iter()
                        .map(|k| 1.0 - k.probability_within(horizon))
                        .product::<f64>()
                }
            })
        })
        .collect();
    // Exact when no two paths share an ancestor; sampled (seeded) otherwise, with fewer
    // samples on a map too large for the full count.
    let total_samples = (!graph.is_forest()).then(|| samples_for(graph.len() + graph.edge_count()));
    let total = match total_samples {
        None => graph.exact_tree(&own, PROPAGATION),
        Some(samples) => graph.monte_carlo(
            &own,
            PROPAGATION,
            samples,
            stream_seed(seed, "model:resources"),
        ),
    };
    // Standby resources per type.
    let mut standbys: HashMap<&str, usize> = HashMap::new();
    for s in &plan.resources {
        if s.standby
            && let Some(t) = s.resource_type.as_deref()
        {
            *standbys.entry(t).or_default() += 1;
        }
    }
    let resources = plan
        .resources
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (r, t))| {
            // A standby of the same type other than r itself.
            let itself = usize::from(r.standby && r.resource_type.as_deref() == Some(t.as_str()));
            let has_standby = standbys.get(t.as_str()).copied().unwrap_or(0) > itself;
            ResourceOutlook {
                name: r.name.clone(),
                resource_type: t,
                criticality: r.criticality,
                own: own[i],
                total: total[i],
                single_point_of_failure: !r.standby
                    && graph
                        .index(&r.name)
                        .is_some_and(|g| !graph.dependents(g).is_empty())
                    && !has_standby,
            }
        })
        .collect();

    // The resource behind each fault, and the graph node it is.
    let fault_resources: Vec<Option<String>> = plan
        .faults
        .iter()
        .map(|f| {
            if lookup.resource(&f.target).is_some() {
                Some(f.target.clone())
            } else {
                lookup.link_resource(&f.target)
            }
        })
        .collect();
    let mut roots: Vec<usize> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    for r in fault_resources.iter().flatten() {
        if let Some(i) = graph.index(r)
            && seen.insert(i)
        {
            roots.push(i);
        }
    }
    // The reach of a resource is its own (seeded by its name, whichever fault asks): sampled
    // only from a resource that reaches something along two paths, over what is downstream
    // of it, with the draws of all of them together held to the budget.
    let sampled_draws: usize = roots
        .iter()
        .map(|r| graph.downstream(*r))
        .filter(|d| !d.tree)
        .map(|d| d.edges.max(1))
        .fold(0usize, usize::saturating_add);
    let reach_samples = (sampled_draws > 0).then(|| samples_for(sampled_draws));
    let mut reaches: HashMap<usize, RootReach> = HashMap::with_capacity(roots.len());
    for root in roots {
        let name = &graph.names()[root];
        let reach: Vec<(String, f64)> = graph
            .reach(
                root,
                PROPAGATION,
                reach_samples.unwrap_or(0),
                stream_seed(seed, &format!("model:reach:{name}")),
            )
            .probabilities
            .into_iter()
            .filter(|(_, p)| *p > 0.0)
            .map(|(i, p)| (graph.names()[i].clone(), p))
            .collect();
        // A resource's criticality by its graph index (the first resource of its name).
        let impact = if reach.is_empty() {
            weight(Criticality::Medium)
        } else {
            reach
                .iter()
                .map(|(r, p)| {
                    p * weight(
                        lookup
                            .resource(r)
                            .map(|r| r.criticality)
                            .unwrap_or(Criticality::Medium),
                    )
                })
                .sum()
        };
        let reach = reach.into();
        reaches.insert(root, RootReach { reach, impact });
    }

    // Dependencies by the resource they reach and by the link they go through.
    let edge_text: Vec<String> = plan
        .dependencies
        .iter()
        .map(|d| format!("{} -> {}", d.from, d.to))
        .collect();
    let mut by_to: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_via: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, d) in plan.dependencies.iter().enumerate() {
        by_to.entry(d.to.as_str()).or_default().push(k);
        if let Some(v) = d.via.as_deref() {
            by_via.entry(v).or_default().push(k);
        }
    }
    let mut rate_cache: HashMap<(String, String), Rate> = HashMap::new();
    let mut figures_cache: HashMap<(u64, u64), RateFigures> = HashMap::new();
    let mut scenarios: Vec<Scenario> = plan
        .faults
        .iter()
        .zip(fault_resources)
        .map(|(f, resource)| {
            let t = resource
                .as_deref()
                .map(|r| lookup.type_of(r))
                .unwrap_or_else(|| f.target.clone());
            let rate = rate_cache
                .entry((t, f.kind.clone()))
                .or_insert_with_key(|(t, kind)| rates.rate(t, kind))
                .clone();
            let figures = *figures_cache
                .entry((rate.alpha.to_bits(), rate.beta.to_bits()))
                .or_insert_with(|| RateFigures {
                    interval: rate.interval(0.9),
                    probability: rate.probability_within(horizon),
                });
            let probability = figures.probability;
            let root = resource
                .as_deref()
                .and_then(|r| graph.index(r))
                .and_then(|i| reaches.get(&i));
            let (reach, impact) = match root {
                Some(r) => (r.reach.clone(), r.impact),
                None => (Arc::from([]), weight(Criticality::Medium)),
            };
            // The dependencies on its resource and through its target, in dependency order.
            let mut covering: Vec<usize> = Vec::new();
            if let Some(ks) = resource.as_deref().and_then(|r| by_to.get(r)) {
                covering.extend(ks);
            }
            if let Some(ks) = by_via.get(f.target.as_str()) {
                covering.extend(ks);
                covering.sort_unstable();
                covering.dedup();
            }
            let covers = covering.iter().map(|k| edge_text[*k].clone()).collect();
            Scenario {
                rank: 0,
                fault: f.name.clone(),
                kind: f.kind.clone(),
                target: f.target.clone(),
                resource,
                rate_interval: figures.interval,
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

    let Ranking {
        order,
        mut whys,
        uncovered,
    } = rank(&scenarios, &edge_text);
    let mut slots: Vec<Option<Scenario>> = scenarios.into_iter().map(Some).collect();
    let ranked: Vec<Scenario> = order
        .iter()
        .enumerate()
        .filter_map(|(rank, i)| {
            let mut s = slots[*i].take()?;
            s.rank = rank + 1;
            s.why = std::mem::take(&mut whys[*i]);
            let unguarded = analysis
                .iter()
                .find(|f| f.unguarded > 0 && s.resource.as_deref() == Some(f.resource.as_str()));
            if let Some(f) = unguarded {
                s.why.push_str(&format!(
                    "; {} unguarded call{} to {} in the code (propagation {:.2})",
                    f.unguarded,
                    if f.unguarded == 1 { "" } else { "s" },
                    f.resource,
                    f.carry
                ));
            }
            Some(s)
        })
        .collect();
    Profile {
        horizon_days: HORIZON_DAYS,
        propagation: PROPAGATION,
        seed,
        resources,
        scenarios: ranked,
        uncovered,
        analysis,
        total_samples,
        reach_samples,
        risk_prior: super::risk_prior::RiskPrior::of(rates),
    }
}

/// The ranking of `scenarios` (sorted by score, then fault name) over the dependency edges
/// `edges` (`from -> to`, in dependency order).
struct Ranking {
    /// Indices into the scenarios, in rank order.
    order: Vec<usize>,
    /// Per scenario, why it has its rank.
    whys: Vec<String>,
    /// The edges no scenario exercises.
    uncovered: Vec<String>,
}

/// The ranking rule of the module documentation, with hash lookups: O(F + E) beside the
/// covers themselves.
fn rank(scenarios: &[Scenario], edge_text: &[String]) -> Ranking {
    // Each edge's best covering scenario: the first in score order.
    let mut best_of: HashMap<&str, usize> = HashMap::new();
    for (i, s) in scenarios.iter().enumerate() {
        for e in &s.covers {
            best_of.entry(e.as_str()).or_insert(i);
        }
    }
    // Edges in the order of their best covering scenario (ties: dependency order).
    let mut listed: HashSet<&str> = HashSet::new();
    let mut edge_list: Vec<(&str, usize)> = Vec::new();
    for edge in edge_text {
        if let Some(best) = best_of.get(edge.as_str())
            && listed.insert(edge.as_str())
        {
            edge_list.push((edge.as_str(), *best));
        }
    }
    edge_list.sort_by_key(|(_, best)| *best);
    let mut order: Vec<usize> = Vec::with_capacity(scenarios.len());
    let mut picked = vec![false; scenarios.len()];
    let mut covered: HashSet<&str> = HashSet::new();
    let mut whys: Vec<String> = vec![String::new(); scenarios.len()];
    for (edge, best) in &edge_list {
        if covered.contains(edge) {
            continue;
        }
        if !picked[*best] {
            picked[*best] = true;
            order.push(*best);
            whys[*best] = format!("best scenario exercising {edge}");
            covered.extend(scenarios[*best].covers.iter().map(String::as_str));
        }
    }
    for (i, why) in whys.iter_mut().enumerate() {
        if !picked[i] {
            order.push(i);
            *why = "by probability × impact".to_string();
        }
    }
    let uncovered: Vec<String> = edge_text
        .iter()
        .filter(|e| !best_of.contains_key(e.as_str()))
        .cloned()
        .collect();
    Ranking {
        order,
        whys,
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

/// The fault injection profile of a checked plan: rates from its history (if any), which the
/// checker loaded into the plan.
pub fn profile_of(plan: &Plan, seed: u64) -> Result<Profile, String> {
    let rates = match (&plan.experiment.history, &plan.loaded.incidents) {
        (None, _) => RateTable::empty(),
        (Some(_), Some(history)) => RateTable::from_history(history),
        (Some(path), None) => {
            return Err(format!(
                "history file `{}` was not loaded by the checker",
                path.display()
            ));
        }
    };
    Ok(profile(plan, &rates, seed))
}

/// Reads a profile selection, `top:N` with N ≥ 1 (`pfi run --profile`, the service's
/// `profile` field).
pub fn parse_top(text: &str) -> Result<usize, String> {
    text.strip_prefix("top:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a profile selection; write `top:N` with N ≥ 1"))
}

/// Keeps only the faults named in `keep`, plus the faults they start after (so `after`
/// arrivals still have their event). Returns the names of the faults removed. The timeline
/// draws each fault from its own stream, so the kept faults keep their activations.
pub fn restrict(plan: &mut Plan, keep: &[String]) -> Vec<String> {
    let faults: HashMap<&str, &crate::plan::FaultPlan> = plan
        .faults
        .iter()
        .rev()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let mut kept: HashSet<String> = keep.iter().cloned().collect();
    let mut pending: Vec<&str> = keep.iter().map(String::as_str).collect();
    while let Some(name) = pending.pop() {
        let Some(f) = faults.get(name) else {
            continue;
        };
        if let crate::plan::Arrival::After { event, .. } = &f.arrival
            && faults.contains_key(event.name.as_str())
            && kept.insert(event.name.clone())
        {
            pending.push(event.name.as_str());
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
        // The fixed prior, so the probabilities can be checked by hand.
        let rates = RateTable::from_history_with(
            &parse_csv(HISTORY).unwrap(),
            crate::model::rates::Prior::FIXED,
        );
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

    /// The ranking before it used hash lookups, as the reference.
    fn reference_rank(
        scenarios: &[Scenario],
        edges: &[String],
    ) -> (Vec<usize>, Vec<String>, Vec<String>) {
        let mut edge_list: Vec<(String, usize)> = Vec::new();
        for edge in edges {
            if edge_list.iter().any(|(e, _)| e == edge) {
                continue;
            }
            if let Some(best) = scenarios.iter().position(|s| s.covers.contains(edge)) {
                edge_list.push((edge.clone(), best));
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
        let uncovered = edges
            .iter()
            .filter(|e| !edge_list.iter().any(|(c, _)| c == *e))
            .cloned()
            .collect();
        (order, whys, uncovered)
    }

    #[test]
    fn the_ranking_equals_the_reference_on_random_scenarios() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let template = profile(&plan(), &RateTable::empty(), 1).scenarios[0].clone();
        let mut picks = 0;
        for _ in 0..2_000 {
            let n_edges = rng.random_range(0..8);
            // Repeated edges too, as a map may declare one twice.
            let edges: Vec<String> = (0..n_edges)
                .map(|_| format!("r{} -> r{}", rng.random_range(0..4), rng.random_range(0..4)))
                .collect();
            let scenarios: Vec<Scenario> = (0..rng.random_range(0..8))
                .map(|i| {
                    let mut s = template.clone();
                    s.fault = format!("f{i}");
                    s.covers = edges
                        .iter()
                        .filter(|_| rng.random::<f64>() < 0.3)
                        .cloned()
                        .collect();
                    s
                })
                .collect();
            let ranking = rank(&scenarios, &edges);
            let (order, whys, uncovered) = reference_rank(&scenarios, &edges);
            assert_eq!(ranking.order, order, "{edges:?}");
            assert_eq!(ranking.whys, whys);
            assert_eq!(ranking.uncovered, uncovered);
            picks += whys.iter().filter(|w| w.starts_with("best")).count();
        }
        assert!(picks > 1_000, "{picks}");
    }

    #[test]
    fn a_profile_of_ten_thousand_resources_and_twenty_thousand_faults_is_quick() {
        // A binary tree of 10,000 resources, a fault on every resource and one on every link
        // in front of one: the old profile walked the whole map for every resource of every
        // fault (hours); this is linear but for the reach of each resource.
        let small = plan();
        let mut big = small.clone();
        big.resources.clear();
        big.dependencies.clear();
        big.faults.clear();
        big.links.clear();
        let n = 10_000;
        for i in 0..n {
            let mut r = small.resources[0].clone();
            r.name = format!("r{i}");
            big.resources.push(r);
            if i > 0 {
                let mut d = small.dependencies[0].clone();
                d.from = format!("r{i}");
                d.to = format!("r{}", (i - 1) / 2);
                d.via = None;
                big.dependencies.push(d);
            }
            let mut l = small.links[0].clone();
            l.name = format!("l{i}");
            l.upstream_resource = Some(format!("r{i}"));
            big.links.push(l);
        }
        for i in 0..2 * n {
            let mut f = small.faults[if i % 2 == 0 { 0 } else { 2 }].clone();
            f.name = format!("f{i}");
            f.target = format!("{}{}", if i % 2 == 0 { "l" } else { "r" }, i % n);
            big.faults.push(f);
        }
        let started = std::time::Instant::now();
        let p = profile(&big, &RateTable::empty(), 7);
        let elapsed = started.elapsed();
        assert_eq!(p.scenarios.len(), 2 * n);
        assert!(p.uncovered.is_empty());
        assert_eq!((p.total_samples, p.reach_samples), (None, None));
        // r0 reaches everything; depth d is reached with 0.5^d.
        let top = p.scenario("f0").unwrap();
        assert_eq!(top.reach.len(), n);
        assert_eq!(top.reach[2], ("r2".to_string(), 0.5));
        assert_eq!(top.reach[3], ("r3".to_string(), 0.25));
        // Every edge is covered by a fault on its dependency, so the first n - 1 ranks
        // (at most) are coverage picks: the faults on resources with dependents.
        let picks = p
            .scenarios
            .iter()
            .filter(|s| s.why.starts_with("best"))
            .count();
        assert_eq!(picks, n / 2);
        assert!(
            p.resources
                .iter()
                .filter(|r| r.single_point_of_failure)
                .count()
                == n / 2,
        );
        // Generous for a debug build on a shared machine; the old code did not finish.
        assert!(elapsed.as_secs() < 20, "{elapsed:?}");
    }

    #[test]
    fn the_profile_is_reproducible_under_a_seed() {
        let plan = plan();
        let rates = RateTable::from_history(&parse_csv(HISTORY).unwrap());
        assert_eq!(profile(&plan, &rates, 9), profile(&plan, &rates, 9));
    }

    #[test]
    fn a_profile_selection_is_top_n_with_n_at_least_one() {
        assert_eq!(parse_top("top:3"), Ok(3));
        for bad in ["top:0", "top:", "3", "top:x", "first:2"] {
            let err = parse_top(bad).unwrap_err();
            assert!(err.contains("write `top:N`"), "{bad}: {err}");
        }
    }

    #[test]
    fn profile_of_refuses_a_history_the_checker_did_not_load() {
        let mut plan = check_text(std::path::Path::new("x.pfi"), SCENARIO)
            .plan
            .expect("checks");
        let profile = profile_of(&plan, 3).expect("no history: empty rates");
        assert!(!profile.scenarios.is_empty());
        plan.experiment.history = Some("h.csv".into());
        plan.loaded.incidents = None;
        let err = profile_of(&plan, 3).unwrap_err();
        assert!(err.contains("was not loaded by the checker"), "{err}");
    }
}

//! Failure propagation over the dependency map.
//!
//! Each resource fails on its own with probability `p` (from the rates) and, in addition,
//! when one of its dependencies fails, with probability `q` per edge (`PROPAGATION`): a
//! dependency's failure does not always take its dependent down (retries, caches, slack).
//! The map is acyclic (the checker rejects cycles), so resources are visited in dependency
//! order. `monte_carlo` samples the whole graph under a seed, which stays right when two
//! paths share an ancestor; `exact_tree` is the closed form for maps without shared
//! ancestors, used to check the sampler.
//!
//! Everything a graph needs more than once (the name index, the dependents, the visit order,
//! whether it is a forest) is computed once, in `Graph::new`, in O(V + E) (the forest test
//! falls back to one walk per resource only for a map with a cycle in its undirected form).
//! `reach` only looks at what lies downstream of its root.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Probability that a dependency's failure takes a dependent down.
pub const PROPAGATION: f64 = 0.5;
/// Monte Carlo samples per estimate.
pub const SAMPLES: usize = 20_000;
/// The fewest samples an estimate is given, however large the map (a standard error of at
/// most 0.016).
pub const MIN_SAMPLES: usize = 1_000;
/// Random draws one estimate may take in all: on a map so large that `SAMPLES` samples would
/// take more, an estimate gets fewer samples (see `samples_for`), and says so.
pub const DRAW_BUDGET: usize = 50_000_000;

/// The samples for an estimate that draws `draws_per_sample` numbers per sample: `SAMPLES`,
/// unless that exceeds `DRAW_BUDGET`; never fewer than `MIN_SAMPLES`.
pub fn samples_for(draws_per_sample: usize) -> usize {
    (DRAW_BUDGET / draws_per_sample.max(1)).clamp(MIN_SAMPLES, SAMPLES)
}

/// The dependency map as indices: `deps[i]` are the resources `i` depends on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    names: Vec<String>,
    deps: Vec<Vec<usize>>,
    #[serde(skip)]
    index: HashMap<String, usize>,
    /// `dependents[i]`: the resources that depend on `i`, directly, in input order.
    #[serde(skip)]
    dependents: Vec<Vec<usize>>,
    /// Visit order: dependencies first (see `dependency_order`).
    #[serde(skip)]
    order: Vec<usize>,
    /// `position[i]`: where `i` is in `order`.
    #[serde(skip)]
    position: Vec<usize>,
    #[serde(skip)]
    acyclic: bool,
    #[serde(skip)]
    forest: bool,
    /// Per resource, the probability that its failure takes each dependent down, where it
    /// differs from the `q` the methods are given (`set_carry`).
    #[serde(skip)]
    carry: Vec<Option<f64>>,
}

/// What lies downstream of a resource (itself and everything that depends on it, directly or
/// not), found by `Graph::downstream`.
#[derive(Debug, Clone, PartialEq)]
pub struct Downstream {
    /// In discovery order, the root first; every resource after the one it was found from.
    pub nodes: Vec<usize>,
    /// `parent[k]`: the position in `nodes` of the resource `nodes[k]` was found from
    /// (`usize::MAX` for the root).
    parent: Vec<usize>,
    /// Whether every resource downstream is reached along exactly one path, so the closed
    /// form is exact for this root.
    pub tree: bool,
    /// Dependency edges between the resources downstream.
    pub edges: usize,
}

/// P(r fails | the root fails), for the resources `r` downstream of the root, by index.
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    pub probabilities: Vec<(usize, f64)>,
    /// Whether it was sampled (Monte Carlo) rather than computed in closed form.
    pub sampled: bool,
}

impl Graph {
    /// Builds the graph from names and `(dependent, dependency)` edges. Edges naming an
    /// unknown resource are ignored, and so are repeated edges.
    pub fn new(names: Vec<String>, edges: &[(String, String)]) -> Graph {
        let mut index: HashMap<String, usize> = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        let mut deps = vec![Vec::new(); names.len()];
        let mut seen: HashSet<(usize, usize)> = HashSet::with_capacity(edges.len());
        for (from, to) in edges {
            if let (Some(&f), Some(&t)) = (index.get(from.as_str()), index.get(to.as_str()))
                && seen.insert((f, t))
            {
                deps[f].push(t);
            }
        }
        let mut dependents = vec![Vec::new(); names.len()];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        let (order, acyclic) = dependency_order(&deps, &dependents);
        let mut position = vec![0; names.len()];
        for (k, &i) in order.iter().enumerate() {
            position[i] = k;
        }
        let mut graph = Graph {
            names,
            deps,
            index,
            dependents,
            order,
            position,
            acyclic,
            forest: false,
            carry: Vec::new(),
        };
        graph.forest = graph.compute_forest();
        graph
    }

    /// The probability that `i`'s failure takes each of its dependents down: `q` unless
    /// `set_carry` said otherwise.
    pub fn carry(&self, i: usize, q: f64) -> f64 {
        self.carry.get(i).copied().flatten().unwrap_or(q)
    }

    /// From now on, `i`'s failure takes each of its dependents down with probability `q`
    /// (clamped to [0, 1]) instead of the default the methods are given.
    pub fn set_carry(&mut self, i: usize, q: f64) {
        if i >= self.names.len() {
            return;
        }
        if self.carry.is_empty() {
            self.carry = vec![None; self.names.len()];
        }
        self.carry[i] = Some(q.clamp(0.0, 1.0));
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Dependency edges (repeated edges counted once).
    pub fn edge_count(&self) -> usize {
        self.deps.iter().map(Vec::len).sum()
    }

    /// The resources `i` depends on, directly.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The resources that depend on `i`, directly, in input order.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// Visit order: dependencies first. Resources go by pass, as repeated passes over the
    /// input order would place them (a resource is placed in the first pass in which every
    /// one of its dependencies is already placed), so an input already in dependency order is
    /// kept as it is. Resources in or behind a cycle go last, in input order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Per resource, the probability that it fails (on its own or through its
    /// dependencies), estimated from `samples` seeded draws.
    pub fn monte_carlo(&self, own: &[f64], q: f64, samples: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut failures = vec![0usize; self.names.len()];
        let mut failed = vec![false; self.names.len()];
        for _ in 0..samples {
            for &i in &self.order {
                let mut f = rng.random::<f64>() < own[i];
                for &d in &self.deps[i] {
                    // Draw for every edge, so the stream does not depend on earlier outcomes.
                    let carries = rng.random::<f64>() < self.carry(d, q);
                    f |= failed[d] && carries;
                }
                failed[i] = f;
                failures[i] += usize::from(f);
            }
        }
        failures
            .iter()
            .map(|n| *n as f64 / samples.max(1) as f64)
            .collect()
    }

    /// The closed form for maps where no two dependencies share an ancestor:
    /// P(i) = 1 − (1 − own(i)) · Π over dependencies d of (1 − q · P(d)).
    pub fn exact_tree(&self, own: &[f64], q: f64) -> Vec<f64> {
        let mut p = vec![0.0; self.names.len()];
        for &i in &self.order {
            let survive: f64 = self.deps[i]
                .iter()
                .map(|d| 1.0 - self.carry(*d, q) * p[*d])
                .product();
            p[i] = 1.0 - (1.0 - own[i]) * survive;
        }
        p
    }

    /// `root` and everything downstream of it, in O(what is downstream).
    pub fn downstream(&self, root: usize) -> Downstream {
        let mut nodes = vec![root];
        let mut parent = vec![usize::MAX];
        let mut local: HashMap<usize, usize> = HashMap::from([(root, 0)]);
        let mut tree = true;
        let mut edges = 0;
        let mut next = 0;
        while next < nodes.len() {
            let u = nodes[next];
            for &v in &self.dependents[u] {
                edges += 1;
                match local.entry(v) {
                    // A second edge into `v` from downstream of the root: a second path.
                    std::collections::hash_map::Entry::Occupied(_) => tree = false,
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(nodes.len());
                        nodes.push(v);
                        parent.push(next);
                    }
                }
            }
            next += 1;
        }
        Downstream {
            nodes,
            parent,
            tree,
            edges,
        }
    }

    /// Given that `root` fails, the probability that each resource fails because of it: the
    /// resources downstream of `root` (every other one is 0), by index.
    ///
    /// When every resource downstream is reached along one path, the closed form (the same
    /// numbers `exact_tree` gives); otherwise `samples` seeded draws over what is downstream.
    pub fn reach(&self, root: usize, q: f64, samples: usize, seed: u64) -> Reach {
        self.reach_in(&self.downstream(root), q, samples, seed)
    }

    /// `reach` on what `downstream` found.
    pub fn reach_in(&self, down: &Downstream, q: f64, samples: usize, seed: u64) -> Reach {
        let root = down.nodes[0];
        if !self.acyclic {
            // Only unchecked maps have cycles: the whole-graph methods, as they come.
            let own: Vec<f64> = (0..self.len())
                .map(|i| if i == root { 1.0 } else { 0.0 })
                .collect();
            let (p, sampled) = if self.forest {
                (self.exact_tree(&own, q), false)
            } else {
                (self.monte_carlo(&own, q, samples, seed), true)
            };
            return Reach {
                probabilities: p.into_iter().enumerate().collect(),
                sampled,
            };
        }
        let mut probabilities: Vec<(usize, f64)> = if down.tree {
            // One path to each: P(v) = 1 − (1 − q · P(parent)); every other dependency of v
            // is not downstream and contributes a factor of exactly 1, as in `exact_tree`.
            let mut p = vec![0.0; down.nodes.len()];
            for k in 0..down.nodes.len() {
                p[k] = if k == 0 {
                    1.0
                } else {
                    let parent = down.parent[k];
                    1.0 - (1.0 - self.carry(down.nodes[parent], q) * p[parent])
                };
            }
            down.nodes.iter().copied().zip(p).collect()
        } else {
            self.sample_downstream(down, q, samples, seed)
        };
        probabilities.sort_unstable_by_key(|(i, _)| *i);
        Reach {
            probabilities,
            sampled: !down.tree,
        }
    }

    /// Monte Carlo over what is downstream of a root that has failed: per sample, one draw
    /// per edge out of a resource that failed in it (so a sample costs at most one draw per
    /// edge downstream, usually far fewer).
    fn sample_downstream(
        &self,
        down: &Downstream,
        q: f64,
        samples: usize,
        seed: u64,
    ) -> Vec<(usize, f64)> {
        let mut nodes = down.nodes.clone();
        nodes.sort_unstable_by_key(|i| self.position[*i]);
        let local: HashMap<usize, usize> = nodes.iter().enumerate().map(|(k, i)| (*i, k)).collect();
        let deps: Vec<Vec<usize>> = nodes
            .iter()
            .map(|i| {
                self.deps[*i]
                    .iter()
                    .filter_map(|d| local.get(d).copied())
                    .collect()
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut failures = vec![0usize; nodes.len()];
        let mut failed = vec![false; nodes.len()];
        for _ in 0..samples {
            // The root is first in dependency order and always fails.
            failed[0] = true;
            failures[0] += 1;
            for k in 1..nodes.len() {
                let mut f = false;
                for &d in &deps[k] {
                    // Once `k` has failed, its other edges change nothing.
                    if !f && failed[d] {
                        f = rng.random::<f64>() < self.carry(nodes[d], q);
                    }
                }
                failed[k] = f;
                failures[k] += usize::from(f);
            }
        }
        nodes
            .into_iter()
            .zip(failures)
            .map(|(i, n)| (i, n as f64 / samples.max(1) as f64))
            .collect()
    }

    /// Whether no resource can be reached from another along two different paths, so the
    /// closed form is exact.
    pub fn is_forest(&self) -> bool {
        self.forest
    }

    fn compute_forest(&self) -> bool {
        let n = self.names.len();
        // A forest in the undirected sense has no two paths between anything: the common case,
        // in O(V + E).
        let mut sets = DisjointSets::new(n);
        let mut loops: Vec<usize> = Vec::new();
        for (i, ds) in self.deps.iter().enumerate() {
            for &d in ds {
                if !sets.union(i, d) {
                    loops.push(i);
                }
            }
        }
        if loops.is_empty() {
            return true;
        }
        if !self.acyclic {
            return self.count_paths_in_order();
        }
        // Otherwise, in the components with an undirected cycle, look for a resource reached
        // from another along two paths, one root at a time.
        let looped: HashSet<usize> = loops.into_iter().map(|i| sets.find(i)).collect();
        (0..n)
            .filter(|i| looped.contains(&sets.find(*i)))
            .all(|root| self.downstream(root).tree)
    }

    /// The path count of every resource from every root, along the visit order (for maps with
    /// a cycle, which only unchecked input has).
    fn count_paths_in_order(&self) -> bool {
        let n = self.names.len();
        let mut paths = vec![0u32; n];
        (0..n).all(|root| {
            paths.iter_mut().for_each(|p| *p = 0);
            paths[root] = 1;
            for &i in &self.order {
                for &d in &self.deps[i] {
                    paths[i] = paths[i].saturating_add(paths[d]);
                }
                if paths[i] > 1 {
                    return false;
                }
            }
            true
        })
    }
}

/// The dependency order of `deps` (and whether it is acyclic), by Kahn's algorithm: every
/// resource's pass is the largest over its dependencies d of pass(d) when d comes before it in
/// the input and pass(d) + 1 when it comes after, and resources go by (pass, input position);
/// resources in or behind a cycle go last, in input order.
fn dependency_order(deps: &[Vec<usize>], dependents: &[Vec<usize>]) -> (Vec<usize>, bool) {
    let n = deps.len();
    let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut pass = vec![0usize; n];
    let mut done = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|i| missing[*i] == 0).collect();
    while let Some(d) = ready.pop() {
        done[d] = true;
        for &j in &dependents[d] {
            let p = if d < j { pass[d] } else { pass[d] + 1 };
            pass[j] = pass[j].max(p);
            missing[j] -= 1;
            if missing[j] == 0 {
                ready.push(j);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|i| done[*i]).collect();
    order.sort_unstable_by_key(|i| (pass[*i], *i));
    let acyclic = order.len() == n;
    order.extend((0..n).filter(|i| !done[*i]));
    (order, acyclic)
}

/// Union–find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> DisjointSets {
        DisjointSets {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins the sets of `a` and `b`; false when they were already one.
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Graph {
        // web -> api -> db
        Graph::new(
            vec!["db".into(), "api".into(), "web".into()],
            &[("api".into(), "db".into()), ("web".into(), "api".into())],
        )
    }

    fn dense(p: &Reach, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; n];
        for (i, v) in &p.probabilities {
            out[*i] = *v;
        }
        out
    }

    #[test]
    fn exact_chain_by_hand() {
        let g = chain();
        let p = g.exact_tree(&[0.2, 0.1, 0.0], 0.5);
        // db 0.2; api 1 - 0.9 * (1 - 0.5*0.2) = 0.19; web 1 - 1 * (1 - 0.5*0.19) = 0.095.
        assert!((p[0] - 0.2).abs() < 1e-12);
        assert!((p[1] - 0.19).abs() < 1e-12);
        assert!((p[2] - 0.095).abs() < 1e-12);
        let reach = g.reach(0, 0.5, 1000, 1);
        assert_eq!(reach.probabilities, vec![(0, 1.0), (1, 0.5), (2, 0.25)]);
        assert!(!reach.sampled);
        // Only what is downstream: api's reach does not mention db.
        assert_eq!(
            g.reach(1, 0.5, 1000, 1).probabilities,
            vec![(1, 1.0), (2, 0.5)]
        );
    }

    #[test]
    fn monte_carlo_agrees_with_the_closed_form_and_is_seeded() {
        let g = chain();
        let own = [0.2, 0.1, 0.0];
        let exact = g.exact_tree(&own, 0.5);
        let a = g.monte_carlo(&own, 0.5, 40_000, 7);
        let b = g.monte_carlo(&own, 0.5, 40_000, 7);
        assert_eq!(a, b);
        for (m, e) in a.iter().zip(&exact) {
            // 4 standard errors at n = 40000 is at most 0.01.
            assert!((m - e).abs() < 0.01, "{a:?} vs {exact:?}");
        }
        assert_ne!(a, g.monte_carlo(&own, 0.5, 40_000, 8));
    }

    fn diamond() -> Graph {
        // top depends on left and right, both depend on base.
        Graph::new(
            vec!["base".into(), "left".into(), "right".into(), "top".into()],
            &[
                ("left".into(), "base".into()),
                ("right".into(), "base".into()),
                ("top".into(), "left".into()),
                ("top".into(), "right".into()),
            ],
        )
    }

    #[test]
    fn a_raised_carry_changes_only_the_edges_out_of_its_resource() {
        let mut g = chain();
        g.set_carry(0, 0.9);
        assert_eq!(g.carry(0, 0.5), 0.9);
        assert_eq!(g.carry(1, 0.5), 0.5);
        // db 0.2; api 1 - 0.9 * (1 - 0.9*0.2) = 0.262; web 1 - (1 - 0.5*0.262) = 0.131.
        let own = [0.2, 0.1, 0.0];
        let p = g.exact_tree(&own, 0.5);
        assert!((p[1] - 0.262).abs() < 1e-12, "{p:?}");
        assert!((p[2] - 0.131).abs() < 1e-12, "{p:?}");
        for (m, e) in g.monte_carlo(&own, 0.5, 40_000, 7).iter().zip(&p) {
            assert!((m - e).abs() < 0.01, "{m} vs {e}");
        }
        let reach = dense(&g.reach(0, 0.5, 1000, 1), 3);
        assert!((reach[1] - 0.9).abs() < 1e-12 && (reach[2] - 0.45).abs() < 1e-12);
        // Sampled reach (two paths) uses the raised carry too: base → left, right at 0.9.
        let mut d = diamond();
        d.set_carry(0, 0.9);
        let p = dense(&d.reach(0, 0.5, 80_000, 3), 4);
        // P(top) = 1 - E[(1 - 0.5 L)(1 - 0.5 R)], L, R ~ Bernoulli(0.9) = 1 - 0.55² = 0.6975.
        assert!((p[1] - 0.9).abs() < 0.01, "{p:?}");
        assert!((p[3] - 0.6975).abs() < 0.01, "{p:?}");
        // Out of range is ignored, and values are clamped to a probability.
        d.set_carry(99, 0.7);
        d.set_carry(1, 1.5);
        assert_eq!(d.carry(1, 0.5), 1.0);
    }

    #[test]
    fn a_diamond_is_sampled_not_closed_form() {
        let g = diamond();
        assert!(!g.is_forest());
        assert!(chain().is_forest());
        // Given base fails: left, right each 0.5; top fails unless both carries fail:
        // P(top) = 1 - E[(1-0.5 L)(1-0.5 R)] with L, R independent Bernoulli(0.5)
        //        = 1 - (1 - 0.25)^2 = 0.4375.
        let reach = g.reach(0, 0.5, 80_000, 3);
        assert!(reach.sampled);
        let p = dense(&reach, 4);
        assert!((p[3] - 0.4375).abs() < 0.01, "{p:?}");
        assert!((p[1] - 0.5).abs() < 0.01, "{p:?}");
        assert_eq!(p[0], 1.0);
        assert_eq!(reach, g.reach(0, 0.5, 80_000, 3));
        // From left there is one path to top: the closed form, though the map is no forest.
        let left = g.reach(1, 0.5, 80_000, 3);
        assert!(!left.sampled);
        assert_eq!(left.probabilities, vec![(1, 1.0), (3, 0.5)]);
    }

    #[test]
    fn the_sample_count_is_bounded_by_the_draw_budget() {
        assert_eq!(samples_for(0), SAMPLES);
        assert_eq!(samples_for(10), SAMPLES);
        assert_eq!(samples_for(DRAW_BUDGET / 5_000), 5_000);
        assert_eq!(samples_for(usize::MAX), MIN_SAMPLES);
    }

    // The algorithms before the graph cached its order and forest test, as the reference.
    mod reference {
        pub fn order(deps: &[Vec<usize>]) -> Vec<usize> {
            let n = deps.len();
            let mut placed = vec![false; n];
            let mut order = Vec::with_capacity(n);
            while order.len() < n {
                let before = order.len();
                for i in 0..n {
                    if !placed[i] && deps[i].iter().all(|d| placed[*d]) {
                        placed[i] = true;
                        order.push(i);
                    }
                }
                if order.len() == before {
                    order.extend((0..n).filter(|i| !placed[*i]));
                    break;
                }
            }
            order
        }

        pub fn is_forest(deps: &[Vec<usize>]) -> bool {
            let n = deps.len();
            (0..n).all(|root| {
                let mut paths = vec![0u32; n];
                paths[root] = 1;
                for i in order(deps) {
                    for &d in &deps[i] {
                        paths[i] = paths[i].saturating_add(paths[d]);
                    }
                    if paths[i] > 1 {
                        return false;
                    }
                }
                true
            })
        }

        pub fn exact_tree(deps: &[Vec<usize>], own: &[f64], q: f64) -> Vec<f64> {
            let mut p = vec![0.0; deps.len()];
            for i in order(deps) {
                let survive: f64 = deps[i].iter().map(|d| 1.0 - q * p[*d]).product();
                p[i] = 1.0 - (1.0 - own[i]) * survive;
            }
            p
        }

        pub fn dependents(deps: &[Vec<usize>], i: usize) -> Vec<usize> {
            (0..deps.len()).filter(|j| deps[*j].contains(&i)).collect()
        }
    }

    /// A random map of `n` resources: `density` is the chance of each possible edge; with
    /// `acyclic`, edges only go to resources earlier in a random permutation.
    fn random_graph(rng: &mut ChaCha8Rng, n: usize, density: f64, acyclic: bool) -> Graph {
        let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let mut rank: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            rank.swap(i, rng.random_range(0..=i));
        }
        let mut edges = Vec::new();
        for a in 0..n {
            for b in 0..n {
                let allowed = if acyclic { rank[b] < rank[a] } else { true };
                if allowed && rng.random::<f64>() < density {
                    edges.push((names[a].clone(), names[b].clone()));
                }
            }
        }
        Graph::new(names, &edges)
    }

    #[test]
    fn order_forest_and_dependents_equal_the_reference_on_random_maps() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut forests = 0;
        let mut cyclic = 0;
        for round in 0..3_000 {
            let n = rng.random_range(1..9);
            let density = [0.05, 0.15, 0.3, 0.6][round % 4];
            let g = random_graph(&mut rng, n, density, round % 3 != 0);
            let deps: Vec<Vec<usize>> = (0..n).map(|i| g.deps(i).to_vec()).collect();
            assert_eq!(g.order(), reference::order(&deps), "{deps:?}");
            assert_eq!(g.is_forest(), reference::is_forest(&deps), "{deps:?}");
            forests += usize::from(g.is_forest());
            cyclic += usize::from(!g.acyclic);
            for i in 0..n {
                assert_eq!(g.dependents(i), reference::dependents(&deps, i));
                assert_eq!(g.index(&format!("r{i}")), Some(i));
            }
        }
        // The rounds cover both answers, and cycles.
        assert!(forests > 300 && forests < 2_700, "{forests}");
        assert!(cyclic > 100, "{cyclic}");
    }

    #[test]
    fn a_multitree_that_is_no_undirected_forest_is_a_forest() {
        // c and d both depend on a and on b: one path between any two, but a cycle undirected.
        let g = Graph::new(
            vec!["a".into(), "b".into(), "c".into(), "d".into()],
            &[
                ("c".into(), "a".into()),
                ("c".into(), "b".into()),
                ("d".into(), "a".into()),
                ("d".into(), "b".into()),
            ],
        );
        assert!(g.is_forest());
        assert!(!diamond().is_forest());
    }

    #[test]
    fn closed_form_reach_equals_the_reference_exactly() {
        // On every root with one path to each resource downstream (every root of a forest, and
        // some roots of other maps), reach is the old whole-graph closed form, to the bit.
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut compared = 0;
        for round in 0..2_000 {
            let n = rng.random_range(1..10);
            let density = [0.1, 0.2, 0.4][round % 3];
            let g = random_graph(&mut rng, n, density, true);
            let deps: Vec<Vec<usize>> = (0..n).map(|i| g.deps(i).to_vec()).collect();
            for root in 0..n {
                let reach = g.reach(root, 0.5, 100, 1);
                if g.is_forest() {
                    assert!(!reach.sampled);
                }
                if reach.sampled {
                    continue;
                }
                let own: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i == root))).collect();
                let old = reference::exact_tree(&deps, &own, 0.5);
                let expect: Vec<(usize, f64)> = old
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|(_, p)| *p > 0.0)
                    .collect();
                assert_eq!(reach.probabilities, expect, "{deps:?} from {root}");
                compared += 1;
            }
        }
        assert!(compared > 5_000, "{compared}");
    }

    #[test]
    fn sampled_reach_agrees_with_whole_graph_sampling() {
        // Two diamonds stacked, plus resources upstream and beside that the root never reaches.
        let names: Vec<String> = ["up", "base", "l1", "r1", "mid", "l2", "r2", "top", "side"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = |a: &str, b: &str| (a.to_string(), b.to_string());
        let g = Graph::new(
            names,
            &[
                e("base", "up"),
                e("l1", "base"),
                e("r1", "base"),
                e("mid", "l1"),
                e("mid", "r1"),
                e("l2", "mid"),
                e("r2", "mid"),
                e("top", "l2"),
                e("top", "r2"),
                e("side", "up"),
            ],
        );
        let reach = g.reach(1, 0.5, 100_000, 5);
        assert!(reach.sampled);
        let ids: Vec<usize> = reach.probabilities.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7]);
        let own: Vec<f64> = (0..9).map(|i| f64::from(u8::from(i == 1))).collect();
        let whole = g.monte_carlo(&own, 0.5, 100_000, 6);
        for (i, p) in &reach.probabilities {
            assert!((p - whole[*i]).abs() < 0.01, "{i}: {p} vs {}", whole[*i]);
        }
        // mid by hand: 0.4375; top: 1 - E[(1 - 0.5 L)(1 - 0.5 R)] given mid, times P(mid).
        assert!((dense(&reach, 9)[4] - 0.4375).abs() < 0.01);
        assert!((dense(&reach, 9)[7] - 0.4375 * 0.4375).abs() < 0.01);
    }

    #[test]
    fn a_big_map_is_built_and_walked_in_linear_time() {
        // 200,000 resources: a star under r0 and a long chain. The old per-root forest test
        // alone was 200,000 walks of the whole map (and `reach` repeated it per call).
        let n = 200_000;
        let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let mut edges: Vec<(String, String)> = (1..n / 2)
            .map(|i| (names[i].clone(), names[0].clone()))
            .collect();
        edges.extend((n / 2 + 1..n).map(|i| (names[i].clone(), names[i - 1].clone())));
        let started = std::time::Instant::now();
        let g = Graph::new(names, &edges);
        assert!(g.is_forest());
        assert_eq!(g.order().len(), n);
        let star = g.reach(0, 0.5, SAMPLES, 1);
        assert_eq!(star.probabilities.len(), n / 2);
        let chain = g.reach(n / 2, 0.5, SAMPLES, 1);
        assert_eq!(chain.probabilities.len(), n / 2);
        // Down the chain the probability halves at every step, until it underflows to 0.
        assert_eq!(chain.probabilities[3], (n / 2 + 3, 0.125));
        for r in 1..2_000 {
            assert_eq!(g.reach(r, 0.5, SAMPLES, 1).probabilities, vec![(r, 1.0)]);
        }
        // Generous: well under a second in a debug build; the old code took hours.
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}

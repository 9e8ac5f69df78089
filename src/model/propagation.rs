//! Failure propagation over the dependency map.
//!
//! Each resource fails on its own with probability `p` (from the rates) and, in addition,
//! when one of its dependencies fails, with probability `q` per edge (`PROPAGATION`): a
//! dependency's failure does not always take its dependent down (retries, caches, slack).
//! The map is acyclic (the checker rejects cycles), so resources are visited in dependency
//! order. `monte_carlo` samples the whole graph under a seed, which stays right when two
//! paths share an ancestor; `exact_tree` is the closed form for maps without shared
//! ancestors, used to check the sampler.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Probability that a dependency's failure takes a dependent down.
pub const PROPAGATION: f64 = 0.5;
/// Monte Carlo samples per estimate.
pub const SAMPLES: usize = 20_000;

/// The dependency map as indices: `deps[i]` are the resources `i` depends on; resources are
/// in dependency order (every resource after its dependencies).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    pub names: Vec<String>,
    pub deps: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph from names in dependency order and `(dependent, dependency)` edges.
    pub fn new(names: Vec<String>, edges: &[(String, String)]) -> Graph {
        let index = |n: &str| names.iter().position(|m| m == n);
        let mut deps = vec![Vec::new(); names.len()];
        for (from, to) in edges {
            if let (Some(f), Some(t)) = (index(from), index(to))
                && !deps[f].contains(&t)
            {
                deps[f].push(t);
            }
        }
        Graph { names, deps }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The resources that depend on `i`, directly.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        (0..self.names.len())
            .filter(|j| self.deps[*j].contains(&i))
            .collect()
    }

    /// Visit order: dependencies first. The input order is used when it is already one;
    /// otherwise a topological sort (Kahn) fixes it.
    fn order(&self) -> Vec<usize> {
        let n = self.names.len();
        let mut placed = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while order.len() < n {
            let before = order.len();
            for i in 0..n {
                if !placed[i] && self.deps[i].iter().all(|d| placed[*d]) {
                    placed[i] = true;
                    order.push(i);
                }
            }
            if order.len() == before {
                // A cycle (the checker rejects these): visit the rest as they come.
                order.extend((0..n).filter(|i| !placed[*i]));
                break;
            }
        }
        order
    }

    /// Per resource, the probability that it fails (on its own or through its
    /// dependencies), estimated from `samples` seeded draws.
    pub fn monte_carlo(&self, own: &[f64], q: f64, samples: usize, seed: u64) -> Vec<f64> {
        let order = self.order();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut failures = vec![0usize; self.names.len()];
        let mut failed = vec![false; self.names.len()];
        for _ in 0..samples {
            for &i in &order {
                let mut f = rng.random::<f64>() < own[i];
                for &d in &self.deps[i] {
                    // Draw for every edge, so the stream does not depend on earlier outcomes.
                    let carries = rng.random::<f64>() < q;
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
        for i in self.order() {
            let survive: f64 = self.deps[i].iter().map(|d| 1.0 - q * p[*d]).product();
            p[i] = 1.0 - (1.0 - own[i]) * survive;
        }
        p
    }

    /// Given that `root` fails, the probability that each resource fails because of it.
    pub fn reach(&self, root: usize, q: f64, samples: usize, seed: u64) -> Vec<f64> {
        let own: Vec<f64> = (0..self.names.len())
            .map(|i| if i == root { 1.0 } else { 0.0 })
            .collect();
        if self.is_forest() {
            self.exact_tree(&own, q)
        } else {
            self.monte_carlo(&own, q, samples, seed)
        }
    }

    /// Whether no resource can be reached from another along two different paths, so the
    /// closed form is exact.
    pub fn is_forest(&self) -> bool {
        let n = self.names.len();
        (0..n).all(|root| {
            // Count paths from root downwards (towards dependents) to each node.
            let mut paths = vec![0u32; n];
            paths[root] = 1;
            for i in self.order() {
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

    #[test]
    fn exact_chain_by_hand() {
        let g = chain();
        let p = g.exact_tree(&[0.2, 0.1, 0.0], 0.5);
        // db 0.2; api 1 - 0.9 * (1 - 0.5*0.2) = 0.19; web 1 - 1 * (1 - 0.5*0.19) = 0.095.
        assert!((p[0] - 0.2).abs() < 1e-12);
        assert!((p[1] - 0.19).abs() < 1e-12);
        assert!((p[2] - 0.095).abs() < 1e-12);
        let reach = g.reach(0, 0.5, 1000, 1);
        assert_eq!(reach, vec![1.0, 0.5, 0.25]);
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

    #[test]
    fn a_diamond_is_sampled_not_closed_form() {
        // top depends on left and right, both depend on base.
        let g = Graph::new(
            vec!["base".into(), "left".into(), "right".into(), "top".into()],
            &[
                ("left".into(), "base".into()),
                ("right".into(), "base".into()),
                ("top".into(), "left".into()),
                ("top".into(), "right".into()),
            ],
        );
        assert!(!g.is_forest());
        assert!(chain().is_forest());
        // Given base fails: left, right each 0.5; top fails unless both carries fail:
        // P(top) = 1 - E[(1-0.5 L)(1-0.5 R)] with L, R independent Bernoulli(0.5)
        //        = 1 - (1 - 0.25)^2 = 0.4375.
        let reach = g.reach(0, 0.5, 80_000, 3);
        assert!((reach[3] - 0.4375).abs() < 0.01, "{reach:?}");
    }
}

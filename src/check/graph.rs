//! The dependency map: cycle detection (with the cycle spelled out) and start order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A directed graph over `n` nodes, `edges[i]` = the nodes `i` depends on.
pub struct Graph {
    pub edges: Vec<Vec<usize>>,
}

impl Graph {
    pub fn new(n: usize) -> Self {
        Graph {
            edges: vec![Vec::new(); n],
        }
    }

    pub fn add(&mut self, from: usize, to: usize) {
        if !self.edges[from].contains(&to) {
            self.edges[from].push(to);
        }
    }

    /// Every elementary cycle found by one depth-first search (each reported once), as node
    /// lists where the first node is repeated at the end.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let n = self.edges.len();
        let mut mark = vec![Mark::New; n];
        let mut cycles = Vec::new();
        // Iterative DFS: (node, next edge index). No recursion, so no stack overflow on big maps.
        for root in 0..n {
            if mark[root] != Mark::New {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = Mark::Active;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = self.edges[node].get(*next) {
                    *next += 1;
                    match mark[dep] {
                        Mark::New => {
                            mark[dep] = Mark::Active;
                            stack.push((dep, 0));
                        }
                        Mark::Active => {
                            let pos = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                stack[pos..].iter().map(|(n, _)| *n).collect();
                            cycle.push(dep);
                            cycles.push(cycle);
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
        cycles
    }

    /// A start order where every node comes after its dependencies; ties keep index order.
    /// Nodes on cycles are appended at the end in index order.
    pub fn start_order(&self) -> Vec<usize> {
        let n = self.edges.len();
        let mut remaining: Vec<usize> = self.edges.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (from, deps) in self.edges.iter().enumerate() {
            for &to in deps {
                dependents[to].push(from);
            }
        }
        // The lowest ready index first: a min-heap.
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| remaining[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while let Some(Reverse(next)) = ready.pop() {
            order.push(next);
            placed[next] = true;
            for &d in &dependents[next] {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.push(Reverse(d));
                }
            }
        }
        order.extend((0..n).filter(|&i| !placed[i]));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cycle_and_orders_dependencies_first() {
        let mut g = Graph::new(4);
        g.add(0, 1);
        g.add(1, 2);
        g.add(2, 0);
        g.add(3, 0);
        assert_eq!(g.cycles(), vec![vec![0, 1, 2, 0]]);
        let mut acyclic = Graph::new(3);
        acyclic.add(0, 1);
        acyclic.add(1, 2);
        assert!(acyclic.cycles().is_empty());
        assert_eq!(acyclic.start_order(), vec![2, 1, 0]);
    }
}

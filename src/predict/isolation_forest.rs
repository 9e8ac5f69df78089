//! `isolation_forest`: a streaming isolation forest over shingles (each value with its changes
//! since the few values before it, as one point), trees rebuilt round-robin from a sliding
//! window of recent points.

use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::param_spec::{ParamSpec, WARMUP};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// The registry entry of `isolation_forest`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "isolation_forest",
    doc: "isolation forest over shingles of the last `shingle` values, trees rebuilt one at a \
          time from the last `window` shingles; catches unusual shapes (a spike, a sudden \
          oscillation, a flat stretch in a busy series), not only unusual levels",
    params: &[
        ParamSpec::integer("trees", 32.0, 1.0, 512.0, "trees in the forest"),
        ParamSpec::integer(
            "sample_size",
            64.0,
            4.0,
            4096.0,
            "shingles drawn to build each tree",
        ),
        ParamSpec::integer(
            "shingle",
            4.0,
            1.0,
            MAX_SHINGLE as f64,
            "values that form one point (the value and its changes since the others)",
        ),
        ParamSpec::integer(
            "window",
            1024.0,
            4.0,
            1_000_000.0,
            "recent shingles the trees are drawn from",
        ),
        ParamSpec::integer(
            "rebuild_every",
            16.0,
            1.0,
            1_000_000.0,
            "samples between two tree rebuilds (one tree at a time, oldest first)",
        ),
        ParamSpec::integer(
            "seed",
            1.0,
            0.0,
            1.0e15,
            "random seed (runs are reproducible)",
        ),
        WARMUP,
    ],
    build: |p| {
        Box::new(IsolationForest::new(IsolationForestConfig {
            trees: p.count("trees"),
            sample_size: p.count("sample_size"),
            shingle: p.count("shingle"),
            window: p.count("window"),
            rebuild_every: p.count("rebuild_every"),
            scale_rate: 0.01,
            seed: p.get("seed") as u64,
            warmup: p.count("warmup"),
        }))
    },
};

/// The longest shingle.
pub const MAX_SHINGLE: usize = 32;

/// Parameters of `IsolationForest`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsolationForestConfig {
    pub trees: usize,
    pub sample_size: usize,
    pub shingle: usize,
    pub window: usize,
    pub rebuild_every: usize,
    pub scale_rate: f64,
    pub seed: u64,
    pub warmup: usize,
}

/// A node of an isolation tree: a split, or a leaf holding `size` training points.
#[derive(Debug, Clone, Copy)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// One isolation tree, stored as an arena of nodes (the root is node 0), with the bounding box
/// of each node's training points (`2 * dims` numbers per node: the lows, then the highs).
#[derive(Debug, Clone, Default)]
struct Tree {
    nodes: Vec<Node>,
    boxes: Vec<f64>,
    dims: usize,
}

impl Tree {
    /// The chance that a random cut (as used to build the tree, along a dimension chosen in
    /// proportion to its extent) separates `point` from node `at`'s box: 0 inside the box.
    fn escape(&self, at: usize, point: &[f64]) -> f64 {
        let Some(bounds) = self.boxes.get(at * 2 * self.dims..(at + 1) * 2 * self.dims) else {
            return 0.0;
        };
        let (lows, highs) = bounds.split_at(self.dims);
        let mut outside = 0.0;
        let mut span = 0.0;
        for ((x, lo), hi) in point.iter().zip(lows).zip(highs) {
            outside += (lo - x).max(0.0) + (x - hi).max(0.0);
            span += hi - lo;
        }
        if outside <= 0.0 {
            0.0
        } else if outside.is_finite() && span.is_finite() {
            outside / (span + outside)
        } else {
            1.0
        }
    }

    /// The expected isolation depth of `point`. Inside the training boxes this is the classic
    /// path length (with the usual correction for unsplit leaves); a point outside a node's box
    /// may be cut off at that node, with the probability `escape` gives, so a value far beyond
    /// everything seen isolates near the root instead of following the largest training points.
    fn path_length(&self, point: &[f64]) -> f64 {
        let mut at = 0;
        let mut depth = 0.0;
        let mut expected = 0.0;
        let mut remaining = 1.0;
        while let Some(node) = self.nodes.get(at) {
            let escape = self.escape(at, point);
            expected += remaining * escape * depth;
            remaining *= 1.0 - escape;
            if remaining <= 1.0e-12 {
                return expected;
            }
            match *node {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    at = if point[feature] < threshold {
                        left
                    } else {
                        right
                    };
                    depth += 1.0;
                }
                Node::Leaf { size } => return expected + remaining * (depth + average_path(size)),
            }
        }
        expected + remaining * depth
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points: the
/// normaliser of isolation depths.
fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Streaming isolation forest over shingles.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    config: IsolationForestConfig,
    rng: ChaCha8Rng,
    recent: VecDeque<f64>,
    /// Flattened shingles, `shingle` values each, oldest first.
    window: VecDeque<f64>,
    trees: Vec<Tree>,
    next_rebuild: usize,
    since_rebuild: usize,
    score_mean: f64,
    score_var: f64,
    scored: usize,
    seen: usize,
    point: Vec<f64>,
}

impl IsolationForest {
    pub fn new(config: IsolationForestConfig) -> IsolationForest {
        let config = IsolationForestConfig {
            trees: config.trees.max(1),
            sample_size: config.sample_size.max(4),
            shingle: config.shingle.clamp(1, MAX_SHINGLE),
            window: config.window.max(4),
            rebuild_every: config.rebuild_every.max(1),
            ..config
        };
        IsolationForest {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            recent: VecDeque::with_capacity(config.shingle),
            window: VecDeque::with_capacity(config.window * config.shingle),
            trees: Vec::with_capacity(config.trees),
            next_rebuild: 0,
            since_rebuild: 0,
            score_mean: 0.0,
            score_var: 0.0,
            scored: 0,
            seen: 0,
            point: vec![0.0; config.shingle],
            config,
        }
    }

    fn shingles(&self) -> usize {
        self.window.len() / self.config.shingle
    }

    /// The raw isolation score of the current shingle, in (0, 1]: about 0.5 for ordinary
    /// points, towards 1 for points that isolate quickly. None until the forest exists.
    fn raw_score(&self) -> Option<f64> {
        if self.trees.is_empty() {
            return None;
        }
        let total: f64 = self.trees.iter().map(|t| t.path_length(&self.point)).sum();
        let mean = total / self.trees.len() as f64;
        let norm = average_path(self.config.sample_size.min(self.shingles()));
        Some(if norm > 0.0 {
            (-mean / norm).exp2()
        } else {
            0.5
        })
    }

    fn build_tree(&mut self) -> Tree {
        let d = self.config.shingle;
        let available = self.shingles();
        let size = self.config.sample_size.min(available);
        let mut points: Vec<f64> = Vec::with_capacity(size * d);
        for _ in 0..size {
            let pick = self.rng.random_range(0..available);
            points.extend(self.window.range(pick * d..(pick + 1) * d));
        }
        let height_limit = (size.max(2) as f64).log2().ceil() as usize;
        let mut nodes = Vec::with_capacity(2 * size);
        let mut boxes = Vec::with_capacity(4 * size * d);
        // Work list: (node index, point range start, end, depth); points are reordered in place.
        let mut work = vec![(0_usize, 0_usize, size, 0_usize)];
        nodes.push(Node::Leaf { size });
        boxes.resize(2 * d, 0.0);
        while let Some((at, start, end, depth)) = work.pop() {
            let bounds = &mut boxes[at * 2 * d..(at + 1) * 2 * d];
            bounds[..d].fill(f64::INFINITY);
            bounds[d..].fill(f64::NEG_INFINITY);
            for i in start..end {
                for k in 0..d {
                    let v = points[i * d + k];
                    bounds[k] = bounds[k].min(v);
                    bounds[d + k] = bounds[d + k].max(v);
                }
            }
            let count = end - start;
            if count <= 1 || depth >= height_limit {
                continue;
            }
            let feature = self.rng.random_range(0..d);
            let (lo, hi) = (bounds[feature], bounds[d + feature]);
            if hi <= lo {
                continue;
            }
            // Interpolated rather than `lo + u * (hi - lo)`: the width may overflow.
            let u: f64 = self.rng.random();
            let threshold = lo * (1.0 - u) + hi * u;
            // Partition the rows of [start, end) by the feature.
            let mut split = start;
            for i in start..end {
                if points[i * d + feature] < threshold {
                    for k in 0..d {
                        points.swap(i * d + k, split * d + k);
                    }
                    split += 1;
                }
            }
            let left = nodes.len();
            nodes.push(Node::Leaf {
                size: split - start,
            });
            let right = nodes.len();
            nodes.push(Node::Leaf { size: end - split });
            boxes.resize(nodes.len() * 2 * d, 0.0);
            nodes[at] = Node::Split {
                feature,
                threshold,
                left,
                right,
            };
            work.push((left, start, split, depth + 1));
            work.push((right, split, end, depth + 1));
        }
        Tree {
            nodes,
            boxes,
            dims: d,
        }
    }

    fn maintain(&mut self) {
        if self.shingles() < self.config.sample_size.min(self.config.window) {
            return;
        }
        if self.trees.len() < self.config.trees {
            while self.trees.len() < self.config.trees {
                let tree = self.build_tree();
                self.trees.push(tree);
            }
            return;
        }
        self.since_rebuild += 1;
        if self.since_rebuild >= self.config.rebuild_every {
            self.since_rebuild = 0;
            let tree = self.build_tree();
            self.trees[self.next_rebuild] = tree;
            self.next_rebuild = (self.next_rebuild + 1) % self.trees.len();
        }
    }

    /// Scores the shingle ending with `value`, then learns it. Returns the raw isolation score
    /// (0 until the forest exists) and its z-score against the running mean and spread of raw
    /// scores (only its upper tail means anything).
    pub fn observe(&mut self, value: f64) -> (f64, f64) {
        let d = self.config.shingle;
        if self.recent.len() == d {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        if self.recent.len() < d {
            return (0.0, 0.0);
        }
        // The point: the value, then its change since each of the previous `shingle - 1`
        // values. A spike stands out in every coordinate, a change of shape in the changes.
        for (k, slot) in self.point.iter_mut().enumerate() {
            let v = if k == 0 {
                value
            } else {
                value - self.recent[d - 1 - k]
            };
            *slot = v.clamp(f64::MIN, f64::MAX);
        }
        let mut z = 0.0;
        let raw = self.raw_score();
        if let Some(raw) = raw {
            if self.scored > 10 {
                let sd = self.score_var.sqrt().max(1.0e-6);
                z = (raw - self.score_mean) / sd;
            }
            let rate = self.config.scale_rate.max(1.0 / (self.scored as f64 + 1.0));
            let deviation = raw - self.score_mean;
            self.score_mean += rate * deviation;
            self.score_var = (1.0 - rate) * (self.score_var + rate * deviation * deviation);
            self.scored += 1;
        }
        if self.shingles() == self.config.window {
            self.window.drain(..d);
        }
        self.window.extend(self.point.iter().copied());
        self.maintain();
        (raw.unwrap_or(0.0), z)
    }
}

impl Detector for IsolationForest {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, _timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let scoring = self.seen >= self.config.warmup;
        self.seen = self.seen.saturating_add(1);
        let (raw, _) = self.observe(value);
        // The classic reading of an isolation score: 0.5 and below is ordinary, 1 is isolated
        // at the first split.
        if scoring {
            (2.0 * raw - 1.0).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    fn footprint(&self) -> usize {
        self.window.len()
            + self.recent.len()
            + self
                .trees
                .iter()
                .map(|t| t.nodes.len() * 4 + t.boxes.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> IsolationForestConfig {
        IsolationForestConfig {
            trees: 32,
            sample_size: 64,
            shingle: 4,
            window: 256,
            rebuild_every: 8,
            scale_rate: 0.01,
            seed: 3,
            warmup: 100,
        }
    }

    #[test]
    fn spike_scores_high_and_noise_low() {
        let mut d = IsolationForest::new(config());
        let mut normal = Vec::new();
        for i in 0..1500 {
            let value = 10.0 + (f64::from(i) * 0.3).sin();
            normal.push(d.update(f64::from(i), value));
        }
        normal.sort_by(f64::total_cmp);
        let p99 = normal[normal.len() * 99 / 100];
        assert!(p99 < 0.3, "99th percentile of normal scores is {p99}");
        assert!(d.update(1500.0, 25.0) > 0.5);
    }

    #[test]
    fn same_seed_same_scores() {
        let mut a = IsolationForest::new(config());
        let mut b = IsolationForest::new(config());
        for i in 0..600 {
            let v = (f64::from(i) * 0.37).cos() * 3.0;
            assert_eq!(a.update(0.0, v), b.update(0.0, v));
        }
    }

    #[test]
    fn average_path_matches_the_harmonic_formula() {
        assert_eq!(average_path(1), 0.0);
        assert_eq!(average_path(2), 1.0);
        // c(256) is about 10.24 in the isolation forest paper.
        assert!((average_path(256) - 10.24).abs() < 0.01);
    }
}

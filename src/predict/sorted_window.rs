//! `SortedWindow`: the last N values, kept sorted for exact rolling median and MAD.

use std::collections::VecDeque;

/// A sliding window over the last `capacity` values that keeps a sorted copy, so the median is
/// O(1) and the median absolute deviation O(log N); a push costs a binary search and a shift.
#[derive(Debug, Clone)]
pub struct SortedWindow {
    capacity: usize,
    arrivals: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl SortedWindow {
    pub fn new(capacity: usize) -> SortedWindow {
        let capacity = capacity.max(1);
        SortedWindow {
            capacity,
            arrivals: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Adds a finite `value`, evicting the oldest one when full.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.arrivals.len() == self.capacity
            && let Some(oldest) = self.arrivals.pop_front()
        {
            let at = self
                .sorted
                .partition_point(|v| v.total_cmp(&oldest).is_lt());
            if at < self.sorted.len() {
                self.sorted.remove(at);
            }
        }
        let at = self.sorted.partition_point(|v| v.total_cmp(&value).is_le());
        self.sorted.insert(at, value);
        self.arrivals.push_back(value);
    }

    /// The median (mean of the two middle values for an even count); 0 when empty.
    pub fn median(&self) -> f64 {
        let n = self.sorted.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => self.sorted[n / 2],
            _ => 0.5 * (self.sorted[n / 2 - 1] + self.sorted[n / 2]),
        }
    }

    /// The median absolute deviation from `center` (unscaled); 0 when empty.
    pub fn mad_around(&self, center: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0.0;
        }
        let deviations = Deviations::new(&self.sorted, center);
        if n % 2 == 1 {
            deviations.kth(n / 2)
        } else {
            0.5 * (deviations.kth(n / 2 - 1) + deviations.kth(n / 2))
        }
    }

    /// The mean absolute deviation from `center`: a fallback scale when more than half the
    /// window sits exactly on the median (the MAD is then 0). O(N).
    pub fn mean_abs_deviation(&self, center: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        self.sorted.iter().map(|v| (v - center).abs()).sum::<f64>() / self.sorted.len() as f64
    }
}

/// The absolute deviations of a sorted slice from a center, seen as two sorted sequences: the
/// values below the center (walking left) and the values at or above it (walking right).
struct Deviations<'a> {
    sorted: &'a [f64],
    center: f64,
    pivot: usize,
}

impl<'a> Deviations<'a> {
    fn new(sorted: &'a [f64], center: f64) -> Deviations<'a> {
        let pivot = sorted.partition_point(|v| *v < center);
        Deviations {
            sorted,
            center,
            pivot,
        }
    }

    fn left(&self, j: usize) -> f64 {
        self.center - self.sorted[self.pivot - 1 - j]
    }

    fn right(&self, j: usize) -> f64 {
        self.sorted[self.pivot + j] - self.center
    }

    /// The k-th smallest deviation (0-based), by a binary search on how many come from the left.
    fn kth(&self, k: usize) -> f64 {
        let n_left = self.pivot;
        let n_right = self.sorted.len() - self.pivot;
        let take = k + 1;
        let mut lo = take.saturating_sub(n_right);
        let mut hi = take.min(n_left);
        // Smallest i such that right(j - 1) <= left(i), with j = take - i.
        while lo < hi {
            let i = lo + (hi - lo) / 2;
            let j = take - i;
            if j == 0 || self.right(j - 1) <= self.left(i) {
                hi = i;
            } else {
                lo = i + 1;
            }
        }
        let i = lo;
        let j = take - i;
        let from_left = if i > 0 { self.left(i - 1) } else { 0.0 };
        let from_right = if j > 0 { self.right(j - 1) } else { 0.0 };
        from_left.max(from_right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn brute_median(values: &[f64]) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }

    #[test]
    fn median_and_mad_match_brute_force_over_a_sliding_window() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for capacity in [1, 2, 3, 10, 33] {
            let mut window = SortedWindow::new(capacity);
            let mut all = Vec::new();
            for _ in 0..400 {
                // Repeated values on purpose: ties are the hard case for the MAD.
                let value = f64::from(rng.random_range(0..12_i32)) * 0.5;
                window.push(value);
                all.push(value);
                let recent = &all[all.len().saturating_sub(capacity)..];
                let median = brute_median(recent);
                assert_eq!(window.median(), median);
                let deviations: Vec<f64> = recent.iter().map(|v| (v - median).abs()).collect();
                assert_eq!(window.mad_around(median), brute_median(&deviations));
            }
            assert_eq!(window.len(), capacity);
        }
    }
}

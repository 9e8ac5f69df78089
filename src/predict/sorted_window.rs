//! `SortedWindow`: the last N values, kept sorted for exact rolling median and MAD.

use std::cell::Cell;
use std::collections::VecDeque;

/// A sliding window over the last `capacity` values that keeps a sorted copy, so the median is
/// O(1) and the median absolute deviation O(log N); a push costs a binary search and a shift.
#[derive(Debug, Clone)]
pub struct SortedWindow {
    capacity: usize,
    arrivals: VecDeque<f64>,
    sorted: Vec<f64>,
    /// Where the last MAD split the deviations (how many came from below the center): the
    /// next search starts there, since the MAD of a sliding window moves little per sample.
    mad_hint: Cell<usize>,
}

impl SortedWindow {
    pub fn new(capacity: usize) -> SortedWindow {
        let capacity = capacity.max(1);
        SortedWindow {
            capacity,
            arrivals: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            mad_hint: Cell::new(0),
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
        self.arrivals.push_back(value);
        if self.arrivals.len() > self.capacity
            && let Some(oldest) = self.arrivals.pop_front()
        {
            // Replace the oldest value by the new one with a single shift of the values
            // between their two positions.
            let sorted = &mut self.sorted;
            if sorted.len() <= WALK_UP_TO {
                let out = count_while(sorted, |v| v < oldest);
                if out < sorted.len() {
                    walk(sorted, out, value);
                }
                return;
            }
            let (out, to) = count_both(sorted, oldest, value);
            if out >= sorted.len() {
                return;
            }
            if to > out {
                sorted.copy_within(out + 1..to, out);
                sorted[to - 1] = value;
            } else {
                sorted.copy_within(to..out, to + 1);
                sorted[to] = value;
            }
            return;
        }
        let at = count_while(&self.sorted, |v| v <= value);
        self.sorted.insert(at, value);
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
        let hint = self.mad_hint.get();
        if n % 2 == 1 {
            let (kth, _, split) = deviations.kth(n / 2, hint);
            self.mad_hint.set(split);
            kth
        } else {
            let (lower, upper, split) = deviations.kth(n / 2 - 1, hint);
            self.mad_hint.set(split);
            0.5 * (lower + upper)
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

/// Windows up to this size replace a value by walking it to its place (one comparison and
/// one move per position crossed, no second search, no `memmove` call); larger ones search
/// for the place and shift the values between in one move. Both give the same array.
const WALK_UP_TO: usize = 64;

/// Replaces `sorted[out]` by `value` and moves it to its place: after every value `<=` it (as
/// `count_while(sorted, |v| v <= value)` finds it), shifting the values it crosses by one.
fn walk(sorted: &mut [f64], out: usize, value: f64) {
    let mut i = out;
    if value >= sorted[out] {
        while i + 1 < sorted.len() && sorted[i + 1] <= value {
            sorted[i] = sorted[i + 1];
            i += 1;
        }
    } else {
        while i > 0 && sorted[i - 1] > value {
            sorted[i] = sorted[i - 1];
            i -= 1;
        }
    }
    sorted[i] = value;
}

/// How many leading values of `sorted` satisfy `pred` (true on a prefix, false after it): a
/// binary search without data-dependent branches, which on random data would mispredict at
/// every other step.
fn count_while(sorted: &[f64], pred: impl Fn(f64) -> bool) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let mut base = 0;
    let mut size = sorted.len();
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = if pred(sorted[mid]) { mid } else { base };
        size -= half;
    }
    base + usize::from(pred(sorted[base]))
}

/// `count_while(sorted, |v| v < below)` and `count_while(sorted, |v| v <= upto)` in one loop:
/// the two searches' chains of dependent loads run side by side instead of one after the other.
fn count_both(sorted: &[f64], below: f64, upto: f64) -> (usize, usize) {
    if sorted.is_empty() {
        return (0, 0);
    }
    let (mut a, mut b) = (0, 0);
    let mut size = sorted.len();
    while size > 1 {
        let half = size / 2;
        a = if sorted[a + half] < below {
            a + half
        } else {
            a
        };
        b = if sorted[b + half] <= upto {
            b + half
        } else {
            b
        };
        size -= half;
    }
    (
        a + usize::from(sorted[a] < below),
        b + usize::from(sorted[b] <= upto),
    )
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
        // Around the median the pivot is the middle, less any ties with the median: start there
        // instead of searching (a search costs a branch miss per step).
        let middle = sorted.len() / 2;
        let pivot = if sorted.get(middle).is_some_and(|v| *v >= center)
            && (middle == 0 || sorted[middle - 1] < center)
        {
            middle
        } else {
            count_while(sorted, |v| v < center)
        };
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

    /// Whether taking `i` deviations from the left (and `take - i` from the right) takes the
    /// `take` smallest: the right one last taken is no larger than the next left one.
    fn fits(&self, take: usize, i: usize) -> bool {
        let j = take - i;
        j == 0 || self.right(j - 1) <= self.left(i)
    }

    /// The k-th smallest deviation (0-based), by a search on how many come from the left
    /// (galloping out from `hint`, then a binary search), the (k+1)-th (the k-th again when
    /// there is none), and how many came from the left (the next call's hint).
    fn kth(&self, k: usize, hint: usize) -> (f64, f64, usize) {
        let n_left = self.pivot;
        let n_right = self.sorted.len() - self.pivot;
        let take = k + 1;
        let mut lo = take.saturating_sub(n_right);
        let mut hi = take.min(n_left);
        // The answer is the smallest i in [lo, hi) that fits, or hi. Gallop from the hint to
        // a small bracket (the split moves by a step or two per sample), then bisect it.
        let h = hint.clamp(lo, hi);
        if h < hi {
            let mut step = 1;
            if self.fits(take, h) {
                hi = h;
                while lo < hi {
                    let probe = hi.saturating_sub(step).max(lo);
                    if self.fits(take, probe) {
                        hi = probe;
                        step *= 2;
                    } else {
                        lo = probe + 1;
                        break;
                    }
                }
            } else {
                lo = h + 1;
                while lo < hi {
                    let probe = (lo + step - 1).min(hi - 1);
                    if self.fits(take, probe) {
                        hi = probe;
                        break;
                    }
                    lo = probe + 1;
                    step *= 2;
                }
            }
        }
        // Smallest i such that right(j - 1) <= left(i), with j = take - i, found without a
        // data-dependent branch (on random data it would mispredict every other step).
        while lo < hi {
            let i = lo + (hi - lo) / 2;
            let j = take - i;
            let right = if j > 0 {
                self.right(j - 1)
            } else {
                f64::NEG_INFINITY
            };
            // 0 or 1; arithmetic rather than `if`, which the compiler kept as a branch.
            let fits = usize::from(right <= self.left(i));
            hi = fits * i + (1 - fits) * hi;
            lo = fits * lo + (1 - fits) * (i + 1);
        }
        let i = lo;
        let j = take - i;
        let from_left = if i > 0 { self.left(i - 1) } else { 0.0 };
        let from_right = if j > 0 { self.right(j - 1) } else { 0.0 };
        let kth = from_left.max(from_right);
        let next_left = if i < n_left {
            self.left(i)
        } else {
            f64::INFINITY
        };
        let next_right = if j < n_right {
            self.right(j)
        } else {
            f64::INFINITY
        };
        let next = next_left.min(next_right);
        (kth, if next.is_finite() { next } else { kth }, i)
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
    fn count_while_matches_partition_point() {
        let sorted = [1.0, 2.0, 2.0, 2.0, 3.0, 5.0, 8.0];
        for probe in [0.0, 1.0, 2.0, 2.5, 3.0, 8.0, 9.0] {
            assert_eq!(
                count_while(&sorted, |v| v < probe),
                sorted.partition_point(|v| *v < probe)
            );
            assert_eq!(
                count_while(&sorted, |v| v <= probe),
                sorted.partition_point(|v| *v <= probe)
            );
        }
        assert_eq!(count_while(&[], |v| v < 1.0), 0);
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

    #[test]
    fn walking_and_shifting_give_the_same_window() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Above WALK_UP_TO the window searches and shifts; compare both on the same stream.
        let mut small = SortedWindow::new(WALK_UP_TO);
        let mut large = SortedWindow::new(WALK_UP_TO + 1);
        let mut all = Vec::new();
        for _ in 0..2000 {
            let value = f64::from(rng.random_range(-6..6_i32)) * 0.25;
            small.push(value);
            large.push(value);
            all.push(value);
            for (window, n) in [(&small, WALK_UP_TO), (&large, WALK_UP_TO + 1)] {
                let mut expected = all[all.len().saturating_sub(n)..].to_vec();
                expected.sort_by(f64::total_cmp);
                assert_eq!(window.sorted, expected);
            }
        }
    }
}

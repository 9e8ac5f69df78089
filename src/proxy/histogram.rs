//! A lock-free latency histogram with fixed, Prometheus-style buckets.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds (the last bucket is unbounded).
pub const BUCKET_BOUNDS_MS: [f64; 16] = [
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0,
    10_000.0, 30_000.0,
];

/// Counts of durations per bucket, updated with relaxed atomics from any task.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKET_BOUNDS_MS.len() + 1],
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, value: Duration) {
        let ms = value.as_secs_f64() * 1_000.0;
        let index = BUCKET_BOUNDS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(BUCKET_BOUNDS_MS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// A consistent-enough copy of the counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1_000.0,
        }
    }
}

/// The counts of a `Histogram` at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// Count per bucket; `counts[i]` holds values up to `BUCKET_BOUNDS_MS[i]`, the last one
    /// everything above.
    pub counts: Vec<u64>,
    /// Sum of every recorded value, in milliseconds.
    pub sum_ms: f64,
}

impl HistogramSnapshot {
    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The mean in milliseconds, if anything was recorded.
    pub fn mean_ms(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| self.sum_ms / count as f64)
    }

    /// An estimate of quantile `q` (0..=1) in milliseconds, interpolated inside its bucket.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let mut seen = 0.0;
        for (i, c) in self.counts.iter().enumerate() {
            let c = *c as f64;
            if c > 0.0 && seen + c >= rank {
                let lower = if i == 0 { 0.0 } else { BUCKET_BOUNDS_MS[i - 1] };
                let Some(upper) = BUCKET_BOUNDS_MS.get(i) else {
                    return Some(lower);
                };
                return Some(lower + (upper - lower) * ((rank - seen) / c).clamp(0.0, 1.0));
            }
            seen += c;
        }
        BUCKET_BOUNDS_MS.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_their_buckets_and_sum() {
        let h = Histogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[4], 1);
        assert_eq!(s.counts[BUCKET_BOUNDS_MS.len()], 1);
        assert_eq!(s.count(), 3);
        assert!((s.sum_ms - 60_003.05).abs() < 1e-6);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let h = Histogram::default();
        for _ in 0..100 {
            h.record(Duration::from_millis(60));
        }
        let s = h.snapshot();
        let p50 = s.quantile_ms(0.5).unwrap();
        assert!((50.0..=100.0).contains(&p50), "{p50}");
        assert_eq!(Histogram::default().snapshot().quantile_ms(0.5), None);
        assert_eq!(s.mean_ms(), Some(60.0));
    }
}

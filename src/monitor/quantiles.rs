//! Quantiles by the nearest-rank method: the q-quantile of n sorted values is the value at
//! rank ⌈q·n⌉, always an observed value (p50 of 1..=100 is 50, p99 is 99).

use serde::Serialize;

/// p50, p90, p95 and p99 of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Quantiles {
    /// The quantiles of `values` (sorted here); all zero when empty.
    pub fn of(mut values: Vec<f64>) -> Quantiles {
        values.sort_by(f64::total_cmp);
        Quantiles {
            p50: nearest_rank(&values, 0.50),
            p90: nearest_rank(&values, 0.90),
            p95: nearest_rank(&values, 0.95),
            p99: nearest_rank(&values, 0.99),
        }
    }
}

pub use crate::plan::probe_stat::nearest_rank;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_hand_computed_cases() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = Quantiles::of(hundred);
        assert_eq!((q.p50, q.p90, q.p95, q.p99), (50.0, 90.0, 95.0, 99.0));
        // Ten values: ranks ⌈5⌉=5, ⌈9⌉=9, ⌈9.5⌉=10, ⌈9.9⌉=10.
        let q = Quantiles::of(vec![7.0, 1.0, 9.0, 3.0, 5.0, 2.0, 8.0, 4.0, 10.0, 6.0]);
        assert_eq!((q.p50, q.p90, q.p95, q.p99), (5.0, 9.0, 10.0, 10.0));
        assert_eq!(nearest_rank(&[4.0], 0.5), 4.0);
        assert_eq!(nearest_rank(&[], 0.5), 0.0);
    }
}

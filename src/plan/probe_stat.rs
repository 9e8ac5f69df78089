//! The metric vocabulary: what `source.metric` may name for each kind of source, with units.
//! A probe's metrics are `ProbeStat`s, read from one `ProbeStats` by one `value()`; the
//! checker, the thresholds, the telemetry series, the mitigation engine, rhai scripts and the
//! risk assessment all read them here.

use super::MetricUnit;

/// A statistic of a probe's checks (`checkout.p99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeStat {
    P50,
    P90,
    P95,
    P99,
    Mean,
    Max,
    ErrorRate,
    Availability,
    Count,
}

/// A probe's figures over some checks, latencies in milliseconds. A figure that was not
/// measured is NaN.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProbeStats {
    pub count: f64,
    pub error_rate: f64,
    pub availability: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

impl ProbeStat {
    /// Every statistic, in the order diagnostics list them.
    pub const ALL: [ProbeStat; 9] = [
        ProbeStat::P50,
        ProbeStat::P90,
        ProbeStat::P95,
        ProbeStat::P99,
        ProbeStat::Mean,
        ProbeStat::Max,
        ProbeStat::ErrorRate,
        ProbeStat::Availability,
        ProbeStat::Count,
    ];

    /// Its name in the language.
    pub const fn name(self) -> &'static str {
        match self {
            ProbeStat::P50 => "p50",
            ProbeStat::P90 => "p90",
            ProbeStat::P95 => "p95",
            ProbeStat::P99 => "p99",
            ProbeStat::Mean => "mean",
            ProbeStat::Max => "max",
            ProbeStat::ErrorRate => "error_rate",
            ProbeStat::Availability => "availability",
            ProbeStat::Count => "count",
        }
    }

    pub const fn unit(self) -> MetricUnit {
        match self {
            ProbeStat::ErrorRate | ProbeStat::Availability => MetricUnit::Fraction,
            ProbeStat::Count => MetricUnit::Count,
            _ => MetricUnit::Milliseconds,
        }
    }

    /// The statistic named `name`, if any.
    pub fn parse(name: &str) -> Option<ProbeStat> {
        ProbeStat::ALL.into_iter().find(|stat| stat.name() == name)
    }

    /// Its value in `stats`.
    pub fn value(self, stats: &ProbeStats) -> f64 {
        match self {
            ProbeStat::P50 => stats.p50_ms,
            ProbeStat::P90 => stats.p90_ms,
            ProbeStat::P95 => stats.p95_ms,
            ProbeStat::P99 => stats.p99_ms,
            ProbeStat::Mean => stats.mean_ms,
            ProbeStat::Max => stats.max_ms,
            ProbeStat::ErrorRate => stats.error_rate,
            ProbeStat::Availability => stats.availability,
            ProbeStat::Count => stats.count,
        }
    }
}

impl ProbeStats {
    /// The figures of checks given as (latency ms, success); quantiles are nearest-rank. Of
    /// no checks, the count is 0, rates and the mean NaN, the rest 0.
    pub fn of_checks(checks: impl IntoIterator<Item = (f64, bool)>) -> ProbeStats {
        let mut failures = 0usize;
        let mut latencies: Vec<f64> = checks
            .into_iter()
            .map(|(ms, success)| {
                failures += usize::from(!success);
                ms
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        let count = latencies.len() as f64;
        let failures = failures as f64;
        ProbeStats {
            count,
            error_rate: failures / count,
            availability: (count - failures) / count,
            mean_ms: latencies.iter().sum::<f64>() / count,
            max_ms: latencies.last().copied().unwrap_or(0.0),
            p50_ms: nearest_rank(&latencies, 0.50),
            p90_ms: nearest_rank(&latencies, 0.90),
            p95_ms: nearest_rank(&latencies, 0.95),
            p99_ms: nearest_rank(&latencies, 0.99),
        }
    }
}

/// The q-quantile (0 < q ≤ 1) of sorted values, nearest-rank; 0 when there are none.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

const fn table<const N: usize>(stats: [ProbeStat; N]) -> [(&'static str, MetricUnit); N] {
    let mut out = [("", MetricUnit::Number); N];
    let mut i = 0;
    while i < N {
        out[i] = (stats[i].name(), stats[i].unit());
        i += 1;
    }
    out
}

/// Metrics of each kind of source, with their units.
pub const PROBE_METRICS: &[(&str, MetricUnit)] = &table(ProbeStat::ALL);
pub const RESOURCE_METRICS: &[(&str, MetricUnit)] = &[
    ("cpu", MetricUnit::Fraction),
    ("memory", MetricUnit::Bytes),
    ("io_read", MetricUnit::Bytes),
    ("io_write", MetricUnit::Bytes),
    ("restarts", MetricUnit::Count),
];
pub const LINK_METRICS: &[(&str, MetricUnit)] = &[
    ("latency", MetricUnit::Milliseconds),
    ("bytes", MetricUnit::Bytes),
    ("connections", MetricUnit::Count),
    ("requests", MetricUnit::Count),
    ("errors", MetricUnit::Count),
    ("error_rate", MetricUnit::Fraction),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_table_follows_the_enum() {
        for stat in ProbeStat::ALL {
            assert_eq!(ProbeStat::parse(stat.name()), Some(stat));
        }
        assert_eq!(ProbeStat::parse("p42"), None);
        assert_eq!(PROBE_METRICS[0], ("p50", MetricUnit::Milliseconds));
        assert_eq!(PROBE_METRICS[8], ("count", MetricUnit::Count));
    }

    #[test]
    fn stats_of_hand_computed_checks() {
        let checks = (1..=10).map(|ms| (ms as f64 * 10.0, ms != 3));
        let stats = ProbeStats::of_checks(checks);
        assert_eq!(ProbeStat::Count.value(&stats), 10.0);
        assert_eq!(ProbeStat::ErrorRate.value(&stats), 0.1);
        assert_eq!(ProbeStat::Availability.value(&stats), 0.9);
        assert_eq!(ProbeStat::Mean.value(&stats), 55.0);
        assert_eq!(ProbeStat::Max.value(&stats), 100.0);
        assert_eq!(ProbeStat::P50.value(&stats), 50.0);
        assert_eq!(ProbeStat::P90.value(&stats), 90.0);
        assert_eq!(ProbeStat::P99.value(&stats), 100.0);
        let none = ProbeStats::of_checks([]);
        assert_eq!((none.count, none.p99_ms), (0.0, 0.0));
        assert!(none.error_rate.is_nan());
    }
}

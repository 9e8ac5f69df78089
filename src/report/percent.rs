//! Values in their unit, as every report prints them: fractions as percentages, durations in
//! ms, bytes in bytes.

use crate::plan::{MetricUnit, trim};

/// `0.5` of a fraction → `50%`; `12` ms → `12ms`.
pub fn value_in(unit: MetricUnit, value: f64) -> String {
    match unit {
        MetricUnit::Milliseconds => format!("{}ms", trim(value)),
        MetricUnit::Fraction => format!("{}%", trim(value * 100.0)),
        MetricUnit::Bytes => format!("{} bytes", trim(value)),
        MetricUnit::Count | MetricUnit::Number => trim(value),
    }
}

/// A fraction as a percentage with at most 3 decimals.
pub fn percent(fraction: f64) -> String {
    format!("{}%", trim(fraction * 100.0))
}

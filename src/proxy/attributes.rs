//! Reading a toxic's `attributes` object with clear errors.
//!
//! Like Toxiproxy, a missing attribute takes its zero default and an unknown one is ignored
//! (old clients send `enabled`); unlike Toxiproxy, a negative, fractional or mistyped value
//! is refused with a message naming the attribute, the expected unit and the value.

use crate::plan::Distribution;
use serde_json::{Map, Value};
use std::fmt;

/// The longest delay or timeout a toxic takes, in milliseconds: one day. (To hold data
/// forever, use `timeout` with 0.)
pub const MAX_DELAY_MS: u64 = 86_400_000;

/// A bad attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError(pub String);

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AttributeError {}

/// A view of an `attributes` object (`null` or absent reads as empty).
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Attributes<'a> {
    pub fn new(value: &'a Value) -> Result<Self, AttributeError> {
        match value {
            Value::Null => Ok(Attributes { map: None }),
            Value::Object(map) => Ok(Attributes { map: Some(map) }),
            other => Err(AttributeError(format!(
                "attributes must be a JSON object, got {other}"
            ))),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    /// A non-negative whole number (`unit` is named in errors, e.g. "milliseconds").
    pub fn whole(&self, key: &str, unit: &str) -> Result<Option<u64>, AttributeError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        if let Some(n) = value.as_u64() {
            return Ok(Some(n));
        }
        match value.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => Ok(Some(f as u64)),
            _ => Err(AttributeError(format!(
                "attribute `{key}` must be a whole number of {unit}, 0 or more; got {value}"
            ))),
        }
    }

    /// A non-negative whole number, 0 when absent.
    pub fn whole_or_zero(&self, key: &str, unit: &str) -> Result<u64, AttributeError> {
        Ok(self.whole(key, unit)?.unwrap_or(0))
    }

    /// A duration in milliseconds, 0 when absent, at most `MAX_DELAY_MS`.
    pub fn millis(&self, key: &str) -> Result<u64, AttributeError> {
        self.bounded(key, "milliseconds", MAX_DELAY_MS)
    }

    /// A duration in microseconds, 0 when absent, at most `MAX_DELAY_MS` milliseconds.
    pub fn micros(&self, key: &str) -> Result<u64, AttributeError> {
        self.bounded(key, "microseconds", MAX_DELAY_MS * 1_000)
    }

    fn bounded(&self, key: &str, unit: &str, max: u64) -> Result<u64, AttributeError> {
        let value = self.whole_or_zero(key, unit)?;
        if value > max {
            return Err(AttributeError(format!(
                "attribute `{key}` is {value} {unit}, more than a day (at most {max}); \
                 to hold data forever use a `timeout` toxic with timeout 0"
            )));
        }
        Ok(value)
    }

    /// A string.
    pub fn text(&self, key: &str) -> Result<Option<&'a str>, AttributeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(AttributeError(format!(
                "attribute `{key}` must be a string, got {other}"
            ))),
        }
    }

    /// A distribution object such as `{"kind": "normal", "mean": 100, "sd": 20}` (in ms).
    pub fn distribution(&self, key: &str) -> Result<Option<Distribution>, AttributeError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let dist: Distribution = serde_json::from_value(value.clone()).map_err(|err| {
            AttributeError(format!(
                "attribute `{key}` is not a distribution ({err}); use e.g. \
                 {{\"kind\": \"normal\", \"mean\": 100, \"sd\": 20}} with kind one of fixed, \
                 uniform, normal, log_normal, exponential, pareto, weibull, empirical"
            ))
        })?;
        validate_distribution(&dist)
            .map_err(|why| AttributeError(format!("attribute `{key}`: {why}")))?;
        Ok(Some(dist))
    }
}

/// Checks that a distribution's parameters make sense for a delay in milliseconds.
pub fn validate_distribution(dist: &Distribution) -> Result<(), String> {
    let finite_non_negative = |name: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(format!(
                "`{name}` must be a finite number, 0 or more; got {v}"
            ))
        }
    };
    let positive = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(format!("`{name}` must be a finite number above 0; got {v}"))
        }
    };
    match dist {
        Distribution::Fixed { value } => finite_non_negative("value", *value),
        Distribution::Uniform { min, max } => {
            finite_non_negative("min", *min)?;
            finite_non_negative("max", *max)?;
            if min > max {
                return Err(format!("`min` ({min}) must not exceed `max` ({max})"));
            }
            Ok(())
        }
        Distribution::Normal { mean, sd } => {
            finite_non_negative("mean", *mean)?;
            finite_non_negative("sd", *sd)
        }
        Distribution::LogNormal { median, sigma } => {
            positive("median", *median)?;
            finite_non_negative("sigma", *sigma)
        }
        Distribution::Exponential { mean } => positive("mean", *mean),
        Distribution::Pareto { scale, shape } | Distribution::Weibull { scale, shape } => {
            positive("scale", *scale)?;
            positive("shape", *shape)
        }
        Distribution::Empirical { values, .. } => {
            if values.is_empty() {
                return Err("`values` must hold at least one value".into());
            }
            values
                .iter()
                .try_for_each(|v| finite_non_negative("values[]", *v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_accept_integral_floats_and_refuse_negatives() {
        let v = json!({"a": 5, "b": 7.0, "c": -1, "d": 1.5, "e": "x", "f": null});
        let a = Attributes::new(&v).unwrap();
        assert_eq!(a.whole("a", "ms"), Ok(Some(5)));
        assert_eq!(a.whole("b", "ms"), Ok(Some(7)));
        assert!(a.whole("c", "ms").unwrap_err().0.contains("`c`"));
        assert!(a.whole("d", "ms").is_err());
        assert!(a.whole("e", "ms").is_err());
        assert_eq!(a.whole("f", "ms"), Ok(None));
        assert_eq!(a.whole_or_zero("missing", "ms"), Ok(0));
    }

    #[test]
    fn durations_are_capped_at_a_day() {
        let v = json!({"ok": MAX_DELAY_MS, "long": MAX_DELAY_MS + 1});
        let a = Attributes::new(&v).unwrap();
        assert_eq!(a.millis("ok"), Ok(MAX_DELAY_MS));
        assert!(a.millis("long").unwrap_err().0.contains("more than a day"));
        assert_eq!(a.micros("long"), Ok(MAX_DELAY_MS + 1));
    }

    #[test]
    fn null_attributes_read_as_empty_and_arrays_are_refused() {
        assert!(Attributes::new(&Value::Null).is_ok());
        assert!(Attributes::new(&json!([1])).is_err());
    }

    #[test]
    fn distributions_are_parsed_and_validated() {
        let v = json!({"d": {"kind": "normal", "mean": 100, "sd": 20},
                       "bad": {"kind": "uniform", "min": 5, "max": 1},
                       "unknown": {"kind": "zipf"}});
        let a = Attributes::new(&v).unwrap();
        assert_eq!(
            a.distribution("d").unwrap(),
            Some(Distribution::Normal {
                mean: 100.0,
                sd: 20.0
            })
        );
        assert!(
            a.distribution("bad")
                .unwrap_err()
                .0
                .contains("must not exceed")
        );
        assert!(
            a.distribution("unknown")
                .unwrap_err()
                .0
                .contains("kind one of")
        );
    }

    #[test]
    fn distribution_parameters_must_be_sane() {
        assert!(validate_distribution(&Distribution::Exponential { mean: 0.0 }).is_err());
        assert!(
            validate_distribution(&Distribution::Normal {
                mean: f64::NAN,
                sd: 1.0
            })
            .is_err()
        );
        let empty = Distribution::Empirical {
            source: "x".into(),
            values: vec![],
        };
        assert!(validate_distribution(&empty).is_err());
        assert!(
            validate_distribution(&Distribution::Pareto {
                scale: 1.0,
                shape: 2.0
            })
            .is_ok()
        );
    }
}

//! A delay drawn from a distribution, written either Toxiproxy's way (`latency` ± `jitter`,
//! integer milliseconds) or pfi's way (a `distribution` object in milliseconds).

use super::attributes::{AttributeError, Attributes, MAX_DELAY_MS, validate_distribution};
use crate::plan::Distribution;
use rand::Rng;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How a delay was written, so the API shows it back the same way.
#[derive(Debug, Clone, PartialEq)]
enum Written {
    Toxiproxy { latency: u64, jitter: u64 },
    Distribution,
}

/// A delay distribution in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DelaySpec {
    distribution: Distribution,
    written: Written,
}

impl DelaySpec {
    /// Toxiproxy's latency: uniform on `latency ± jitter` ms (a fixed delay when jitter is 0).
    pub fn toxiproxy(latency: u64, jitter: u64) -> Self {
        let distribution = if jitter == 0 {
            Distribution::Fixed {
                value: latency as f64,
            }
        } else {
            Distribution::Uniform {
                min: latency as f64 - jitter as f64,
                max: latency as f64 + jitter as f64,
            }
        };
        DelaySpec {
            distribution,
            written: Written::Toxiproxy { latency, jitter },
        }
    }

    /// Any distribution (parameters in milliseconds).
    pub fn distribution(distribution: Distribution) -> Result<Self, AttributeError> {
        validate_distribution(&distribution).map_err(AttributeError)?;
        Ok(DelaySpec {
            distribution,
            written: Written::Distribution,
        })
    }

    /// `{"latency": ms, "jitter": ms}`.
    pub fn from_toxiproxy_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(DelaySpec::toxiproxy(
            a.millis("latency")?,
            a.millis("jitter")?,
        ))
    }

    /// `{"distribution": {...}}`.
    pub fn from_distribution_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        match a.distribution("distribution")? {
            Some(d) => DelaySpec::distribution(d),
            None => Err(AttributeError(
                "attribute `distribution` is required, e.g. \
                 {\"kind\": \"normal\", \"mean\": 100, \"sd\": 20} (milliseconds)"
                    .into(),
            )),
        }
    }

    /// Either form: `distribution` when present, else `latency` and `jitter`.
    pub fn from_either(a: &Attributes) -> Result<Self, AttributeError> {
        if a.distribution("distribution")?.is_some() {
            DelaySpec::from_distribution_attributes(a)
        } else {
            DelaySpec::from_toxiproxy_attributes(a)
        }
    }

    /// Whether it was written Toxiproxy's way.
    pub fn is_toxiproxy(&self) -> bool {
        matches!(self.written, Written::Toxiproxy { .. })
    }

    pub fn as_distribution(&self) -> &Distribution {
        &self.distribution
    }

    /// Writes the attributes back in the form they came in.
    pub fn write_attributes(&self, map: &mut Map<String, Value>) {
        match &self.written {
            Written::Toxiproxy { latency, jitter } => {
                map.insert("latency".into(), json!(latency));
                map.insert("jitter".into(), json!(jitter));
            }
            Written::Distribution => {
                map.insert(
                    "distribution".into(),
                    serde_json::to_value(&self.distribution).unwrap_or(Value::Null),
                );
            }
        }
    }

    /// Draws one delay (at most a day).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let ms = self
            .distribution
            .sample(rng)
            .clamp(0.0, MAX_DELAY_MS as f64);
        Duration::try_from_secs_f64(ms / 1_000.0).unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;

    #[test]
    fn toxiproxy_jitter_is_uniform_around_the_latency() {
        let spec = DelaySpec::toxiproxy(100, 10);
        let mut rng = rng_for(1, "t");
        for _ in 0..1_000 {
            let d = spec.sample(&mut rng).as_secs_f64() * 1_000.0;
            assert!((90.0..=110.0).contains(&d), "{d}");
        }
        assert_eq!(
            DelaySpec::toxiproxy(5, 0).sample(&mut rng),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn attributes_round_trip_in_their_own_form() {
        let v = json!({"latency": 100, "jitter": 5});
        let spec = DelaySpec::from_either(&Attributes::new(&v).unwrap()).unwrap();
        let mut map = Map::new();
        spec.write_attributes(&mut map);
        assert_eq!(Value::Object(map), v);

        let v = json!({"distribution": {"kind": "exponential", "mean": 20.0}});
        let spec = DelaySpec::from_either(&Attributes::new(&v).unwrap()).unwrap();
        assert!(!spec.is_toxiproxy());
        let mut map = Map::new();
        spec.write_attributes(&mut map);
        assert_eq!(Value::Object(map), v);
    }

    #[test]
    fn huge_draws_are_capped_at_a_day() {
        let spec = DelaySpec::distribution(Distribution::Fixed { value: 1e300 }).unwrap();
        let mut rng = rng_for(1, "t");
        assert_eq!(spec.sample(&mut rng), Duration::from_millis(MAX_DELAY_MS));
    }

    #[test]
    fn a_missing_distribution_is_explained() {
        let v = json!({});
        let err = DelaySpec::from_distribution_attributes(&Attributes::new(&v).unwrap());
        assert!(err.unwrap_err().0.contains("required"));
    }
}

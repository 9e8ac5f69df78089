//! Every toxic type, one file each, and the one table that names them for the API.

mod bandwidth;
mod down;
mod http_abort;
mod http_delay;
mod http_error;
mod latency;
mod limit_data;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

pub use bandwidth::{Bandwidth, BandwidthScope};
pub use down::Down;
pub use http_abort::HttpAbort;
pub use http_delay::HttpDelay;
pub use http_error::HttpError;
pub use latency::Latency;
pub use limit_data::LimitData;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;

use super::attributes::{AttributeError, Attributes};
use super::toxic::Toxic;
use std::fmt;
use std::sync::Arc;

/// A toxic type the API knows by name.
pub struct ToxicType {
    /// The `type` in the API.
    pub name: &'static str,
    /// One line for listings and error messages.
    pub summary: &'static str,
    build: fn(&Attributes) -> Result<Arc<dyn Toxic>, AttributeError>,
}

fn arc<T: Toxic>(r: Result<T, AttributeError>) -> Result<Arc<dyn Toxic>, AttributeError> {
    r.map(|t| Arc::new(t) as Arc<dyn Toxic>)
}

/// The registration table: Toxiproxy's types first, then pfi's.
pub const TOXIC_TYPES: &[ToxicType] = &[
    ToxicType {
        name: "latency",
        summary: "delay data by `latency` ± `jitter` ms",
        build: |a| arc(Latency::from_attributes(a)),
    },
    ToxicType {
        name: "bandwidth",
        summary: "limit data to `rate` KB/s (per connection, or `\"scope\": \"link\"`)",
        build: |a| arc(Bandwidth::from_attributes(a)),
    },
    ToxicType {
        name: "slow_close",
        summary: "delay the close of the connection by `delay` ms",
        build: |a| arc(SlowClose::from_attributes(a)),
    },
    ToxicType {
        name: "timeout",
        summary: "drop all data; close after `timeout` ms (0: never)",
        build: |a| arc(Timeout::from_attributes(a)),
    },
    ToxicType {
        name: "reset_peer",
        summary: "reset the connection (RST) after `timeout` ms",
        build: |a| arc(ResetPeer::from_attributes(a)),
    },
    ToxicType {
        name: "slicer",
        summary: "slice data into `average_size` ± `size_variation` bytes, `delay` µs apart",
        build: |a| arc(Slicer::from_attributes(a)),
    },
    ToxicType {
        name: "limit_data",
        summary: "close the connection after `bytes` bytes",
        build: |a| arc(LimitData::from_attributes(a)),
    },
    ToxicType {
        name: "latency_distribution",
        summary: "delay data by a `distribution` in ms (normal, lognormal, pareto, ...)",
        build: |a| arc(Latency::from_distribution_attributes(a)),
    },
    ToxicType {
        name: "down",
        summary: "refuse new connections and reset open ones",
        build: |a| arc(Down::from_attributes(a)),
    },
    ToxicType {
        name: "http_error",
        summary: "answer matching HTTP requests with `status` (HTTP links)",
        build: |a| arc(HttpError::from_attributes(a)),
    },
    ToxicType {
        name: "http_abort",
        summary: "close the connection of matching HTTP requests (HTTP links)",
        build: |a| arc(HttpAbort::from_attributes(a)),
    },
    ToxicType {
        name: "http_delay",
        summary: "delay matching HTTP requests or responses (HTTP links)",
        build: |a| arc(HttpDelay::from_attributes(a)),
    },
];

/// Why a toxic could not be built from its type name and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    UnknownType(String),
    Attributes(AttributeError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::UnknownType(name) => {
                let known: Vec<&str> = TOXIC_TYPES.iter().map(|t| t.name).collect();
                write!(
                    f,
                    "invalid toxic type {name:?}; known types: {}",
                    known.join(", ")
                )
            }
            BuildError::Attributes(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds a toxic of type `type_name` from its `attributes` object.
pub fn build(
    type_name: &str,
    attributes: &serde_json::Value,
) -> Result<Arc<dyn Toxic>, BuildError> {
    let ty = TOXIC_TYPES
        .iter()
        .find(|t| t.name == type_name)
        .ok_or_else(|| BuildError::UnknownType(type_name.to_string()))?;
    let attributes = Attributes::new(attributes).map_err(BuildError::Attributes)?;
    (ty.build)(&attributes).map_err(BuildError::Attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_type_builds_with_sane_attributes_and_names_itself() {
        let attrs = json!({
            "latency": 10, "jitter": 1, "rate": 100, "delay": 5, "timeout": 100,
            "average_size": 10, "size_variation": 2, "bytes": 100, "status": 503,
            "distribution": {"kind": "fixed", "value": 3}
        });
        for ty in TOXIC_TYPES {
            let toxic = build(ty.name, &attrs).unwrap_or_else(|e| panic!("{}: {e}", ty.name));
            assert_eq!(toxic.type_name(), ty.name);
        }
    }

    #[test]
    fn unknown_types_list_the_known_ones() {
        let err = build("lag", &json!({})).unwrap_err().to_string();
        assert!(err.contains("\"lag\"") && err.contains("latency") && err.contains("http_error"));
    }

    #[test]
    fn bad_attributes_name_the_attribute() {
        let err = build("bandwidth", &json!({"rate": -5}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`rate`"), "{err}");
        assert!(build("latency", &json!("fast")).is_err());
    }
}

//! The registry: the one table of detectors, their parameters, and `build`.
//!
//! The language's checker validates `detector ewma(alpha 0.3)` against this table with
//! `resolve` (no detector is built); the run engine then calls `build`.

use super::detector::Detector;
use super::detector_error::DetectorError;
use super::param_spec::ParamSpec;
use super::params::Params;
use super::{ensemble, ewma, holt_winters, isolation_forest, robust_z};

/// A detector kind: its name, what it is good at, its parameters and its constructor.
#[derive(Debug, Clone, Copy)]
pub struct DetectorSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
    /// Builds the detector from validated parameters (see `resolve`).
    pub build: fn(&Params) -> Box<dyn Detector>,
}

impl DetectorSpec {
    /// The parameter called `name`, if the detector has one.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Every detector, in the order `pfi detect --list` shows them.
pub const DETECTORS: &[DetectorSpec] = &[
    ensemble::SPEC,
    ewma::SPEC,
    robust_z::SPEC,
    holt_winters::SPEC,
    isolation_forest::SPEC,
];

/// The detector used when none is named: the best on NAB.
pub const DEFAULT_DETECTOR: &str = ensemble::SPEC.name;

/// The spec of detector `name`.
pub fn spec(name: &str) -> Option<&'static DetectorSpec> {
    DETECTORS.iter().find(|d| d.name == name)
}

/// The names of every detector.
pub fn names() -> Vec<&'static str> {
    DETECTORS.iter().map(|d| d.name).collect()
}

/// Checks `params` against detector `name`'s table without building anything: unknown names,
/// repeated parameters, values out of range or not whole where a count is expected.
pub fn resolve(name: &str, params: &[(String, f64)]) -> Result<Params, DetectorError> {
    let spec = spec(name).ok_or_else(|| DetectorError::UnknownDetector {
        name: name.to_string(),
        known: names(),
    })?;
    let mut resolved = Params::defaults(spec.params);
    let mut given: Vec<&str> = Vec::with_capacity(params.len());
    for (key, value) in params {
        let Some(index) = spec.params.iter().position(|p| p.name == key) else {
            return Err(DetectorError::UnknownParam {
                detector: spec.name,
                param: key.clone(),
                known: spec.params.iter().map(|p| p.name).collect(),
            });
        };
        if given.contains(&key.as_str()) {
            return Err(DetectorError::DuplicateParam {
                detector: spec.name,
                param: key.clone(),
            });
        }
        given.push(key);
        let param = &spec.params[index];
        if !value.is_finite() || *value < param.min || *value > param.max {
            return Err(DetectorError::OutOfRange {
                detector: spec.name,
                param: param.name,
                value: *value,
                min: param.min,
                max: param.max,
            });
        }
        if !param.accepts(*value) {
            return Err(DetectorError::NotInteger {
                detector: spec.name,
                param: param.name,
                value: *value,
            });
        }
        resolved.set(index, *value);
    }
    Ok(resolved)
}

/// Builds detector `name` with `params` (the others keep their defaults).
pub fn build(name: &str, params: &[(String, f64)]) -> Result<Box<dyn Detector>, DetectorError> {
    let resolved = resolve(name, params)?;
    let spec = spec(name).ok_or_else(|| DetectorError::UnknownDetector {
        name: name.to_string(),
        known: names(),
    })?;
    Ok((spec.build)(&resolved))
}

//! `DetectorSpec`: a detector kind's entry in the registry. Each detector's file declares its
//! own `SPEC`; `registry` lists them (so detectors import this file, not the registry).

use super::detector::Detector;
use super::param_spec::ParamSpec;
use super::params::Params;

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

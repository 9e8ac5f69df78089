//! `DetectorError`: why a detector could not be built from a name and parameters.

use std::fmt;

/// A detector name or parameter the registry rejects. Every message says what is accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectorError {
    UnknownDetector {
        name: String,
        known: Vec<&'static str>,
    },
    UnknownParam {
        detector: &'static str,
        param: String,
        known: Vec<&'static str>,
    },
    DuplicateParam {
        detector: &'static str,
        param: String,
    },
    OutOfRange {
        detector: &'static str,
        param: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    NotInteger {
        detector: &'static str,
        param: &'static str,
        value: f64,
    },
}

impl fmt::Display for DetectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectorError::UnknownDetector { name, known } => write!(
                f,
                "unknown detector `{name}`; the detectors are: {}",
                known.join(", ")
            ),
            DetectorError::UnknownParam {
                detector,
                param,
                known,
            } => write!(
                f,
                "detector `{detector}` has no parameter `{param}`; its parameters are: {}",
                known.join(", ")
            ),
            DetectorError::DuplicateParam { detector, param } => write!(
                f,
                "parameter `{param}` of detector `{detector}` is given twice; give it once"
            ),
            DetectorError::OutOfRange {
                detector,
                param,
                value,
                min,
                max,
            } => write!(
                f,
                "parameter `{param}` of detector `{detector}` is {value}, outside its range \
                 [{min}, {max}]; pick a value in that range"
            ),
            DetectorError::NotInteger {
                detector,
                param,
                value,
            } => write!(
                f,
                "parameter `{param}` of detector `{detector}` is {value}, but it counts samples; \
                 give a whole number"
            ),
        }
    }
}

impl std::error::Error for DetectorError {}

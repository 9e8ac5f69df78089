//! `Alarm`: a row whose score reached the alarm level, and why (`pfi detect --explain`).

use super::crossing::Crossing;

/// The first row of a run of rows scoring at least the alarm level.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// Index of the row in the series.
    pub row: usize,
    pub score: f64,
    /// The detector's own account (`Detector::explain`), or the score alone.
    pub why: String,
    /// The forecast crossing, from detectors that forecast one.
    pub crossing: Option<Crossing>,
}

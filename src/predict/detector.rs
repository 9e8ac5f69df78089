//! The `Detector` trait: one streaming anomaly detector.

use super::crossing::Crossing;

/// A streaming anomaly detector over one metric.
///
/// Contract, checked for every registered detector by the tests in `registry.rs`:
/// - `update` is called once per sample, in arrival order, and returns the score of that sample,
///   in `[0, 1]` (0 = as expected, 1 = as surprising as the detector can say, see `surprise.rs`);
/// - the score of a sample depends only on that sample and the ones before it;
/// - memory is bounded: it is fixed by the parameters, never by the length of the stream;
/// - a non-finite value (a missing sample) scores 0 and leaves the state untouched;
/// - timestamps are used, if at all, only to infer sampling intervals (a daily season); they may
///   repeat, go backwards or jump, and that never breaks a detector.
pub trait Detector: Send {
    /// The registry name of the detector (`ewma`, `robust_z`, ...).
    fn name(&self) -> &'static str;

    /// Feeds one sample and returns its anomaly score in `[0, 1]`.
    fn update(&mut self, timestamp_secs: f64, value: f64) -> f64;

    /// How many numbers the detector holds in its buffers: bounded by its parameters (a test
    /// feeds long streams and checks it stops growing).
    fn footprint(&self) -> usize;

    /// Why the latest sample scored what it did, in a few words (`pfi detect --explain`): which
    /// view or model fired and on what evidence. `None` when the detector has nothing to add to
    /// its score.
    fn explain(&self) -> Option<String> {
        None
    }

    /// When the metric is expected to reach its limit, for detectors that forecast one
    /// (`forecast`): `None` when nothing is heading for a limit.
    fn crossing(&self) -> Option<Crossing> {
        None
    }
}

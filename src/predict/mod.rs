//! Streaming anomaly detection and fault prediction.
//!
//! # The pieces
//! - [`Detector`]: one streaming detector over one metric. `update(timestamp_secs, value)` takes
//!   one sample and returns its score in `[0, 1]`; the score of a sample depends only on the
//!   samples up to it; memory is bounded by the parameters; `Send`. A missing (non-finite) value
//!   scores 0 and changes nothing.
//! - The registry ([`registry`]): the one table of detectors ([`DETECTORS`]), each a
//!   [`DetectorSpec`] with a doc and a table of [`ParamSpec`]s (name, kind, default, inclusive
//!   range, doc). [`resolve`] validates `name(param value, …)` without building anything (for the
//!   checker: unknown detector → the list of names, unknown parameter → the list of parameters,
//!   out of range → the range, fraction where a count is expected, repeated parameter);
//!   [`build`] returns a `Box<dyn Detector>`.
//! - [`Trend`]: a rising / falling / flat verdict with a strength in `[0, 1]` and a robust slope,
//!   for patterns such as "latency rising".
//! - [`Series`]: a robust `timestamp,value` CSV reader (see `series.rs` for every awkward case)
//!   and [`score_series`], which scores a whole file NAB-style.
//!
//! | detector | what it scores |
//! |---|---|
//! | `ensemble` (default) | extremes + sustained level shifts + sustained seasonal residuals, one alarm per incident |
//! | `ewma` | z-score against an exponentially weighted mean and variance |
//! | `robust_z` | z-score against a rolling median and MAD |
//! | `holt_winters` | Holt-Winters (daily season from the timestamps) forecast residual |
//! | `isolation_forest` | streaming isolation forest over each value and its recent changes |
//! | `forecast` | probability of reaching a limit within a horizon (robust local linear trend), with the time to it |
//! | `changepoint` | CUSUM change points: level shifts up or down, variance increases |
//! | `seasonal` | surprise against a level plus a learnt time-of-day profile |
//!
//! The precursor benchmark (`cargo bench --bench precursors`: `precursor_corpus`,
//! `early_warning`, `precursor_score`, `rolling_z`, `reliability`) measures early warnings of
//! faults and the calibration of `forecast`; `pfi detect --precursors DIR` scores a corpus on
//! disk (`precursor_dir`), such as the one recorded from real runs in
//! `bench/precursors/recorded/`; see the README's Prediction section.
//!
//! # What a score means
//! - The single-model detectors report *surprise*: with `d = log10(1/p)`, the orders of
//!   magnitude of improbability of the sample under the detector's running model, the score is
//!   `d / (d + 6)`: 0.33 is a one-in-a-thousand sample, 0.5 one in a million, 0.67 one in 10^12
//!   (`surprise.rs`). `isolation_forest` reports the classic isolation reading `2s - 1` of its
//!   isolation score `s` (0 for ordinary points, towards 1 for points isolated at once).
//! - `ensemble` reports an *alarm score*: each view scores how far the current moment beats
//!   the strongest such moment in the metric's own history (`e / (e + tol)`, 0.5 when the record
//!   is beaten by `tol`), the strongest view wins, and after an alarm (a score of at least
//!   `alarm`, 0.45) the next `hold` samples are silenced unless they escalate. A score of 0.45 or
//!   more is an alarm: on NAB the best threshold of every profile was 0.4575.
//!
//! # Warm-up and the length of a file
//! Every detector has a `warmup` parameter: samples it learns from before it scores (they score
//! 0). NAB grants each detector a probationary period (the first 15% of a file's rows, at most
//! 750); `pfi detect` and [`score_series`] set `warmup` to it unless told otherwise. That is the
//! only use made of a file's length; the detector still sees one sample at a time.
//!
//! # NAB (v1.1 corpus, `pfi detect --nab`, scored by `nab_score.py`)
//! One parameter set for the whole corpus (the defaults), chosen on the corpus itself (as every
//! published NAB detector was tuned), so these are in-sample figures.
//!
//! | detector | standard | low FP | low FN |
//! |---|---|---|---|
//! | `ensemble` | 70.65 | 64.38 | 74.68 |
//! | `ewma` | 35.08 | 26.42 | 42.93 |
//! | `robust_z` | 34.98 | 34.46 | 35.96 |
//! | `isolation_forest` | 32.17 | 21.54 | 44.15 |
//! | `holt_winters` | 30.39 | 28.26 | 35.37 |
//! | `forecast` (no limit) | 32.04 | 14.48 | 41.33 |
//! | `changepoint` | 19.40 | 7.94 | 32.76 |
//! | `seasonal` | 14.65 | 11.47 | 25.86 |
//! | Numenta HTM (published) | 70.10 | 63.12 | 74.32 |
//! | Random Cut Forest (published) | 51.72 | 38.36 | 59.75 |
//!
//! The single-model detectors stay near the Windowed Gaussian baseline (39.65): a per-sample
//! surprise has no sense of proportion across metrics and raises an alarm on every sample of an
//! incident (their `range_floor` at least keeps a wobble on a plateau from being "infinitely"
//! surprising); the ensemble's records and suppression exist to fix exactly that.
//!
//! Ablation of the ensemble (standard profile): extremes view alone 59.11, without the level
//! view 64.23, without the season view 66.76, without the extremes view 47.97, without the hold
//! (`hold 0`) 61.87; adding the isolation-forest view (`w_forest 1`) gives 70.50, so it is off.

pub mod alarm;
pub mod cadence;
pub mod calibration;
pub mod changepoint;
pub mod crossing;
pub mod detector;
pub mod detector_error;
pub mod detector_spec;
pub mod early_warning;
pub mod ensemble;
pub mod ewma;
pub mod extremes;
pub mod forecast;
pub mod holt_winters;
pub mod isolation_forest;
pub mod live;
pub mod local_trend;
pub mod outcome;
pub mod param_spec;
pub mod params;
pub mod precursor_corpus;
pub mod precursor_dir;
pub mod precursor_score;
pub mod prediction;
pub mod record;
pub mod registry;
pub mod reliability;
pub mod robust_z;
pub mod rolling_z;
pub mod scoring;
pub mod seasonal;
pub mod series;
pub mod series_error;
pub mod sorted_window;
pub mod suppressor;
pub mod surprise;
pub mod sustained;
pub mod timestamp;
pub mod trend;

pub use alarm::Alarm;
pub use crossing::Crossing;
pub use detector::Detector;
pub use detector_error::DetectorError;
pub use param_spec::{ParamKind, ParamSpec};
pub use params::Params;
pub use prediction::{Prediction, Signal};
pub use registry::{DETECTORS, DetectorSpec, build, resolve, spec};
pub use scoring::{probation, score_and_explain, score_series};
pub use series::{Row, Series, SeriesReport};
pub use series_error::SeriesError;
pub use trend::{Direction, Trend, TrendConfig, TrendReading};

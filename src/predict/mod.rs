//! Streaming anomaly detection and fault prediction.

pub mod cadence;
pub mod detector;
pub mod detector_error;
pub mod ensemble;
pub mod ewma;
pub mod extremes;
pub mod holt_winters;
pub mod isolation_forest;
pub mod param_spec;
pub mod params;
pub mod record;
pub mod registry;
pub mod robust_z;
pub mod scoring;
pub mod series;
pub mod series_error;
pub mod sorted_window;
pub mod suppressor;
pub mod surprise;
pub mod sustained;
pub mod timestamp;
pub mod trend;

pub use detector::Detector;
pub use detector_error::DetectorError;
pub use param_spec::{ParamKind, ParamSpec};
pub use params::Params;
pub use registry::{DETECTORS, DetectorSpec, build, resolve, spec};
pub use scoring::{probation, score_series};
pub use series::{Row, Series, SeriesReport};
pub use series_error::SeriesError;
pub use trend::{Direction, Trend, TrendConfig, TrendReading};

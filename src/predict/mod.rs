//! Streaming anomaly detection and fault prediction.

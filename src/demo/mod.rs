//! Small services to experiment on, served by the `pfi-demo` binary: a TCP `backend` and an
//! HTTP `api` that calls it, with knobs for latency, CPU work and a memory leak. Each server
//! takes an already bound listener and a shutdown future, so tests bind `127.0.0.1:0`.

mod api;
mod api_stats;
mod backend;
mod cpu_work;
mod leak;
mod units;

pub use api::{ApiConfig, ApiEnd, serve_api};
pub use backend::{BackendConfig, serve_backend};
pub use units::{parse_bytes, parse_duration, parse_rate};

//! Watching the system under test: probes (http, tcp, command), telemetry (`/proc`, Docker
//! stats, proxy link counters, probe metrics, Prometheus scrapes), and the metrics store every
//! reading goes to.

mod command_probe;
mod docker_telemetry;
mod http_probe;
mod link_telemetry;
mod metrics_store;
mod probe;
mod probe_telemetry;
mod proc_telemetry;
mod prometheus_telemetry;
pub mod prometheus_text;
mod promql_telemetry;
mod quantiles;
mod run_clock;
mod sampler;
mod tcp_probe;

pub use command_probe::CommandProbe;
pub use docker_telemetry::{ContainerSample, DockerTelemetry};
pub use http_probe::{ExpectedStatus, HttpProbe};
pub use link_telemetry::LinkTelemetry;
pub use metrics_store::{
    DEFAULT_CAPACITY, LatencyStats, MetricsStore, Phase, Point, ProbeSummary, Selection,
    SeriesSummary, Window,
};
pub use probe::{BoxFuture, Check, Observation, Probe, observe, observe_scheduled};
pub use probe_telemetry::ProbeTelemetry;
pub use proc_telemetry::{ProcTelemetry, TelemetrySample};
pub use prometheus_telemetry::PrometheusTelemetry;
pub use promql_telemetry::PromqlTelemetry;
pub use quantiles::{Quantiles, nearest_rank};
pub use run_clock::RunClock;
pub use sampler::{run_probe, run_telemetry};
pub use tcp_probe::TcpProbe;

//! Watching the system under test: probes (http, tcp, command), telemetry (`/proc`, Docker
//! stats, proxy link counters, probe metrics, Prometheus scrapes), and the metrics store every
//! reading goes to. The probes themselves are in `crate::probes` (below both this module and
//! `targets`, whose readiness checks use them); they are re-exported here.

mod docker_telemetry;
mod link_telemetry;
mod metrics_store;
mod probe_telemetry;
mod proc_telemetry;
mod prometheus_telemetry;
pub mod prometheus_text;
mod promql_telemetry;
mod quantiles;
mod sampler;

pub use crate::probes::{
    BoxFuture, Check, CommandProbe, ExpectedStatus, HttpProbe, Observation, Probe, RunClock,
    TcpProbe, observe, observe_scheduled,
};
pub use docker_telemetry::{ContainerSample, DockerTelemetry};
pub use link_telemetry::LinkTelemetry;
pub use metrics_store::{
    DEFAULT_CAPACITY, LatencyStats, MetricsStore, Phase, Point, ProbeSummary, Selection,
    SeriesSummary, Window,
};
pub use probe_telemetry::ProbeTelemetry;
pub use proc_telemetry::{ProcTelemetry, TelemetrySample};
pub use prometheus_telemetry::PrometheusTelemetry;
pub use promql_telemetry::PromqlTelemetry;
pub use quantiles::{Quantiles, nearest_rank};
pub use sampler::{run_probe, run_telemetry};

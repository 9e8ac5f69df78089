//! Health checks — HTTP request, TCP connect, command — behind the `Probe` role, timed on the
//! run's clock. Below both `monitor` (which schedules them open-loop) and `targets` (whose
//! readiness checks use the HTTP and TCP probes), so neither imports the other for them.

mod command_probe;
mod http_probe;
mod probe;
mod run_clock;
mod tcp_probe;

pub use command_probe::CommandProbe;
pub use http_probe::{ExpectedStatus, HttpProbe};
pub use probe::{BoxFuture, Check, Observation, Probe, observe, observe_scheduled};
pub use run_clock::RunClock;
pub use tcp_probe::TcpProbe;

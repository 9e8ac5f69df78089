//! Watching the system under test: probes (http, tcp, command), `/proc` telemetry, and the
//! metrics store every reading goes to.

mod command_probe;
mod http_probe;
mod probe;
mod run_clock;
mod tcp_probe;

pub use command_probe::CommandProbe;
pub use http_probe::{ExpectedStatus, HttpProbe};
pub use probe::{BoxFuture, Check, Observation, Probe, observe};
pub use run_clock::RunClock;
pub use tcp_probe::TcpProbe;

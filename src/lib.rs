//! pfi — predictive fault injection.
//!
//! The library is a pipeline of stages (see ARCHITECTURE.md): `syntax` turns text into an AST,
//! `check` turns the AST into a typed `plan::Plan`, `model` samples the fault timeline and
//! scores risk, `run` executes a plan against real processes, containers and proxied links,
//! and `report` renders what a run did (summary, journal, JUnit, Markdown, HTML).

pub mod agent;
pub mod analyze;
pub mod check;
pub mod cli;
pub mod demo;
pub mod diagnostic;
pub mod faults;
pub mod mitigate;
pub mod model;
pub mod monitor;
pub mod plan;
pub mod predict;
pub mod probes;
pub mod proxy;
pub mod report;
pub mod run;
pub mod serve;
pub mod syntax;
pub mod targets;

/// A boxed, sendable future: what a trait method that must be object-safe returns (probes,
/// faults, mitigation actions, the schedule's actuator). The one definition of it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

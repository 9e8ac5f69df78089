//! pfi — predictive fault injection.
//!
//! The library is a pipeline of stages (see ARCHITECTURE.md): `syntax` turns text into an AST,
//! `check` turns the AST into a typed `plan::Plan`, `model` samples the fault timeline and
//! scores risk, `run` executes a plan against real processes, containers and proxied links,
//! and `report` renders what a run did (summary, journal, JUnit, Markdown, HTML).

/// mimalloc instead of the system allocator: checking a big scenario builds hundreds of
/// thousands of small strings and vectors, and glibc's malloc and free were a third of
/// `pfi check`'s time on the 10,000-resource benchmark (`benches/check.rs`). Set here, in the
/// library, so that the binary, the tests and the benchmarks all measure the same thing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
pub mod proxy;
pub mod report;
pub mod run;
pub mod serve;
pub mod syntax;
pub mod targets;

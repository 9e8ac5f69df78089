//! pfi — predictive fault injection.
//!
//! The library is a pipeline of stages (see ARCHITECTURE.md): `syntax` turns text into an AST,
//! `check` turns the AST into a typed `plan::Plan`, `model` samples the fault timeline and
//! scores risk, `run` executes a plan against real processes, containers and proxied links.

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
pub mod run;
pub mod syntax;
pub mod targets;

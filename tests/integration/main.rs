//! Integration tests: one binary, one module per command or capability.

mod analyze;
mod demo;
mod detect;
mod docker;
mod docker_run;
mod engine;
mod language;
mod ledger;
mod mitigate_run;
mod monitor;
mod predict_run;
mod process;
mod proxy;
mod risk;
mod run;
mod support;

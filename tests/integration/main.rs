//! Integration tests: one binary, one module per command or capability.

mod analyze;
mod compose_run;
mod demo;
mod detect;
mod devtools;
mod docker;
mod docker_run;
mod engine;
mod faults;
mod interrupts;
mod language;
mod ledger;
mod mangler;
mod measurement;
mod mitigate_run;
mod monitor;
mod predict_run;
mod process;
mod promql;
mod proxy;
mod report;
mod risk;
mod run;
mod serve;
mod support;
mod swarm;

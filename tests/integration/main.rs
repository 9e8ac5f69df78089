//! Integration tests: one binary, one module per command or capability.

mod demo;
mod docker;
mod ledger;
mod monitor;
mod process;
mod proxy;
mod support;

//! Integration tests: one binary, one module per capability.

mod demo;
mod ledger;
mod monitor;
mod process;
mod support;

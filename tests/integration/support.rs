//! Helpers shared by the integration tests.

use std::process::Command;

/// The `pfi` binary built for this test run.
pub fn pfi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pfi"))
}

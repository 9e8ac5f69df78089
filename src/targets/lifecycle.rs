//! The `LifecycleRecorder` role: told about every start and exit of a process resource, so
//! the run's ledger knows which processes to stop after a crash.

use super::process_identity::ProcessIdentity;
use std::io;

pub trait LifecycleRecorder: Send + Sync {
    /// A process was spawned. An error here makes the start fail (and the process is killed):
    /// an unrecorded process could outlive a crash.
    fn process_started(&self, resource: &str, identity: &ProcessIdentity) -> io::Result<()>;

    /// The process exited (stopped by pfi, killed by a fault, or crashed on its own).
    fn process_exited(
        &self,
        resource: &str,
        identity: &ProcessIdentity,
        exit: &str,
    ) -> io::Result<()>;
}

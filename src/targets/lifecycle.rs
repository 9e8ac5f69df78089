//! The `LifecycleRecorder` role: told about every start and exit of a process resource and
//! every container pfi creates and removes, so the run's ledger knows what to stop or remove
//! after a crash.

use super::process_identity::ProcessIdentity;
use std::io;

pub trait LifecycleRecorder: Send + Sync {
    /// A process is about to be spawned with `marker` in its environment
    /// (`PFI_SPAWN_MARKER`). An error here stops the spawn. Recorders that cannot outlive a
    /// crash need not record it.
    fn process_spawning(&self, resource: &str, marker: &str) -> io::Result<()> {
        let _ = (resource, marker);
        Ok(())
    }

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

    /// A container is about to be created under `name` (recorded first, so that a crash
    /// right after creating it cannot leave it unrecorded). An error here stops the creation.
    fn container_creating(&self, resource: &str, name: &str) -> io::Result<()>;

    /// The container was removed (or never created).
    fn container_removed(&self, resource: &str, name: &str) -> io::Result<()>;
}

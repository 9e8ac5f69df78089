//! Spawn markers: a process pfi spawns carries `PFI_SPAWN_MARKER=<marker>` in its environment,
//! and the ledger records the marker before the spawn. A run killed between the spawn and the
//! `process_started` line leaves a process only its marker can find: `pfi recover` looks for
//! it in every process's environment.

use super::process_identity::ProcessIdentity;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that carries the marker.
pub const MARKER_VAR: &str = "PFI_SPAWN_MARKER";

/// A marker no other spawn shares: this pfi process, the resource, the time and a counter.
pub fn new_marker(resource: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{resource}-{nanos}-{n}", std::process::id())
}

/// Every process whose environment holds exactly `PFI_SPAWN_MARKER=<marker>`. Processes whose
/// environment cannot be read (another user's, or gone meanwhile) are skipped.
pub fn processes_with_marker(marker: &str) -> Vec<ProcessIdentity> {
    let wanted = format!("{MARKER_VAR}={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes())
            && let Ok(Some(identity)) = ProcessIdentity::of(pid)
        {
            found.push(identity);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_process_by_its_marker_and_nothing_else() {
        let marker = new_marker("test");
        assert_ne!(marker, new_marker("test"));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(MARKER_VAR, &marker)
            .spawn()
            .unwrap();
        // The environment is readable once the child has exec'd.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let found = loop {
            let found = processes_with_marker(&marker);
            if !found.is_empty() || std::time::Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let prefix = processes_with_marker(&marker[..marker.len() - 1]);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            found.iter().map(|p| p.pid).collect::<Vec<_>>(),
            [child.id()]
        );
        assert!(prefix.is_empty(), "a prefix of the marker matched");
    }
}

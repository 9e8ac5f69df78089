//! `CgroupPlacement`: one fault's cgroup — created, limited, the process moved in; and undone:
//! the processes moved back and the cgroup removed. Serialisable, so the ledger holds it
//! before anything is created.

use super::controller::{CgroupVersion, Controller};
use crate::faults::RevertOutcome;
use crate::targets::{ProcStat, descendants};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One write to a cgroup interface file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSetting {
    /// File name in the cgroup folder (`cpu.max`, `memory.limit_in_bytes`...).
    pub file: String,
    pub value: String,
}

impl CgroupSetting {
    pub fn new(file: impl Into<String>, value: impl Into<String>) -> CgroupSetting {
        CgroupSetting {
            file: file.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPlacement {
    pub version: CgroupVersion,
    pub controller: Controller,
    /// The hierarchy's mount point.
    pub mount_point: PathBuf,
    /// The cgroup pfi creates for the fault.
    pub path: PathBuf,
    /// The cgroup the process was in, where revert moves it back.
    pub origin: PathBuf,
    /// Limits written to the new cgroup, in order.
    pub settings: Vec<CgroupSetting>,
    /// The process moved in (with its descendants).
    pub pid: u32,
    pub start_time: u64,
}

impl CgroupPlacement {
    /// Creates the cgroup, writes the limits, then moves the process and its descendants in.
    /// Returns a one-line description of what was done.
    pub fn apply(&self) -> Result<String, String> {
        if self.version == CgroupVersion::V2 {
            self.enable_v2_controller()?;
        }
        std::fs::create_dir_all(&self.path)
            .map_err(|err| format!("cannot create cgroup {}: {err}", self.path.display()))?;
        for setting in &self.settings {
            write_file(&self.path.join(&setting.file), &setting.value)?;
        }
        match ProcStat::read(self.pid) {
            Ok(Some(stat)) if stat.start_time == self.start_time => {}
            _ => {
                return Err(format!(
                    "process {} exited before it could be limited",
                    self.pid
                ));
            }
        }
        let mut pids = vec![self.pid];
        pids.extend(descendants(self.pid).unwrap_or_default());
        let procs = self.path.join("cgroup.procs");
        let mut moved = 0;
        for pid in &pids {
            match write_file_raw(&procs, &pid.to_string()) {
                Ok(()) => moved += 1,
                // A child may exit between listing and moving.
                Err(err) if err.raw_os_error() == Some(libc::ESRCH) && *pid != self.pid => {}
                Err(err) => {
                    return Err(format!(
                        "cannot move process {pid} into {}: {err}",
                        procs.display()
                    ));
                }
            }
        }
        let limits: Vec<String> = self
            .settings
            .iter()
            .map(|setting| format!("{}={}", setting.file, setting.value.trim()))
            .collect();
        Ok(format!(
            "moved {moved} process(es) into {} ({}) with {}",
            self.path.display(),
            self.version,
            limits.join(", ")
        ))
    }

    /// Reads the limits back and checks the process is in the cgroup: what the kernel holds,
    /// in a sentence, or what is missing. A value written is in place when a line of the file
    /// holds each of its words (`io.max` reads back with the other rates as `max`; v1
    /// throttle files list one line per device); a number may be rounded down to a page.
    pub fn in_place(&self) -> Result<String, String> {
        let mut held = Vec::new();
        for setting in &self.settings {
            let path = self.path.join(&setting.file);
            let text = std::fs::read_to_string(&path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            if !holds(&text, &setting.value) {
                return Err(format!(
                    "{} reads `{}`, not `{}`",
                    path.display(),
                    text.trim(),
                    setting.value.trim()
                ));
            }
            held.push(format!("{}={}", setting.file, setting.value.trim()));
        }
        let procs = self.path.join("cgroup.procs");
        let listed = std::fs::read_to_string(&procs)
            .map_err(|err| format!("cannot read {}: {err}", procs.display()))?;
        let pid = self.pid.to_string();
        if !listed.split_whitespace().any(|p| p == pid) {
            return Err(format!("process {pid} is not in {}", procs.display()));
        }
        Ok(format!(
            "{} in place in {}, process {pid} in it",
            held.join(", "),
            self.path.display()
        ))
    }

    /// Moves every process still in the cgroup back to the origin (the hierarchy's root if
    /// the origin is gone) and removes the cgroup. Harmless when already reverted.
    pub fn revert(&self) -> Result<RevertOutcome, String> {
        if !self.path.exists() {
            return Ok(RevertOutcome::AlreadyReverted(format!(
                "cgroup {} is already gone",
                self.path.display()
            )));
        }
        let destination = if self.origin.join("cgroup.procs").exists() {
            self.origin.clone()
        } else {
            self.mount_point.clone()
        };
        let procs = self.path.join("cgroup.procs");
        let listed = match std::fs::read_to_string(&procs) {
            Ok(listed) => listed,
            // The folder is being removed: nothing left to move.
            Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(format!("cannot read {}: {err}", procs.display())),
        };
        let mut moved = 0;
        for pid in listed.split_whitespace() {
            match write_file_raw(&destination.join("cgroup.procs"), pid) {
                Ok(()) => moved += 1,
                Err(err) if err.raw_os_error() == Some(libc::ESRCH) => {}
                Err(err) => {
                    return Err(format!(
                        "cannot move process {pid} back to {}: {err}",
                        destination.display()
                    ));
                }
            }
        }
        remove_cgroup(&self.path)?;
        // The shared `pfi` parent goes too once no other fault uses it.
        if let Some(parent) = self
            .path
            .parent()
            .filter(|p| p.file_name() == Some("pfi".as_ref()))
        {
            let _ = std::fs::remove_dir(parent);
        }
        Ok(RevertOutcome::Reverted(format!(
            "moved {moved} process(es) back to {} and removed {}",
            destination.display(),
            self.path.display()
        )))
    }

    /// cgroup v2 only hands a controller to children whose parent lists it in
    /// `cgroup.subtree_control`: enable it on the root and on `pfi`.
    fn enable_v2_controller(&self) -> Result<(), String> {
        let name = self.controller.v2_name();
        let pfi = self.mount_point.join("pfi");
        let created = !pfi.exists();
        std::fs::create_dir_all(&pfi)
            .map_err(|err| format!("cannot create cgroup {}: {err}", pfi.display()))?;
        for folder in [self.mount_point.as_path(), pfi.as_path()] {
            let file = folder.join("cgroup.subtree_control");
            let enabled = std::fs::read_to_string(&file).unwrap_or_default();
            if !enabled.split_whitespace().any(|c| c == name) {
                let written = write_file(&file, &format!("+{name}"));
                if let Err(err) = written {
                    // Nothing was limited: leave no empty `pfi` cgroup behind (another
                    // fault's may have appeared in it meanwhile; then it stays).
                    if created {
                        let _ = std::fs::remove_dir(&pfi);
                    }
                    let available = std::fs::read_to_string(folder.join("cgroup.controllers"))
                        .unwrap_or_default();
                    return Err(format!(
                        "{err} (enable the `{name}` controller for {}; it offers: {})",
                        folder.display(),
                        match available.trim() {
                            "" => "none",
                            list => list,
                        }
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether a line of `text` (a cgroup file read back) holds the value written.
fn holds(text: &str, written: &str) -> bool {
    let words: Vec<&str> = written.split_whitespace().collect();
    if words.len() == 1
        && let Ok(wanted) = words[0].parse::<u64>()
    {
        // The kernel rounds memory limits down to a page.
        return text
            .trim()
            .parse::<u64>()
            .is_ok_and(|read| read <= wanted && wanted - read < 65_536);
    }
    text.lines().any(|line| {
        let have: Vec<&str> = line.split_whitespace().collect();
        !have.is_empty() && words.iter().all(|w| have.contains(w))
    })
}

/// Removes a cgroup folder; the kernel may report it busy for a moment after the last task
/// left, so retry briefly.
fn remove_cgroup(path: &Path) -> Result<(), String> {
    let mut attempts = 0;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(err) => return Err(format!("cannot remove cgroup {}: {err}", path.display())),
        }
    }
}

fn write_file(path: &Path, value: &str) -> Result<(), String> {
    write_file_raw(path, value)
        .map_err(|err| format!("cannot write `{value}` to {}: {err}", path.display()))
}

/// One `write` of the value: cgroup files take one value per write.
fn write_file_raw(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake cgroup v2 tree in a temporary folder: the same file formats as the kernel's.
    fn fake_v2(dir: &Path) -> CgroupPlacement {
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::write(dir.join("cgroup.controllers"), "cpu io memory\n").unwrap();
        std::fs::write(dir.join("cgroup.subtree_control"), "memory\n").unwrap();
        std::fs::write(dir.join("app/cgroup.procs"), "").unwrap();
        let me = ProcStat::read(std::process::id()).unwrap().unwrap();
        CgroupPlacement {
            version: CgroupVersion::V2,
            controller: Controller::Cpu,
            mount_point: dir.to_path_buf(),
            path: dir.join("pfi/run-f1"),
            origin: dir.join("app"),
            settings: vec![CgroupSetting::new("cpu.max", "20000 100000")],
            pid: me.pid,
            start_time: me.start_time,
        }
    }

    #[test]
    fn applies_v2_limits_in_the_kernel_file_formats() {
        let dir = tempfile::tempdir().unwrap();
        let placement = fake_v2(dir.path());
        let detail = placement.apply().unwrap();
        assert!(detail.contains("cpu.max=20000 100000"), "{detail}");
        let read = |path: &str| std::fs::read_to_string(dir.path().join(path)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+cpu");
        assert_eq!(read("pfi/cgroup.subtree_control"), "+cpu");
        assert_eq!(read("pfi/run-f1/cpu.max"), "20000 100000");
        // The fake tree keeps the last write; this process has no children here.
        assert_eq!(
            read("pfi/run-f1/cgroup.procs"),
            std::process::id().to_string()
        );
    }

    #[test]
    fn reads_the_limits_back_as_the_kernel_writes_them() {
        assert!(holds("20000 100000\n", "20000 100000"));
        assert!(!holds("max 100000\n", "20000 100000"));
        assert!(holds(
            "8:0 rbps=1048576 wbps=max riops=max wiops=max\n",
            "8:0 rbps=1048576 wbps=max"
        ));
        assert!(holds("8:0 1048576\n8:16 1048576\n", "8:16 1048576"));
        assert!(!holds("8:0 1048576\n", "8:16 1048576"));
        assert!(holds("1499136\n", "1500000"));
        assert!(!holds("9223372036854771712\n", "1500000"));
        let dir = tempfile::tempdir().unwrap();
        let placement = fake_v2(dir.path());
        assert!(placement.in_place().is_err(), "not applied yet");
        placement.apply().unwrap();
        let held = placement.in_place().unwrap();
        assert!(held.contains("cpu.max=20000 100000 in place"), "{held}");
        std::fs::write(placement.path.join("cpu.max"), "max 100000\n").unwrap();
        let missing = placement.in_place().unwrap_err();
        assert!(missing.contains("reads `max 100000`"), "{missing}");
    }

    #[test]
    fn does_not_re_enable_an_enabled_controller() {
        let dir = tempfile::tempdir().unwrap();
        let mut placement = fake_v2(dir.path());
        placement.controller = Controller::Memory;
        placement.settings = vec![CgroupSetting::new("memory.max", "67108864")];
        placement.apply().unwrap();
        let root = std::fs::read_to_string(dir.path().join("cgroup.subtree_control")).unwrap();
        assert_eq!(root, "memory\n");
        let limit = std::fs::read_to_string(dir.path().join("pfi/run-f1/memory.max")).unwrap();
        assert_eq!(limit, "67108864");
    }

    #[test]
    fn revert_moves_processes_back_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let placement = fake_v2(dir.path());
        placement.apply().unwrap();
        // A fake tree's folder still holds its regular files, so removing it fails: the
        // processes are moved back all the same.
        let err = placement.revert().unwrap_err();
        assert!(err.contains("cannot remove cgroup"), "{err}");
        let app = std::fs::read_to_string(dir.path().join("app/cgroup.procs")).unwrap();
        assert_eq!(app, std::process::id().to_string());
        // The kernel drops interface files with the folder; do it by hand here.
        for file in ["cpu.max", "cgroup.procs"] {
            std::fs::remove_file(placement.path.join(file)).unwrap();
        }
        let outcome = placement.revert().unwrap();
        assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
        assert!(!placement.path.exists());
        let again = placement.revert().unwrap();
        assert!(
            matches!(again, RevertOutcome::AlreadyReverted(_)),
            "{again:?}"
        );
    }

    #[test]
    fn refuses_a_process_that_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut placement = fake_v2(dir.path());
        placement.start_time += 1;
        let err = placement.apply().unwrap_err();
        assert!(err.contains("exited before it could be limited"), "{err}");
    }

    #[test]
    fn round_trips_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let placement = fake_v2(dir.path());
        let json = serde_json::to_string(&placement).unwrap();
        assert!(json.contains("\"version\":\"v2\""), "{json}");
        let back: CgroupPlacement = serde_json::from_str(&json).unwrap();
        assert_eq!(back, placement);
    }
}

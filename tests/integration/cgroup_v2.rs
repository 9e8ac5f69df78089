//! cgroup v2 on the real kernel. This host is a hybrid one: its cpu, memory and io controllers
//! are bound to v1 hierarchies, and a cgroup2 hierarchy is mounted (systemd's
//! `/sys/fs/cgroup/unified`, or one this test mounts in a temporary folder) with none of them.
//! What the kernel's own v2 files let us check here: moving a process into a v2 cgroup and
//! back (`in_place`, `revert`), the core `cpu.stat` usage counter read by the `cpu_limit`
//! measurement, that measurement saying honestly that a limit is not enforced, and the error
//! (and nothing left behind) when the controller cannot be enabled. The limit files
//! themselves (`cpu.max`, `memory.max`, `io.max`) need the controllers: unit tests build
//! those trees (`faults::cgroup::placement`). Needs root; skipped otherwise.

use pfi::faults::cgroup::{CgroupPlacement, CgroupVersion, Controller};
use pfi::faults::{CpuUsage, Effect, measure_cpu_limit};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// A cgroup2 mount point: an existing one, or one mounted for the test (unmounted on drop).
struct V2Mount {
    path: PathBuf,
    mounted: Option<tempfile::TempDir>,
}

impl Drop for V2Mount {
    fn drop(&mut self) {
        if let Some(dir) = &self.mounted {
            let _ = Command::new("umount").arg(dir.path()).status();
        }
    }
}

fn v2_mount() -> Option<V2Mount> {
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: cgroup v2 tests need root");
        return None;
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    if let Some(path) = mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
    }) {
        return Some(V2Mount {
            path,
            mounted: None,
        });
    }
    let dir = tempfile::tempdir().ok()?;
    let status = Command::new("mount")
        .args(["-t", "cgroup2", "none"])
        .arg(dir.path())
        .status()
        .ok()?;
    if !status.success() {
        println!("skipped: no cgroup2 hierarchy and `mount -t cgroup2` failed");
        return None;
    }
    Some(V2Mount {
        path: dir.path().to_path_buf(),
        mounted: Some(dir),
    })
}

struct Busy(Child);

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busy() -> Busy {
    Busy(
        Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    )
}

/// The process's cgroup in the v2 hierarchy (the `0::` line), as a folder under `mount`.
fn v2_cgroup_of(pid: u32, mount: &Path) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let relative = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a v2 line");
    mount.join(relative.trim_start_matches('/'))
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(") ").unwrap();
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn a_process_moves_into_a_real_v2_cgroup_is_measured_and_comes_back() {
    let Some(mount) = v2_mount() else { return };
    let child = busy();
    let pid = child.0.id();
    let origin = v2_cgroup_of(pid, &mount.path);
    let path = mount
        .path
        .join(format!("pfi-trust-test-{}", std::process::id()));
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("cgroup.procs"), pid.to_string()).unwrap();
    let placement = CgroupPlacement {
        version: CgroupVersion::V2,
        controller: Controller::Cpu,
        mount_point: mount.path.clone(),
        path: path.clone(),
        origin: origin.clone(),
        settings: Vec::new(),
        pid,
        start_time: start_time(pid),
    };
    let held = placement.in_place();
    assert!(held.is_ok(), "{held:?}");
    // The core `cpu.stat` of a real v2 cgroup: a busy loop uses about a core (less on a
    // loaded machine with two cores, never more than one).
    let before = CpuUsage::read(&path, CgroupVersion::V2).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let after = CpuUsage::read(&path, CgroupVersion::V2).unwrap();
    let cores = (after.usage_us - before.usage_us) as f64 / 500_000.0;
    assert!(
        (0.05..1.2).contains(&cores),
        "{cores:.2} cores from usage_usec"
    );
    // No cpu controller in this hierarchy: a 0.2-core limit is nothing the kernel enforces
    // here, and the measurement says so rather than calling it applied.
    let effect = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(measure_cpu_limit(
            &placement,
            0.2,
            Duration::from_millis(500),
        ));
    let reason = effect.no_effect().unwrap_or_else(|| panic!("{effect:?}"));
    assert!(
        reason.contains("not enforced") || reason.contains("did not bind"),
        "{reason}"
    );
    assert!(!matches!(effect, Effect::Observed(_)));
    let reverted = placement.revert();
    assert!(reverted.is_ok(), "{reverted:?}");
    assert!(!path.exists());
    assert_eq!(v2_cgroup_of(pid, &mount.path), origin);
}

#[test]
fn a_v2_controller_that_cannot_be_enabled_is_a_clear_error_and_leaves_nothing() {
    let Some(mount) = v2_mount() else { return };
    let controllers = std::fs::read_to_string(mount.path.join("cgroup.controllers")).unwrap();
    if controllers.split_whitespace().any(|c| c == "cpu") {
        println!("skipped: this cgroup2 hierarchy has the cpu controller");
        return;
    }
    if mount.path.join("pfi").exists() {
        println!(
            "skipped: a `pfi` cgroup is in use in {}",
            mount.path.display()
        );
        return;
    }
    let child = busy();
    let pid = child.0.id();
    let placement = CgroupPlacement {
        version: CgroupVersion::V2,
        controller: Controller::Cpu,
        mount_point: mount.path.clone(),
        path: mount.path.join("pfi/trust-test-f1"),
        origin: v2_cgroup_of(pid, &mount.path),
        settings: vec![pfi::faults::cgroup::CgroupSetting::new(
            "cpu.max",
            "20000 100000",
        )],
        pid,
        start_time: start_time(pid),
    };
    let err = placement.apply().unwrap_err();
    assert!(
        err.contains("enable the `cpu` controller") && err.contains("it offers:"),
        "{err}"
    );
    assert!(
        !mount.path.join("pfi").exists(),
        "an empty `pfi` cgroup was left in {}",
        mount.path.display()
    );
}

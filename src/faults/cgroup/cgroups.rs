//! Which cgroup hierarchy can limit a controller on this machine: cgroup v2 when it has the
//! controller and is writable, else a writable cgroup v1 mount of it, else a clear error.

use super::controller::{CgroupVersion, Controller};
use super::mount_table::{self, CgroupMount};
use super::placement::{CgroupPlacement, CgroupSetting};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The cgroup hierarchies mounted on this machine.
#[derive(Debug, Clone)]
pub struct Cgroups {
    mounts: Vec<CgroupMount>,
}

/// A hierarchy that can limit a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: CgroupVersion,
    pub controller: Controller,
    pub mount_point: PathBuf,
    /// The cgroup of the hierarchy mounted at `mount_point` (`/` outside containers).
    pub root: String,
}

impl Cgroups {
    /// Reads this machine's mounts from `/proc/self/mountinfo`.
    pub fn detect() -> io::Result<Cgroups> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")?;
        Ok(Cgroups::from_mountinfo(&text))
    }

    /// The mounts of a mountinfo text (tests point them into a temporary folder).
    pub fn from_mountinfo(text: &str) -> Cgroups {
        Cgroups {
            mounts: mount_table::parse_mountinfo(text),
        }
    }

    /// The hierarchy to limit `controller` with, or why there is none (a sentence naming
    /// every place looked at, and what to do).
    pub fn hierarchy(&self, controller: Controller) -> Result<Hierarchy, String> {
        let mut reasons = Vec::new();
        let v2_name = controller.v2_name();
        for mount in self
            .mounts
            .iter()
            .filter(|m| m.version == CgroupVersion::V2)
        {
            let point = mount.mount_point.display();
            let available = std::fs::read_to_string(mount.mount_point.join("cgroup.controllers"))
                .unwrap_or_default();
            if !available.split_whitespace().any(|name| name == v2_name) {
                reasons.push(format!(
                    "cgroup v2 at {point} has no `{v2_name}` in cgroup.controllers (it is bound to cgroup v1 or disabled)"
                ));
            } else if !writable(&mount.mount_point) {
                reasons.push(format!("cgroup v2 at {point} is not writable"));
            } else {
                return Ok(self.chosen(CgroupVersion::V2, controller, mount));
            }
        }
        let v1_name = controller.v1_name();
        let v1: Vec<&CgroupMount> = self
            .mounts
            .iter()
            .filter(|m| {
                m.version == CgroupVersion::V1 && m.v1_controllers.iter().any(|c| c == v1_name)
            })
            .collect();
        if v1.is_empty() {
            reasons.push(format!(
                "no cgroup v1 hierarchy has the `{v1_name}` controller"
            ));
        }
        for mount in v1 {
            if writable(&mount.mount_point) {
                return Ok(self.chosen(CgroupVersion::V1, controller, mount));
            }
            reasons.push(format!(
                "cgroup v1 {} is not writable",
                mount.mount_point.display()
            ));
        }
        if self.mounts.is_empty() {
            reasons = vec!["no cgroup filesystem is mounted".to_string()];
        }
        Err(format!(
            "no writable cgroup `{v2_name}` controller ({}); run pfi as root on a machine with cgroup v2 and the `{v2_name}` controller enabled (or a writable cgroup v1 `{v1_name}` mount)",
            reasons.join("; ")
        ))
    }

    fn chosen(
        &self,
        version: CgroupVersion,
        controller: Controller,
        mount: &CgroupMount,
    ) -> Hierarchy {
        Hierarchy {
            version,
            controller,
            mount_point: mount.mount_point.clone(),
            root: mount.root.clone(),
        }
    }
}

impl Hierarchy {
    /// Plans the cgroup for one fault on one process, given the text of its
    /// `/proc/<pid>/cgroup`. cgroup v1: a child of the process's own cgroup
    /// (`<its cgroup>/pfi/<name>`), so limits already on it still apply. cgroup v2 (where a
    /// cgroup with processes cannot have controller-enabled children):
    /// `<mount>/pfi/<name>`.
    pub fn place(
        &self,
        process_cgroups: &str,
        pid: u32,
        start_time: u64,
        name: &str,
        settings: Vec<CgroupSetting>,
    ) -> Result<CgroupPlacement, String> {
        let in_hierarchy =
            mount_table::process_cgroup(process_cgroups, self.version, self.controller)
                .ok_or_else(|| {
                    format!(
                        "process {pid} is in no {} `{}` cgroup",
                        self.version,
                        self.controller.name(self.version)
                    )
                })?;
        let relative = if self.root == "/" {
            in_hierarchy.as_str()
        } else {
            in_hierarchy
                .strip_prefix(self.root.as_str())
                .ok_or_else(|| {
                    format!(
                        "process {pid} is in cgroup {in_hierarchy}, outside the part mounted at {} ({})",
                        self.mount_point.display(),
                        self.root
                    )
                })?
        };
        let origin = self.mount_point.join(relative.trim_start_matches('/'));
        let name = sanitize(name);
        let path = match self.version {
            CgroupVersion::V1 => origin.join("pfi").join(&name),
            CgroupVersion::V2 => self.mount_point.join("pfi").join(&name),
        };
        Ok(CgroupPlacement {
            version: self.version,
            controller: self.controller,
            mount_point: self.mount_point.clone(),
            path,
            origin,
            settings,
            pid,
            start_time,
        })
    }

    /// Whether the hierarchy's root has an interface file (`blkio.weight`...).
    pub fn has_file(&self, file: &str) -> bool {
        self.mount_point.join(file).exists()
    }
}

/// A cgroup folder name from a run and fault id: letters, digits, `-`, `_`, `.` only.
fn sanitize(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("fault{clean}")
    } else {
        clean
    }
}

fn writable(path: &Path) -> bool {
    match CString::new(path.as_os_str().as_bytes()) {
        // SAFETY: a valid NUL-terminated path; access only reads it.
        Ok(path) => (unsafe { libc::access(path.as_ptr(), libc::W_OK) }) == 0,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mountinfo(lines: &[(&str, &str, &str)]) -> String {
        lines
            .iter()
            .enumerate()
            .map(|(i, (root, point, tail))| {
                format!("{} 1 0:{i} {root} {point} rw - {tail}\n", 30 + i)
            })
            .collect()
    }

    #[test]
    fn prefers_cgroup_v2_with_the_controller() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("unified");
        let v1 = dir.path().join("cpu");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        let text = mountinfo(&[
            ("/", v1.to_str().unwrap(), "cgroup cgroup rw,cpu"),
            ("/", v2.to_str().unwrap(), "cgroup2 cgroup2 rw"),
        ]);
        let hierarchy = Cgroups::from_mountinfo(&text)
            .hierarchy(Controller::Cpu)
            .unwrap();
        assert_eq!(hierarchy.version, CgroupVersion::V2);
        assert_eq!(hierarchy.mount_point, v2);
    }

    #[test]
    fn falls_back_to_v1_when_v2_lacks_the_controller() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("unified");
        let v1 = dir.path().join("memory");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "\n").unwrap();
        let text = mountinfo(&[
            ("/", v2.to_str().unwrap(), "cgroup2 cgroup2 rw"),
            ("/", v1.to_str().unwrap(), "cgroup cgroup rw,memory"),
        ]);
        let hierarchy = Cgroups::from_mountinfo(&text)
            .hierarchy(Controller::Memory)
            .unwrap();
        assert_eq!(hierarchy.version, CgroupVersion::V1);
        assert_eq!(hierarchy.mount_point, v1);
    }

    #[test]
    fn explains_why_no_hierarchy_works() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("unified");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "memory\n").unwrap();
        let text = mountinfo(&[("/", v2.to_str().unwrap(), "cgroup2 cgroup2 rw")]);
        let err = Cgroups::from_mountinfo(&text)
            .hierarchy(Controller::Cpu)
            .unwrap_err();
        assert!(
            err.starts_with("no writable cgroup `cpu` controller ("),
            "{err}"
        );
        assert!(err.contains("has no `cpu` in cgroup.controllers"), "{err}");
        assert!(
            err.contains("no cgroup v1 hierarchy has the `cpu` controller"),
            "{err}"
        );
        assert!(err.contains("run pfi as root"), "{err}");
        let err = Cgroups::from_mountinfo("")
            .hierarchy(Controller::Io)
            .unwrap_err();
        assert!(err.contains("no cgroup filesystem is mounted"), "{err}");
    }

    #[test]
    fn places_v1_under_the_process_cgroup_and_v2_under_the_root() {
        let v1 = Hierarchy {
            version: CgroupVersion::V1,
            controller: Controller::Memory,
            mount_point: PathBuf::from("/cg/memory"),
            root: "/".to_string(),
        };
        let proc_cgroup = "4:memory:/sandbox/7\n0::/app.slice/api.service\n";
        let placement = v1
            .place(proc_cgroup, 42, 7, "run 1/f2", Vec::new())
            .unwrap();
        assert_eq!(placement.origin, Path::new("/cg/memory/sandbox/7"));
        assert_eq!(
            placement.path,
            Path::new("/cg/memory/sandbox/7/pfi/run_1_f2")
        );

        let v2 = Hierarchy {
            version: CgroupVersion::V2,
            controller: Controller::Cpu,
            mount_point: PathBuf::from("/cg"),
            root: "/".to_string(),
        };
        let placement = v2.place(proc_cgroup, 42, 7, "r-f", Vec::new()).unwrap();
        assert_eq!(placement.origin, Path::new("/cg/app.slice/api.service"));
        assert_eq!(placement.path, Path::new("/cg/pfi/r-f"));
    }

    #[test]
    fn strips_the_mounted_root_in_containers() {
        let hierarchy = Hierarchy {
            version: CgroupVersion::V1,
            controller: Controller::Cpu,
            mount_point: PathBuf::from("/sys/fs/cgroup/cpu"),
            root: "/docker/abc".to_string(),
        };
        let placement = hierarchy
            .place("3:cpu,cpuacct:/docker/abc/app\n", 1, 1, "x", Vec::new())
            .unwrap();
        assert_eq!(placement.origin, Path::new("/sys/fs/cgroup/cpu/app"));
        let err = hierarchy
            .place("3:cpu:/elsewhere\n", 1, 1, "x", Vec::new())
            .unwrap_err();
        assert!(err.contains("outside the part mounted"), "{err}");
        let err = hierarchy
            .place("3:memory:/\n", 1, 1, "x", Vec::new())
            .unwrap_err();
        assert!(err.contains("in no cgroup v1 `cpu` cgroup"), "{err}");
    }
}

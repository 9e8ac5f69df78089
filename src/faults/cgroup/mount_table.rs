//! Where the cgroup hierarchies are mounted (`/proc/self/mountinfo`) and where a process sits
//! in them (`/proc/<pid>/cgroup`).

use super::controller::{CgroupVersion, Controller};
use std::path::PathBuf;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub version: CgroupVersion,
    /// Where it is mounted (`/sys/fs/cgroup/cpu`).
    pub mount_point: PathBuf,
    /// Which cgroup of the hierarchy is mounted there (`/` outside containers).
    pub root: String,
    /// For v1, the controllers bound to the hierarchy (from the mount's super options). For
    /// v2 this is empty: the available controllers are read from `cgroup.controllers`.
    pub v1_controllers: Vec<String>,
}

/// The cgroup mounts listed in a mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines().filter_map(parse_mount_line).collect()
}

fn parse_mount_line(line: &str) -> Option<CgroupMount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    let root = unescape(left.get(3)?);
    let mount_point = PathBuf::from(unescape(left.get(4)?));
    let fstype = *right.first()?;
    match fstype {
        "cgroup2" => Some(CgroupMount {
            version: CgroupVersion::V2,
            mount_point,
            root,
            v1_controllers: Vec::new(),
        }),
        "cgroup" => {
            let options = right.get(2).copied().unwrap_or("");
            let v1_controllers = options
                .split(',')
                .filter(|option| !option.contains('=') && !matches!(*option, "rw" | "ro"))
                .map(str::to_string)
                .collect();
            Some(CgroupMount {
                version: CgroupVersion::V1,
                mount_point,
                root,
                v1_controllers,
            })
        }
        _ => None,
    }
}

/// Mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A process's cgroup in one hierarchy, from the text of `/proc/<pid>/cgroup`: the v2 entry
/// (`0::/path`), or the v1 entry whose controller list names `controller`.
pub fn process_cgroup(
    text: &str,
    version: CgroupVersion,
    controller: Controller,
) -> Option<String> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = match version {
            CgroupVersion::V2 => id == "0" && controllers.is_empty(),
            CgroupVersion::V1 => controllers
                .split(',')
                .any(|name| name == controller.v1_name()),
        };
        matches.then(|| path.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
34 31 0:29 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
36 31 0:31 / /sys/fs/cgroup/my\\040unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate";

    #[test]
    fn finds_v1_and_v2_mounts_with_their_controllers() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].v1_controllers, vec!["cpu"]);
        assert_eq!(mounts[1].v1_controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(mounts[2].root, "/docker/abc");
        assert_eq!(mounts[3].v1_controllers, vec!["xattr"]);
        assert_eq!(mounts[4].version, CgroupVersion::V2);
        assert_eq!(
            mounts[4].mount_point,
            PathBuf::from("/sys/fs/cgroup/my unified")
        );
    }

    #[test]
    fn finds_a_process_cgroup_per_hierarchy() {
        let text = "9:name=systemd:/\n4:memory:/process_api/01bb\n2:cpu,cpuacct:/user\n7:blkio:/\n0::/init.scope\n";
        assert_eq!(
            process_cgroup(text, CgroupVersion::V1, Controller::Memory).unwrap(),
            "/process_api/01bb"
        );
        assert_eq!(
            process_cgroup(text, CgroupVersion::V1, Controller::Cpu).unwrap(),
            "/user"
        );
        assert_eq!(
            process_cgroup(text, CgroupVersion::V1, Controller::Io).unwrap(),
            "/"
        );
        assert_eq!(
            process_cgroup(text, CgroupVersion::V2, Controller::Cpu).unwrap(),
            "/init.scope"
        );
        assert_eq!(
            process_cgroup("1:cpuacct:/", CgroupVersion::V1, Controller::Cpu),
            None
        );
    }
}

//! Who listens on a TCP port: the listening sockets of `/proc/net/tcp{,6}` matched with the
//! socket descriptors under `/proc/<pid>/fd`. Readiness uses it so that a process whose port
//! answers because *another* process owns it (a second `redis-server --port P` that exits
//! with "Address already in use") is not taken for ready.

use super::proc_stat::{ProcStat, all_pids, descendants};
use std::collections::HashSet;
use std::io;
use std::path::Path;

/// The TCP state `LISTEN` in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// Who owns the listening sockets of a port, seen from a process tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    /// The process (or one of its descendants) listens on the port.
    Ours,
    /// Nothing in this network namespace listens on the port (a remote address).
    NoLocalListener,
    /// Only other processes listen on it: their pids and names (empty when the sockets
    /// could not be matched with a process, e.g. another user's).
    Foreign(Vec<(u32, String)>),
}

impl PortOwner {
    /// Who listens on `port`, for the process `root` and its descendants.
    pub fn of(root: u32, port: u16) -> io::Result<PortOwner> {
        PortOwner::of_in(Path::new("/proc"), root, port)
    }

    fn of_in(proc_root: &Path, root: u32, port: u16) -> io::Result<PortOwner> {
        let listening = listening_inodes(proc_root, port)?;
        if listening.is_empty() {
            return Ok(PortOwner::NoLocalListener);
        }
        // The process itself first: the usual case, and the descendants cost a scan of
        // every process's stat.
        let ours = |pid: u32| !socket_inodes(proc_root, pid).is_disjoint(&listening);
        if ours(root) || descendants(root).unwrap_or_default().into_iter().any(ours) {
            return Ok(PortOwner::Ours);
        }
        let mut owners = Vec::new();
        for pid in all_pids().unwrap_or_default() {
            if !socket_inodes(proc_root, pid).is_disjoint(&listening) {
                let name = ProcStat::read(pid)
                    .ok()
                    .flatten()
                    .map(|stat| stat.comm)
                    .unwrap_or_default();
                owners.push((pid, name));
            }
        }
        Ok(PortOwner::Foreign(owners))
    }
}

/// The inodes of the sockets listening on `port` (IPv4 and IPv6).
fn listening_inodes(proc_root: &Path, port: u16) -> io::Result<HashSet<u64>> {
    let mut inodes = HashSet::new();
    let mut read_any = false;
    for table in ["net/tcp", "net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(proc_root.join(table)) else {
            continue;
        };
        read_any = true;
        inodes.extend(listeners_in(&text, port));
    }
    if !read_any {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "cannot read /proc/net/tcp",
        ));
    }
    Ok(inodes)
}

/// The inodes of the rows of a `/proc/net/tcp` table listening on `port`.
fn listeners_in(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?.parse().ok()?;
            let hex_port = local.rsplit_once(':')?.1;
            let local_port = u16::from_str_radix(hex_port, 16).ok()?;
            (*state == LISTEN && local_port == port).then_some(inode)
        })
        .collect()
}

/// The inodes of the sockets `pid` has open (empty when its descriptors cannot be read).
fn socket_inodes(proc_root: &Path, pid: u32) -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn finds_the_listening_rows_of_a_port() {
        // 0x1F90 = 8080: one listener and one established connection.
        assert_eq!(listeners_in(TABLE, 8080), vec![4242]);
        assert_eq!(listeners_in(TABLE, 80), vec![4444]);
        assert!(listeners_in(TABLE, 81).is_empty());
        assert!(listeners_in("garbage\nmore garbage", 80).is_empty());
    }

    #[test]
    fn a_listener_of_this_process_is_ours_and_a_child_s_is_foreign_to_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            PortOwner::of(std::process::id(), port).unwrap(),
            PortOwner::Ours
        );
        // Seen from another process tree (a child of ours that does not hold it).
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let owner = PortOwner::of(child.id(), port).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        match owner {
            PortOwner::Foreign(owners) => {
                assert!(
                    owners.iter().any(|(pid, _)| *pid == std::process::id()),
                    "{owners:?}"
                );
            }
            other => panic!("expected a foreign owner, got {other:?}"),
        }
        drop(listener);
        assert_eq!(
            PortOwner::of(std::process::id(), port).unwrap(),
            PortOwner::NoLocalListener
        );
    }
}

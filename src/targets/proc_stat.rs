//! `/proc/<pid>/stat`: the kernel's view of one process (state, group, CPU ticks, start time).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::path::Path;

/// The scheduler state of a process, from the third field of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep (waiting for I/O, a timer, a socket...).
    Sleeping,
    /// `D`: uninterruptible sleep (usually disk I/O).
    DiskSleep,
    /// `T`: stopped by a signal (SIGSTOP, SIGTSTP...).
    Stopped,
    /// `t`: stopped by a debugger.
    TracingStop,
    /// `Z`: exited, not yet reaped by its parent.
    Zombie,
    /// `X`: dead, being removed.
    Dead,
    /// `I`: idle kernel thread.
    Idle,
    /// Any other letter a newer kernel may report.
    Other(char),
}

impl ProcessState {
    pub fn from_letter(letter: char) -> ProcessState {
        match letter {
            'R' => ProcessState::Running,
            'S' => ProcessState::Sleeping,
            'D' => ProcessState::DiskSleep,
            'T' => ProcessState::Stopped,
            't' => ProcessState::TracingStop,
            'Z' => ProcessState::Zombie,
            'X' | 'x' => ProcessState::Dead,
            'I' => ProcessState::Idle,
            other => ProcessState::Other(other),
        }
    }

    pub fn letter(self) -> char {
        match self {
            ProcessState::Running => 'R',
            ProcessState::Sleeping => 'S',
            ProcessState::DiskSleep => 'D',
            ProcessState::Stopped => 'T',
            ProcessState::TracingStop => 't',
            ProcessState::Zombie => 'Z',
            ProcessState::Dead => 'X',
            ProcessState::Idle => 'I',
            ProcessState::Other(letter) => letter,
        }
    }

    /// Whether the process can still run: not stopped, not exited.
    pub fn is_live(self) -> bool {
        !matches!(
            self,
            ProcessState::Stopped
                | ProcessState::TracingStop
                | ProcessState::Zombie
                | ProcessState::Dead
        )
    }

    /// Whether the process has exited (a zombie or dead).
    pub fn has_exited(self) -> bool {
        matches!(self, ProcessState::Zombie | ProcessState::Dead)
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ProcessState::Running => "running",
            ProcessState::Sleeping => "sleeping",
            ProcessState::DiskSleep => "in disk sleep",
            ProcessState::Stopped => "stopped",
            ProcessState::TracingStop => "stopped by a tracer",
            ProcessState::Zombie => "a zombie",
            ProcessState::Dead => "dead",
            ProcessState::Idle => "idle",
            ProcessState::Other(_) => "in an unknown state",
        };
        write!(f, "{name} ({})", self.letter())
    }
}

/// The fields of `/proc/<pid>/stat` pfi uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// The executable name, as the kernel truncates it (15 bytes).
    pub comm: String,
    pub state: ProcessState,
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// User-mode CPU time in clock ticks.
    pub utime: u64,
    /// Kernel-mode CPU time in clock ticks.
    pub stime: u64,
    pub num_threads: u64,
    /// Start time after boot in clock ticks (field 22): with the pid, identifies a process
    /// across pid reuse.
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/stat`; `Ok(None)` when no such process exists.
    pub fn read(pid: u32) -> io::Result<Option<ProcStat>> {
        ProcStat::read_from(Path::new("/proc"), pid)
    }

    /// Reads `<proc_root>/<pid>/stat` (a different root serves tests and containers).
    pub fn read_from(proc_root: &Path, pid: u32) -> io::Result<Option<ProcStat>> {
        let path = proc_root.join(pid.to_string()).join("stat");
        match std::fs::read_to_string(&path) {
            Ok(text) => ProcStat::parse(&text)
                .map(Some)
                .map_err(|message| io::Error::new(io::ErrorKind::InvalidData, message)),
            Err(err) if gone(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Parses the text of a stat file. The name sits in parentheses and may itself contain
    /// spaces and parentheses, so the fields are counted from the last `)`.
    pub fn parse(text: &str) -> Result<ProcStat, String> {
        let open = text.find('(').ok_or("no `(` before the command name")?;
        let close = text.rfind(')').ok_or("no `)` after the command name")?;
        if close < open {
            return Err("unbalanced parentheses around the command name".to_string());
        }
        let pid = parse_field(text[..open].trim(), "pid")?;
        let comm = text[open + 1..close].to_string();
        let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
        // `rest[0]` is field 3 (state); field N is `rest[N - 3]`.
        let field = |n: usize| -> Result<&str, String> {
            rest.get(n - 3)
                .copied()
                .ok_or_else(|| format!("stat has {} fields, expected at least {n}", rest.len() + 2))
        };
        let state_letter = field(3)?.chars().next().ok_or("empty state field")?;
        Ok(ProcStat {
            pid,
            comm,
            state: ProcessState::from_letter(state_letter),
            ppid: parse_field(field(4)?, "ppid")?,
            pgrp: parse_field(field(5)?, "pgrp")?,
            utime: parse_field(field(14)?, "utime")?,
            stime: parse_field(field(15)?, "stime")?,
            num_threads: parse_field(field(20)?, "num_threads")?,
            start_time: parse_field(field(22)?, "starttime")?,
            rss_pages: parse_field(field(24)?, "rss")?,
        })
    }

    /// User plus kernel CPU time in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

fn parse_field<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("field `{name}` is not a number: `{text}`"))
}

/// Whether an I/O error on a `/proc/<pid>` file means the process does not exist (any more).
fn gone(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ESRCH)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of the CPU and start-time fields.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// The size of a memory page in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// Every pid under `/proc` (processes only, not threads).
pub fn all_pids() -> io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// The descendants of `root` (children, grandchildren...), not including `root`.
pub fn descendants(root: u32) -> io::Result<Vec<u32>> {
    let mut parents = Vec::new();
    for pid in all_pids()? {
        // A process may exit between listing and reading: skip it.
        if let Ok(Some(stat)) = ProcStat::read(pid) {
            parents.push((stat.pid, stat.ppid));
        }
    }
    Ok(descendants_in(root, &parents))
}

/// The descendants of `root` in a list of `(pid, ppid)` pairs.
pub fn descendants_in(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in parents {
            if ppid == parent && pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 210 0 0 0 \
        7 3 0 0 20 0 5 0 123456 10485760 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn parses_fields_after_a_name_with_spaces_and_parentheses() {
        let stat = ProcStat::parse(SAMPLE).unwrap();
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.comm, "my (odd) name");
        assert_eq!(stat.state, ProcessState::Sleeping);
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.pgrp, 4242);
        assert_eq!((stat.utime, stat.stime), (7, 3));
        assert_eq!(stat.cpu_ticks(), 10);
        assert_eq!(stat.num_threads, 5);
        assert_eq!(stat.start_time, 123456);
        assert_eq!(stat.rss_pages, 512);
    }

    #[test]
    fn rejects_truncated_text() {
        let err = ProcStat::parse("12 (x) R 1 12").unwrap_err();
        assert!(err.contains("expected at least"), "{err}");
        assert!(ProcStat::parse("garbage").is_err());
    }

    #[test]
    fn reads_this_process() {
        let stat = ProcStat::read(std::process::id()).unwrap().unwrap();
        assert_eq!(stat.pid, std::process::id());
        assert!(stat.state.is_live());
        assert!(stat.start_time > 0);
    }

    #[test]
    fn a_missing_process_reads_as_none() {
        // Above the largest pid the kernel hands out (pid_max is at most 2^22).
        assert_eq!(ProcStat::read(u32::MAX - 1).unwrap(), None);
    }

    #[test]
    fn state_letters_round_trip() {
        for letter in ['R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', 'W'] {
            assert_eq!(ProcessState::from_letter(letter).letter(), letter);
        }
        assert_eq!(ProcessState::Stopped.to_string(), "stopped (T)");
        assert!(!ProcessState::Stopped.is_live());
        assert!(ProcessState::Zombie.has_exited());
    }

    #[test]
    fn finds_descendants_transitively() {
        let parents = [(2, 1), (3, 2), (4, 3), (5, 1), (6, 2)];
        let mut found = descendants_in(2, &parents);
        found.sort();
        assert_eq!(found, vec![3, 4, 6]);
        assert!(descendants_in(4, &parents).is_empty());
    }
}

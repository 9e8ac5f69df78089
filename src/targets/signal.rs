//! Unix signals by name or number (`SIGKILL`, `KILL`, `kill`, `9`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::io;
use std::str::FromStr;

/// A Unix signal, written by its name (`SIGTERM`) wherever it is shown or stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

/// The signals pfi knows by name, in number order.
const NAMES: &[(&str, i32)] = &[
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGILL", libc::SIGILL),
    ("SIGTRAP", libc::SIGTRAP),
    ("SIGABRT", libc::SIGABRT),
    ("SIGBUS", libc::SIGBUS),
    ("SIGFPE", libc::SIGFPE),
    ("SIGKILL", libc::SIGKILL),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGPIPE", libc::SIGPIPE),
    ("SIGALRM", libc::SIGALRM),
    ("SIGTERM", libc::SIGTERM),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGCONT", libc::SIGCONT),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGTTIN", libc::SIGTTIN),
    ("SIGTTOU", libc::SIGTTOU),
    ("SIGURG", libc::SIGURG),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGPROF", libc::SIGPROF),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGIO", libc::SIGIO),
    ("SIGSYS", libc::SIGSYS),
];

impl Signal {
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    pub const CONT: Signal = Signal(libc::SIGCONT);

    /// A signal by number; `None` outside the kernel's range (1..=64).
    pub fn from_number(number: i32) -> Option<Signal> {
        (1..=64).contains(&number).then_some(Signal(number))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// The conventional name (`SIGTERM`), or `SIG<n>` for a signal without one (real-time).
    pub fn name(self) -> String {
        NAMES
            .iter()
            .find(|(_, number)| *number == self.0)
            .map(|(name, _)| (*name).to_string())
            .unwrap_or_else(|| format!("SIG{}", self.0))
    }

    /// Sends the signal to one process.
    pub fn send_to_pid(self, pid: u32) -> io::Result<()> {
        let pid = to_pid_t(pid)?;
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(pid, self.0) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Sends the signal to every process of a process group.
    pub fn send_to_group(self, pgid: u32) -> io::Result<()> {
        let pgid = to_pid_t(pgid)?;
        // SAFETY: killpg has no memory-safety preconditions.
        if unsafe { libc::killpg(pgid, self.0) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Whether any process of the group still exists.
pub fn group_exists(pgid: u32) -> bool {
    match to_pid_t(pgid) {
        // SAFETY: signal 0 only checks for existence and permission.
        Ok(pgid) => (unsafe { libc::killpg(pgid, 0) }) == 0,
        Err(_) => false,
    }
}

fn to_pid_t(pid: u32) -> io::Result<libc::pid_t> {
    // 0 and values above i32::MAX would address the caller's group or every process.
    match libc::pid_t::try_from(pid) {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{pid} is not a valid process id"),
        )),
    }
}

impl FromStr for Signal {
    type Err = String;

    fn from_str(text: &str) -> Result<Signal, String> {
        let text = text.trim();
        if let Ok(number) = text.parse::<i32>() {
            return Signal::from_number(number)
                .ok_or_else(|| format!("signal number {number} is out of range (1 to 64)"));
        }
        let upper = text.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, number)| Signal(*number))
            .ok_or_else(|| {
                format!(
                    "unknown signal `{text}`; use a name like SIGTERM, TERM or KILL, or a number from 1 to 64"
                )
            })
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Signal, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i32),
            Name(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(number) => Signal::from_number(number).ok_or_else(|| {
                serde::de::Error::custom(format!("signal number {number} is out of range"))
            }),
            Raw::Name(name) => name.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_or_without_prefix_and_numbers() {
        assert_eq!("SIGKILL".parse::<Signal>().unwrap(), Signal::KILL);
        assert_eq!("kill".parse::<Signal>().unwrap(), Signal::KILL);
        assert_eq!("Term".parse::<Signal>().unwrap(), Signal::TERM);
        assert_eq!("9".parse::<Signal>().unwrap(), Signal::KILL);
        assert_eq!("19".parse::<Signal>().unwrap(), Signal::STOP);
    }

    #[test]
    fn rejects_unknown_names_and_numbers() {
        assert!(
            "SIGFOO"
                .parse::<Signal>()
                .unwrap_err()
                .contains("unknown signal")
        );
        assert!("0".parse::<Signal>().unwrap_err().contains("out of range"));
        assert!("65".parse::<Signal>().is_err());
    }

    #[test]
    fn shows_names_and_falls_back_to_numbers() {
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(Signal::from_number(40).unwrap().to_string(), "SIG40");
    }

    #[test]
    fn serialises_as_a_name_and_reads_names_or_numbers() {
        assert_eq!(serde_json::to_string(&Signal::KILL).unwrap(), "\"SIGKILL\"");
        let read: Signal = serde_json::from_str("\"hup\"").unwrap();
        assert_eq!(read.number(), libc::SIGHUP);
        let read: Signal = serde_json::from_str("15").unwrap();
        assert_eq!(read, Signal::TERM);
    }

    #[test]
    fn refuses_pid_zero_which_would_signal_our_own_group() {
        assert!(Signal::TERM.send_to_pid(0).is_err());
        assert!(Signal::TERM.send_to_group(0).is_err());
    }
}

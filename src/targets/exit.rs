//! How a process ended: an exit code or a signal.

use super::signal::Signal;
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(Signal),
    /// Its status could not be read.
    Unknown,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        if let Some(code) = status.code() {
            Exit::Code(code)
        } else if let Some(signal) = status.signal().and_then(Signal::from_number) {
            Exit::Signal(signal)
        } else {
            Exit::Unknown
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "status {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::Unknown => f.write_str("an unknown status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_codes_and_signals() {
        assert_eq!(
            Exit::from(ExitStatus::from_raw(1 << 8)).to_string(),
            "status 1"
        );
        assert_eq!(
            Exit::from(ExitStatus::from_raw(9)).to_string(),
            "signal SIGKILL"
        );
        assert!(Exit::from(ExitStatus::from_raw(0)).success());
    }
}

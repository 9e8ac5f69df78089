//! `command` probe: runs a program (never through a shell); success is the expected exit
//! status (0 unless told) and, when asked, a text in its standard output.

use super::probe::{BoxFuture, Check, Probe, short_duration};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct CommandProbe {
    argv: Vec<String>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    expect_exit: i32,
    stdout_contains: Option<String>,
}

impl CommandProbe {
    pub fn new(argv: Vec<String>, timeout: Duration) -> Result<CommandProbe, String> {
        if argv.first().is_none_or(|program| program.is_empty()) {
            return Err("a command probe needs a program to run".to_string());
        }
        Ok(CommandProbe {
            argv,
            cwd: None,
            timeout,
            expect_exit: 0,
            stdout_contains: None,
        })
    }

    /// Success is this exit status (instead of 0).
    pub fn expecting_exit(mut self, status: i32) -> CommandProbe {
        self.expect_exit = status;
        self
    }

    /// Success also needs the standard output to contain `text`.
    pub fn expecting_stdout(mut self, text: impl Into<String>) -> CommandProbe {
        self.stdout_contains = Some(text.into());
        self
    }

    /// Runs the command in this directory.
    pub fn in_dir(mut self, cwd: impl Into<PathBuf>) -> CommandProbe {
        self.cwd = Some(cwd.into());
        self
    }

    async fn run(&self) -> Check {
        let mut command = Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(err) => return Check::failure(format!("cannot run `{}`: {err}", self.argv[0])),
        };
        let pgid = child.id();
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => {
                let text = first_line(&output.stderr).or_else(|| first_line(&output.stdout));
                let mut detail = match (output.status.code(), text) {
                    (Some(code), Some(text)) => format!("exit status {code}: {text}"),
                    (Some(code), None) => format!("exit status {code}"),
                    (None, _) => format!("ended by {}", output.status),
                };
                let mut success = output.status.code() == Some(self.expect_exit);
                if let Some(wanted) = &self.stdout_contains
                    && !super::http_probe::contains(&output.stdout, wanted.as_bytes())
                {
                    success = false;
                    detail.push_str(&format!(" (stdout lacks \"{wanted}\")"));
                }
                Check { success, detail }
            }
            Ok(Err(err)) => Check::failure(format!("waiting for `{}` failed: {err}", self.argv[0])),
            Err(_) => {
                // Dropping the future killed the command itself; its children go too.
                // (libc directly: `targets::Signal` is above the probes, which readiness uses.)
                if let Some(pgid) = pgid.and_then(|pgid| libc::pid_t::try_from(pgid).ok()) {
                    // SAFETY: killpg has no memory-safety preconditions.
                    unsafe { libc::killpg(pgid, libc::SIGKILL) };
                }
                Check::failure(format!(
                    "`{}` timed out after {} and was killed",
                    self.argv[0],
                    short_duration(self.timeout)
                ))
            }
        }
    }
}

/// The first non-empty line of an output, shortened to 200 characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    Some(line.chars().take(200).collect())
}

impl Probe for CommandProbe {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn describe(&self) -> String {
        let mut text = format!("command {}", self.argv.join(" "));
        if self.expect_exit != 0 {
            text.push_str(&format!(" expecting exit status {}", self.expect_exit));
        }
        if let Some(wanted) = &self.stdout_contains {
            text.push_str(&format!(" with stdout containing \"{wanted}\""));
        }
        text
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn check(&self) -> BoxFuture<'_, Check> {
        Box::pin(self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|part| part.to_string()).collect()
    }

    #[tokio::test]
    async fn exit_status_decides_success() {
        let ok = CommandProbe::new(argv(&["true"]), Duration::from_secs(5)).unwrap();
        let check = ok.check().await;
        assert!(check.success);
        assert_eq!(check.detail, "exit status 0");

        let failing =
            CommandProbe::new(argv(&["ls", "/no/such/path"]), Duration::from_secs(5)).unwrap();
        let check = failing.check().await;
        assert!(!check.success);
        assert!(
            check.detail.starts_with("exit status 2: "),
            "{}",
            check.detail
        );
        assert!(check.detail.contains("/no/such/path"), "{}", check.detail);
    }

    #[tokio::test]
    async fn the_expected_status_and_stdout_decide_success() {
        let timeout = Duration::from_secs(5);
        let echo = |text: &str| CommandProbe::new(argv(&["echo", text]), timeout).unwrap();
        assert!(echo("PONG").expecting_stdout("PONG").check().await.success);
        let check = echo("LOADING").expecting_stdout("PONG").check().await;
        assert!(!check.success);
        assert!(
            check.detail.contains("stdout lacks \"PONG\""),
            "{}",
            check.detail
        );
        let three = CommandProbe::new(argv(&["sh", "-c", "exit 3"]), timeout).unwrap();
        assert!(!three.clone().check().await.success);
        assert!(three.expecting_exit(3).check().await.success);
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_at_the_timeout() {
        let slow = CommandProbe::new(argv(&["sleep", "30"]), Duration::from_millis(200)).unwrap();
        let started = std::time::Instant::now();
        let check = slow.check().await;
        assert!(!check.success);
        assert!(check.detail.contains("timed out"), "{}", check.detail);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_missing_program_fails_with_its_name() {
        let missing =
            CommandProbe::new(argv(&["no-such-program-pfi"]), Duration::from_secs(1)).unwrap();
        let check = missing.check().await;
        assert!(!check.success);
        assert!(
            check.detail.contains("no-such-program-pfi"),
            "{}",
            check.detail
        );
        assert!(CommandProbe::new(Vec::new(), Duration::from_secs(1)).is_err());
    }
}

//! Helpers shared by the integration tests: the real `pfi-demo` binary, started as process
//! targets, and a minimal HTTP client.

use pfi::targets::{ProcessSpec, ProcessTarget, Readiness};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `pfi-demo` binary built for this test run (`PFI_TEST_DEMO_BIN` names another copy: a
/// long harness run keeps its binaries while the tree is rebuilt).
pub fn demo_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("PFI_TEST_DEMO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pfi-demo").into())
    })
}

pub fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}

/// A spec for `pfi-demo <args>` on port 0, ready once it announced its address.
pub fn demo_spec(name: &str, logs: &Path, args: &[&str]) -> ProcessSpec {
    let mut all = vec![demo_bin()];
    all.extend_from_slice(args);
    ProcessSpec::new(name, argv(&all), logs)
        .readiness(Readiness::Announced)
        .start_timeout(Duration::from_secs(20))
}

pub async fn start_backend(logs: &Path) -> ProcessTarget {
    let target =
        ProcessTarget::new(demo_spec("backend", logs, &["backend", "--port", "0"])).unwrap();
    target.start().await.unwrap();
    target
}

pub async fn start_api(logs: &Path, backend: SocketAddr, extra: &[&str]) -> ProcessTarget {
    let backend = backend.to_string();
    let mut args = vec!["api", "--port", "0", "--backend", backend.as_str()];
    args.extend_from_slice(extra);
    let target = ProcessTarget::new(demo_spec("api", logs, &args)).unwrap();
    target.start().await.unwrap();
    target
}

/// Polls `condition` every 20 ms until it holds; panics after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET `path` over a fresh HTTP/1.1 connection; returns the status and the body.
pub async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of an unlabelled Prometheus gauge in a metrics text.
pub fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no gauge {name} in:\n{metrics}"))
}

/// The `pfi` binary built for this test run (`PFI_TEST_BIN` names another copy).
pub fn pfi() -> std::process::Command {
    match std::env::var_os("PFI_TEST_BIN") {
        Some(bin) => std::process::Command::new(bin),
        None => std::process::Command::new(env!("CARGO_BIN_EXE_pfi")),
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `pfi run` on `text` written into `dir`; returns the exit code, stdout and the journal.
pub fn run_with_journal(dir: &Path, text: &str) -> (i32, String, serde_json::Value) {
    let file = dir.join("scenario.pfi");
    std::fs::write(&file, text).unwrap();
    let journal = dir.join("journal.json");
    let output = pfi()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_else(|err| {
            panic!("no journal ({err}); stdout:\n{stdout}\nstderr:\n{stderr}")
        }))
        .unwrap();
    (output.status.code().unwrap_or(-1), stdout, report)
}

/// One `pfi` invocation, for tests that run the binary and look at what it said:
/// `Test::new().args(["run", file]).run().code(2).stderr("file.pfi:3:")`.
pub struct Test {
    command: std::process::Command,
}

impl Test {
    pub fn new() -> Test {
        Test { command: pfi() }
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Runs it to the end.
    pub fn run(mut self) -> Ran {
        let output = self.command.output().unwrap();
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl From<std::process::Command> for Test {
    /// A prepared command (a scenario's `pfi run ...`).
    fn from(command: std::process::Command) -> Test {
        Test { command }
    }
}

/// What a finished `pfi` said; each check names both outputs when it fails.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Asserts the exit code.
    pub fn code(self, expected: i32) -> Ran {
        assert_eq!(self.code, expected, "{self}");
        self
    }

    /// Asserts that stdout contains `text`.
    pub fn stdout(self, text: &str) -> Ran {
        assert!(self.stdout.contains(text), "no {text:?} in stdout; {self}");
        self
    }

    /// Asserts that stderr contains `text`.
    pub fn stderr(self, text: &str) -> Ran {
        assert!(self.stderr.contains(text), "no {text:?} in stderr; {self}");
        self
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The pid in a `... ready (pid N)` line or a `(pid N)` message.
pub fn pid_in(line: &str) -> i32 {
    line.rsplit("pid ")
        .next()
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// The state letter of a process (`R`, `S`, `T`, `Z`), or `None` when it is gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    after.chars().next()
}

pub fn gone_or_zombie(pid: i32) -> bool {
    matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Polls `condition` every 20 ms; fails the test after 20 s.
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

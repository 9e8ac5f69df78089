//! How to start a process resource: argv (never a shell), environment, folder, logs, readiness.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When a started process counts as ready.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Readiness {
    /// As soon as it is spawned.
    #[default]
    Started,
    /// When a TCP connection to `address` (`host:port`) is accepted.
    Tcp { address: String },
    /// When a GET of `url` returns a 2xx status.
    Http { url: String },
    /// When the process prints a line containing `listening on ADDRESS` on stdout (as
    /// `pfi-demo` does, also with `--port 0`) and ADDRESS accepts a TCP connection. The
    /// address is then available from `ProcessTarget::listen_addr`.
    Announced,
}

/// Everything needed to start (and start again) a process resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The resource name; names the log files and every message.
    pub name: String,
    /// Program and arguments, passed to the program as they are (no shell).
    pub argv: Vec<String>,
    /// Variables added to (or overriding) pfi's own environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working folder; pfi's own when absent.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Folder for `<name>.stdout.log` and `<name>.stderr.log` (appended across restarts).
    pub log_dir: PathBuf,
    #[serde(default)]
    pub readiness: Readiness,
    /// How long a start may take to become ready.
    pub start_timeout: Duration,
    /// How long a graceful stop waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
}

impl ProcessSpec {
    /// A spec with defaults: ready once started, 10 s start timeout, 5 s stop grace.
    pub fn new(name: impl Into<String>, argv: Vec<String>, log_dir: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            name: name.into(),
            argv,
            env: BTreeMap::new(),
            cwd: None,
            log_dir: log_dir.into(),
            readiness: Readiness::Started,
            start_timeout: Duration::from_secs(10),
            stop_grace: Duration::from_secs(5),
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    pub fn stdout_log(&self) -> PathBuf {
        self.log_path("stdout")
    }

    pub fn stderr_log(&self) -> PathBuf {
        self.log_path("stderr")
    }

    fn log_path(&self, stream: &str) -> PathBuf {
        let file: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Path::new(&self.log_dir).join(format!("{file}.{stream}.log"))
    }

    /// Why the spec cannot be started, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.name.is_empty() {
            return Some("a process resource needs a name".to_string());
        }
        match self.argv.first() {
            None => Some(format!("process `{}` has no command to run", self.name)),
            Some(program) if program.is_empty() => {
                Some(format!("process `{}` has an empty program name", self.name))
            }
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_are_named_after_the_resource() {
        let spec = ProcessSpec::new("api/v1", vec!["x".into()], "/tmp/logs");
        assert_eq!(spec.stdout_log(), Path::new("/tmp/logs/api_v1.stdout.log"));
        assert_eq!(spec.stderr_log(), Path::new("/tmp/logs/api_v1.stderr.log"));
    }

    #[test]
    fn reports_missing_commands() {
        let spec = ProcessSpec::new("api", Vec::new(), "/tmp");
        assert_eq!(
            spec.problem().unwrap(),
            "process `api` has no command to run"
        );
        let spec = ProcessSpec::new("api", vec!["pfi-demo".into()], "/tmp");
        assert_eq!(spec.problem(), None);
    }

    #[test]
    fn round_trips_through_json() {
        let spec = ProcessSpec::new("api", vec!["pfi-demo".into(), "api".into()], "/tmp")
            .env("RUST_LOG", "info")
            .readiness(Readiness::Http {
                url: "http://127.0.0.1:8080/health".into(),
            });
        let json = serde_json::to_string(&spec).unwrap();
        let back: ProcessSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }
}

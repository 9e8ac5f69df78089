//! `DevTools`: a headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: NUL-terminated JSON messages, commands on its fd 3, answers and
//! events on its fd 4), for a page as it is seconds after it loaded — `--dump-dom` and
//! `--screenshot` take the page at its load event, before a live page's event stream said
//! anything, and virtual time does not run an event stream. No WebSocket client is needed.

use serde_json::{Value, json};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

pub struct DevTools {
    child: Child,
    commands: File,
    messages: Receiver<Value>,
    next_id: u64,
    /// Console messages, uncaught exceptions and error log entries (a failed request, a
    /// refused script), as they arrived.
    pub console: Vec<String>,
    _profile: tempfile::TempDir,
}

impl DevTools {
    /// A headless Chromium with an empty page; `None`, saying why, when none is installed.
    pub fn launch() -> Option<DevTools> {
        let browser = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|name| {
                Command::new(name)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        let Some(browser) = browser else {
            eprintln!(
                "skipped: Chromium is not installed (apt-get install -y chromium; .ci/run does it)"
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        // `to` carries our commands to its fd 3, `from` its answers from its fd 4.
        let (to_read, to_write) = pipe();
        let (from_read, from_write) = pipe();
        let mut command = Command::new(browser);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--window-size=1100,2400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec. Copies above 10 first, so
        // that an end that already is fd 3 or 4 is not closed by the other `dup2`; `dup2`'s
        // copies do not close on exec.
        unsafe {
            command.pre_exec(move || {
                let ours = libc::fcntl(to_read, libc::F_DUPFD, 10);
                let theirs = libc::fcntl(from_write, libc::F_DUPFD, 10);
                if ours < 0 || theirs < 0 || libc::dup2(ours, 3) < 0 || libc::dup2(theirs, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(ours);
                libc::close(theirs);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        // SAFETY: each fd is ours alone, owned by one `File` from here on.
        let (commands, mut answers) = unsafe {
            libc::close(to_read);
            libc::close(from_write);
            (File::from_raw_fd(to_write), File::from_raw_fd(from_read))
        };
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buffer = [0u8; 64 * 1024];
            loop {
                let n = match answers.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buffer[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    let Ok(value) = serde_json::from_slice(&message[..end]) else {
                        continue;
                    };
                    if sender.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        Some(DevTools {
            child,
            commands,
            messages,
            next_id: 0,
            console: Vec::new(),
            _profile: profile,
        })
    }

    /// Opens `url` in a new tab with its console and log followed; the tab's session.
    pub fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        self.call(Some(&session), "Runtime.enable", json!({}));
        self.call(Some(&session), "Log.enable", json!({}));
        self.call(Some(&session), "Page.enable", json!({}));
        self.call(Some(&session), "Page.navigate", json!({ "url": url }));
        session
    }

    /// The value of a JavaScript expression in the tab.
    pub fn evaluate(&mut self, session: &str, expression: &str) -> Value {
        let result = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        if let Some(thrown) = result.get("exceptionDetails") {
            panic!("{expression} threw: {thrown}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` every 200 ms until `done` accepts its value (returned), or
    /// panics after `within`.
    pub fn wait_for(
        &mut self,
        session: &str,
        expression: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.evaluate(session, expression);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "still {value} after {within:?}: {expression}; console: {:?}",
                self.console
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a command and waits for its answer (recording the events that come first).
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("Chromium did not answer {method}"));
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.record(&message);
        }
    }

    fn record(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") => {
                let text: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["value"].to_string())
                    .collect();
                self.console
                    .push(format!("console.{}: {}", params["type"], text.join(" ")));
            }
            Some("Runtime.exceptionThrown") => {
                self.console
                    .push(format!("uncaught: {}", params["exceptionDetails"]));
            }
            Some("Log.entryAdded") => {
                let entry = &params["entry"];
                if entry["level"] == "error" {
                    self.console.push(format!(
                        "{} {}: {} {}",
                        entry["level"], entry["source"], entry["text"], entry["url"]
                    ));
                }
            }
            _ => {}
        }
    }
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pipe whose ends close on exec (the child gets its copies from `dup2`).
fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let ok = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(ok, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

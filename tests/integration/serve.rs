//! `pfi serve` end to end: the real `pfi` binary serving on a port-0 address, driven over
//! HTTP, running real `pfi-demo` processes; `pfi run --server` and `pfi gate` against it.

use super::support::{demo_bin, free_port, gone_or_zombie, pfi, pid_in, proc_state, wait_for};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A running `pfi serve`, its stderr lines on a channel.
struct Server {
    child: Child,
    address: SocketAddr,
    lines: Receiver<String>,
    /// The lines read before the server said where it listens.
    early: Vec<String>,
    state: PathBuf,
}

impl Server {
    fn start(state: &Path, extra: &[&str]) -> Server {
        Server::start_with(state, extra, &[])
    }

    fn start_with(state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = pfi()
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--state"])
            .arg(state)
            .args(["--allow", demo_bin()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut early = Vec::new();
        let address = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("pfi serve did not say where it listens"));
            early.push(line.clone());
            // `--log-format json`: the same words, as a log object's message.
            let text = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|object| object["message"].as_str().map(str::to_string))
                .unwrap_or(line);
            if let Some(address) = text.strip_prefix("pfi serve: listening on http://") {
                break address.trim().parse().unwrap();
            }
        };
        Server {
            child,
            address,
            lines,
            early,
            state: state.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        request(self.address, "GET", path, None, None)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        request(self.address, "POST", path, Some(&body.to_string()), None)
    }

    /// Submits a scenario text; returns the run id.
    fn submit(&self, scenario: &str) -> (String, Value) {
        let (status, body) = self.post("/v1/runs", &json!({ "scenario": scenario }));
        assert_eq!(status, 202, "{body}");
        (body["id"].as_str().unwrap().to_string(), body)
    }

    /// Polls the run until it finished.
    fn wait_finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, run) = self.get(&format!("/v1/runs/{id}"));
            assert_eq!(status, 200, "{run}");
            if run["finished_ms"].is_i64() {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} never finished: {run}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the server to exit; its exit code and every line it wrote on stderr.
    fn wait(mut self) -> (i32, Vec<String>) {
        let status = self.child.wait().unwrap();
        let mut lines = std::mem::take(&mut self.early);
        // The reader thread sees the end of stderr just after the exit.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        (status.code().unwrap_or(-1), lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and the JSON body.
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Value) {
    let (status, text) = raw(address, method, path, body, token);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn raw(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let (headers, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Reads a run's event stream line by line until `until` is seen in an event's data, or to
/// the end; returns the `(event, data)` pairs.
struct EventStream {
    reader: BufReader<TcpStream>,
}

impl EventStream {
    fn open(address: SocketAddr, id: &str) -> EventStream {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET /v1/runs/{id}/events HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        EventStream {
            reader: BufReader::new(stream),
        }
    }

    /// The next `(event, data)`; `None` at the end of the stream.
    fn next(&mut self) -> Option<(String, Value)> {
        let mut event = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                return Some((event, serde_json::from_str(data).unwrap_or(Value::Null)));
            }
        }
    }

    /// Events until one whose message contains `text`; panics at the end of the stream.
    fn until(&mut self, text: &str) -> String {
        let mut seen = Vec::new();
        while let Some((event, data)) = self.next() {
            let message = data["message"].as_str().unwrap_or("").to_string();
            seen.push(format!("{event}: {data}"));
            if message.contains(text) {
                return message;
            }
        }
        panic!("no event with {text:?}; saw:\n{}", seen.join("\n"));
    }

    /// Reads to the `end` event; returns its data and every event's message before it
    /// (`sample`s, which are not stored and not replayed, are skipped).
    fn end(&mut self) -> (Value, Vec<String>) {
        let mut messages = Vec::new();
        while let Some((event, data)) = self.next() {
            if event == "end" {
                return (data, messages);
            }
            if event == "event" {
                messages.push(data["message"].as_str().unwrap_or("").to_string());
            }
        }
        panic!("the stream closed without an end event: {messages:?}");
    }
}

/// A scenario: one `pfi-demo backend` on `port`, a tcp probe, `rest` appended.
fn scenario(port: u16, duration: &str, rest: &str) -> String {
    scenario_with(
        &format!(r#""{}", "backend", "--port", "{port}""#, demo_bin()),
        port,
        duration,
        rest,
    )
}

fn scenario_with(argv: &str, port: u16, duration: &str, rest: &str) -> String {
    format!(
        r#"experiment "served" {{
  duration {duration}
  seed 1
  baseline 200ms
}}

resource backend: process [{argv}] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

{rest}
"#
    )
}

const FREEZE: &str = "fault freeze: pause on backend {\n  at 0ms\n  lasting 60s\n}\n";

#[test]
fn a_run_over_the_api_streams_its_events_and_keeps_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let (code, health) = server.get("/healthz");
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    let text = scenario(free_port(), "1s", "threshold ping.error_rate < 50%\n");
    let (id, accepted) = server.submit(&text);
    assert_eq!(accepted["links"]["events"], format!("/v1/runs/{id}/events"));
    let (end, messages) = EventStream::open(server.address, &id).end();
    assert_eq!(end["status"], "passed", "{messages:?}");
    assert_eq!(end["exit_code"], 0);
    assert!(
        messages.iter().any(|m| m.contains("backend ready")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("experiment completed")));

    let run = server.wait_finished(&id);
    assert_eq!(run["status"], "passed", "{run}");
    assert_eq!(run["exit_code"], 0);
    let record = &run["record"];
    assert_eq!(record["thresholds"][0]["passed"], true, "{record}");
    assert!(record["risk"]["scenarios"].is_array(), "{record}");
    // One id for the API, the journal, the ledger and `pfi recover`.
    assert_eq!(record["run_id"], id.as_str(), "{record}");
    assert_eq!(run["ledger_run_id"], id.as_str(), "{run}");
    let ledger = server.state.join("runs").join(&id).join("ledger.jsonl");
    let first = std::fs::read_to_string(&ledger).unwrap_or_else(|e| panic!("{ledger:?}: {e}"));
    let first: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(first["run_id"], id.as_str(), "{first}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("run {id}: experiment \"served\""))),
        "{messages:?}"
    );
    assert!(run["summary"].as_str().unwrap().contains("PASS"), "{run}");
    // A finished run's stream replays everything, then ends.
    let (again, replayed) = EventStream::open(server.address, &id).end();
    assert_eq!(again["status"], "passed");
    assert_eq!(replayed, messages);

    let (_, list) = server.get("/v1/runs?status=passed");
    assert_eq!(list["runs"][0]["id"], id.as_str());
    assert!(list["runs"][0].get("record").is_none());
    let (_, metrics) = raw(server.address, "GET", "/metrics", None, None);
    assert!(
        metrics.contains("pfi_runs_finished_total{status=\"passed\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("pfi_api_request_duration_seconds_bucket{route=\"/v1/runs/{id}\""));
    server.signal(libc::SIGTERM);
    let (code, _) = server.wait();
    assert_eq!(code, 0);
}

#[test]
fn json_logs_are_one_object_a_line_and_name_requests_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    // Requests are logged at debug (one line each); runs at info.
    let server = Server::start_with(
        &dir.path().join("state"),
        &["--log-format", "json"],
        &[("RUST_LOG", "info,pfi::serve=debug")],
    );
    let (id, _) = server.submit(&scenario(free_port(), "300ms", ""));
    assert_eq!(server.wait_finished(&id)["status"], "passed");
    server.signal(libc::SIGTERM);
    let (code, lines) = server.wait();
    assert_eq!(code, 0, "{lines:#?}");
    let objects: Vec<Value> = lines
        .iter()
        .map(|line| {
            let object: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            for field in ["timestamp", "level", "message"] {
                assert!(object[field].is_string(), "no {field}: {line}");
            }
            object
        })
        .collect();
    let has = |what: &str, test: &dyn Fn(&Value) -> bool| {
        assert!(
            objects.iter().any(test),
            "no log line for {what}:\n{}",
            lines.join("\n")
        );
    };
    has("where it listens", &|o| {
        o["message"]
            .as_str()
            .unwrap()
            .starts_with("pfi serve: listening on http://127.0.0.1:")
            && o["address"].is_string()
    });
    has("the submit request", &|o| {
        o["message"] == "request"
            && o["method"] == "POST"
            && o["path"] == "/v1/runs"
            && o["status"] == 202
            && o["ms"].is_f64()
            && o["level"] == "DEBUG"
    });
    has("the run's start", &|o| {
        o["message"] == "run started" && o["run"] == id.as_str() && o["level"] == "INFO"
    });
    has("the run's end", &|o| {
        o["message"] == "run finished" && o["run"] == id.as_str() && o["status"] == "passed"
    });

    // An error before it listens is a log object too, and exits 2.
    let output = pfi()
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0"])
        .arg("--tokens")
        .arg(dir.path().join("no-such-tokens"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line: Value = serde_json::from_str(stderr.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {stderr:?}"));
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(
        line["message"].as_str().unwrap().contains("no-such-tokens"),
        "{line}"
    );
}

#[test]
fn abort_over_the_api_reverts_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let (id, _) = server.submit(&scenario(free_port(), "60s", FREEZE));
    let mut events = EventStream::open(server.address, &id);
    let pid = pid_in(&events.until("backend ready"));
    events.until("fault freeze (pause on backend) applied");
    wait_for("the backend to be stopped", || proc_state(pid) == Some('T'));
    let (status, body) = server.post(&format!("/v1/runs/{id}/abort"), &json!({}));
    assert_eq!(status, 202, "{body}");
    let (end, messages) = events.end();
    assert_eq!(end["status"], "aborted", "{messages:?}");
    assert_eq!(end["exit_code"], 1);
    assert!(
        gone_or_zombie(pid),
        "the backend still runs after the abort"
    );
    let run = server.wait_finished(&id);
    assert!(
        run["record"]["ending"]
            .as_str()
            .unwrap()
            .contains("abort requested over the API"),
        "{run}"
    );
    let (status, body) = server.post(&format!("/v1/runs/{id}/abort"), &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("finished"))
    );
}

#[test]
fn runs_sharing_a_port_are_queued_and_sigterm_reverts_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let port = free_port();
    let (first, accepted) = server.submit(&scenario(port, "1s", ""));
    assert_eq!(accepted["status"], "running");
    let (second, accepted) = server.submit(&scenario(port, "1s", ""));
    assert_eq!(accepted["status"], "queued", "{accepted}");
    // Another port: runs beside them.
    let (third, accepted) = server.submit(&scenario(free_port(), "60s", FREEZE));
    assert_eq!(accepted["status"], "running", "{accepted}");
    let a = server.wait_finished(&first);
    let b = server.wait_finished(&second);
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("passed"), Some("passed"))
    );
    assert!(
        b["started_ms"].as_i64().unwrap() >= a["finished_ms"].as_i64().unwrap(),
        "{a}\n{b}"
    );
    let mut events = EventStream::open(server.address, &third);
    let pid = pid_in(&events.until("backend ready"));
    events.until("applied");
    server.signal(libc::SIGTERM);
    let (end, _) = events.end();
    assert_eq!(end["status"], "interrupted");
    let state = server.state.clone();
    let (code, _) = server.wait();
    assert_eq!(code, 0);
    assert!(gone_or_zombie(pid), "SIGTERM left the backend running");
    let restarted = Server::start(&state, &[]);
    let run = restarted.wait_finished(&third);
    assert_eq!(run["status"], "interrupted");
    assert!(
        run["record"]["ending"]
            .as_str()
            .unwrap()
            .contains("SIGTERM"),
        "{run}"
    );
}

#[test]
fn after_sigkill_the_restarted_server_reverts_the_run_and_marks_it_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server = Server::start(&state, &["--allow", "/bin/sh"]);
    let port = free_port();
    // The backend ignores SIGHUP so that it outlives the killed server, as a daemon would.
    let argv = format!(
        r#""/bin/sh", "-c", "trap '' HUP; exec {} backend --port {port}""#,
        demo_bin()
    );
    let (id, _) = server.submit(&scenario_with(&argv, port, "60s", FREEZE));
    let mut events = EventStream::open(server.address, &id);
    let pid = pid_in(&events.until("backend ready"));
    events.until("fault freeze (pause on backend) applied");
    server.signal(libc::SIGKILL);
    let (code, _) = server.wait();
    assert_eq!(code, -1);
    assert!(!gone_or_zombie(pid), "the backend died with the server");

    let restarted = Server::start(&state, &["--allow", "/bin/sh"]);
    let run = restarted.wait_finished(&id);
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(run["exit_code"], 1);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("1 fault(s) reverted, 1 process(es) stopped"),
        "{error}"
    );
    wait_for("the backend to stop", || gone_or_zombie(pid));
    let (end, _) = EventStream::open(restarted.address, &id).end();
    assert_eq!(end["status"], "interrupted");
}

#[test]
fn unauthorised_malformed_and_disallowed_requests_get_stable_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let hashed = |token: &str| {
        let output = pfi()
            .args(["serve", "--hash-token", token])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let operator = hashed("op-secret");
    let read = hashed("read-secret").replacen("operator", "read", 1);
    std::fs::write(&tokens, format!("{operator}{read}")).unwrap();
    assert!(!std::fs::read_to_string(&tokens).unwrap().contains("secret"));
    let server = Server::start(
        &dir.path().join("state"),
        &["--tokens", tokens.to_str().unwrap(), "--max-body-kib", "4"],
    );
    let at = server.address;
    let error = |(status, body): (u16, Value)| {
        assert_eq!(body["error"]["status"], status, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(request(at, "GET", "/healthz", None, None).0, 200);
    assert_eq!(
        error(request(at, "GET", "/v1/runs", None, None)),
        (401, "unauthorized".into())
    );
    assert_eq!(
        error(request(at, "GET", "/v1/runs", None, Some("guess"))),
        (401, "unauthorized".into())
    );
    assert_eq!(
        request(at, "GET", "/v1/runs", None, Some("read-secret")).0,
        200
    );
    // The dashboard reads like any GET route; without a token a page sends the browser to
    // the sign-in form.
    let (status, headers, _) = exchange(at, "GET", "/ui", &[], "");
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/ui/login?next=%2Fui"))
    );
    assert_eq!(raw(at, "GET", "/ui", None, Some("read-secret")).0, 200);
    let text = json!({ "scenario": scenario(free_port(), "1s", "") }).to_string();
    assert_eq!(
        error(request(
            at,
            "POST",
            "/v1/runs",
            Some(&text),
            Some("read-secret")
        )),
        (403, "forbidden".into())
    );
    let op = Some("op-secret");
    assert_eq!(
        error(request(at, "POST", "/v1/runs", Some("{\"scenario\": "), op)),
        (400, "malformed_json".into())
    );
    assert_eq!(
        error(request(at, "POST", "/v1/runs", Some("{}"), op)),
        (400, "bad_request".into())
    );
    let big = json!({ "scenario": "#".repeat(8192) }).to_string();
    assert_eq!(
        error(request(at, "POST", "/v1/runs", Some(&big), op)),
        (413, "too_large".into())
    );
    assert_eq!(
        error(request(at, "GET", "/v1/nothing", None, op)),
        (404, "not_found".into())
    );
    assert_eq!(
        error(request(at, "DELETE", "/v1/runs", None, op)),
        (405, "method_not_allowed".into())
    );
    assert_eq!(
        error(request(at, "GET", "/v1/runs/nope", None, op)),
        (404, "not_found".into())
    );
    // A scenario with an error: 422 and located diagnostics.
    let broken = json!({ "scenario": "experiment \"x\" {\n  duration 1s\n}\nprobe p: tcp 127.0.0.1:1 every 1s timeout 1s\nthreshold nope.p99 < 1ms\n" });
    let (status, body) = request(at, "POST", "/v1/runs", Some(&broken.to_string()), op);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_scenario");
    let first = &body["error"]["diagnostics"][0];
    assert_eq!(first["location"]["line"], 5, "{body}");
    assert!(first["location"]["column"].as_u64().unwrap() >= 1);
    // /v1/check says the same with 200.
    let (status, checked) = request(at, "POST", "/v1/check", Some(&broken.to_string()), op);
    assert_eq!(
        (status, checked["ok"].as_bool()),
        (200, Some(false)),
        "{checked}"
    );
    assert_eq!(checked["diagnostics"][0]["location"]["line"], 5);
    // A program off the allow-list is refused before anything starts.
    let argv = r#""/bin/sleep", "60""#;
    let refused = json!({ "scenario": scenario_with(argv, free_port(), "1s", "") });
    let (status, body) = request(at, "POST", "/v1/runs", Some(&refused.to_string()), op);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_allowed")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/bin/sleep")
    );
    // Paths only under a scenarios folder, and this server has none.
    let by_path = json!({ "path": "../etc/passwd" }).to_string();
    assert_eq!(
        error(request(at, "POST", "/v1/plan", Some(&by_path), op)),
        (400, "bad_request".into())
    );
    let (_, list) = request(at, "GET", "/v1/runs", None, op);
    assert_eq!(list["runs"].as_array().unwrap().len(), 0, "{list}");
}

#[test]
fn listening_beyond_loopback_needs_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let output = pfi()
        .args(["serve", "--listen", "0.0.0.0:0", "--state"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("without tokens"), "{stderr}");
}

#[test]
fn every_documented_route_is_served_and_plan_works() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("one.pfi"),
        scenario(free_port(), "1s", FREEZE),
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("state"),
        &["--scenarios", scenarios.to_str().unwrap()],
    );
    let (status, document) = server.get("/v1/openapi.json");
    assert_eq!(status, 200);
    for (path, operations) in document["paths"].as_object().unwrap() {
        if path == "/v1/predictions/stream" {
            // Never ends: served and read in a_watch_predicts_a_leak_...
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "no-such-run");
            let body = if method == "post" { Some("{}") } else { None };
            let (status, text) = raw(
                server.address,
                &method.to_uppercase(),
                &concrete,
                body,
                None,
            );
            assert!(
                !text.contains("no such route") && status != 405,
                "{method} {path}: {status} {text}"
            );
        }
    }
    let (status, plan) = server.post("/v1/plan", &json!({ "path": "one.pfi", "seed": 3 }));
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["seed"], 3);
    assert_eq!(plan["plan"]["faults"][0]["name"], "freeze");
    assert!(plan["timeline"]["activations"].is_array(), "{plan}");
    // `analysis` may name source folders inside the scenarios folder only: `/` would have
    // the server read its whole filesystem.
    std::fs::create_dir_all(scenarios.join("shop")).unwrap();
    std::fs::write(
        scenarios.join("shop/app.py"),
        "import requests\n\ndef pay():\n    return requests.get(\"http://payments:8080/pay\")\n",
    )
    .unwrap();
    let analysed =
        |folder: &str| format!("analysis \"{folder}\"\nexperiment \"a\" {{\n  duration 1s\n}}\n");
    let (status, checked) = server.post("/v1/check", &json!({ "scenario": analysed("shop") }));
    assert_eq!((status, &checked["ok"]), (200, &json!(true)), "{checked}");
    for folder in ["/", "..", "shop/../../"] {
        for route in ["/v1/check", "/v1/plan", "/v1/runs"] {
            let (status, body) = server.post(route, &json!({ "scenario": analysed(folder) }));
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("not_allowed")),
                "{route} {folder}: {body}"
            );
            let message = body["error"]["diagnostics"][0].as_str().unwrap();
            assert!(
                message.contains(":1:10: `analysis")
                    && message.contains("outside the server's scenarios folder"),
                "{message}"
            );
        }
    }
    std::fs::write(scenarios.join("outside.pfi"), analysed("/etc")).unwrap();
    let (status, body) = server.post("/v1/runs", &json!({ "path": "outside.pfi" }));
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("not_allowed")),
        "{body}"
    );

    let (status, body) = server.post("/v1/runs", &json!({ "path": "one.pfi" }));
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let (status, _) = server.post(&format!("/v1/runs/{id}/abort"), &json!({}));
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(id)["status"], "aborted");
}

#[test]
fn pfi_run_server_and_gate_exit_like_a_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let passing = write("pass.pfi", &scenario(free_port(), "1s", ""));
    let journal = dir.path().join("journal.json");
    let output = pfi()
        .args(["run", "--server", &server.url()])
        .arg(&passing)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("backend ready"), "{stderr}");
    assert!(stdout.contains("thresholds: 0"), "{stdout}");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(record["ending"], "completed");
    assert!(record["risk"]["scenarios"].is_array(), "{record}");

    let crashing = scenario(
        free_port(),
        "1500ms",
        "fault crash: kill on backend {\n  at 300ms\n}\nthreshold ping.error_rate < 1%\n",
    );
    let failing = write("fail.pfi", &crashing);
    let output = pfi()
        .args(["run", "--server", &server.url()])
        .arg(&failing)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");

    let broken = write("broken.pfi", "experiment \"x\" {\n  duration nope\n}\n");
    let output = pfi()
        .args(["run", "--server", &server.url()])
        .arg(&broken)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.pfi:2:"), "{stderr}");

    let gate = |budget: &str, server_url: Option<&str>| {
        let mut command = pfi();
        command.args(["gate", "--max-risk", budget]);
        if let Some(url) = server_url {
            command.args(["--server", url]);
        } else {
            command.arg("--state-dir").arg(dir.path().join("local"));
        }
        let output = command.arg(&failing).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = gate("0%", Some(&server.url()));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("exceeds the budget 0.00%"), "{stderr}");
    assert!(stderr.contains("fault crash (kill on backend)"), "{stderr}");
    let (code, stderr) = gate("0%", None);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("exceeds the budget"), "{stderr}");

    let (code, stderr) = {
        let output = pfi()
            .args(["gate", "--max-risk", "100%", "--server", &server.url()])
            .arg(&passing)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("gate: PASS"), "{stderr}");
}

#[test]
fn ctrl_c_on_pfi_run_server_aborts_the_run_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let file = dir.path().join("freeze.pfi");
    std::fs::write(&file, scenario(free_port(), "60s", FREEZE)).unwrap();
    let mut child = pfi()
        .args(["run", "--server", &server.url()])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut pid = None;
    while !seen.contains("applied") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        if line.contains("backend ready") {
            pid = Some(pid_in(line.trim_end()));
        }
        seen.push_str(&line);
    }
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("interrupted: abort requested over the API"),
        "{stdout}"
    );
    assert!(gone_or_zombie(pid.unwrap()), "the backend still runs");
}

#[test]
fn a_watch_predicts_a_leak_and_mitigates_before_the_api_dies() {
    let dir = tempfile::tempdir().unwrap();
    // With Alertmanager installed, the prediction is also an alert there.
    let manager = Alertmanager::start();
    // Every prediction and verdict is also posted to a webhook: a real HTTP receiver here.
    let (hook, notified) = webhook_receiver();
    let mut extra: Vec<&str> = vec!["--webhook", hook.as_str()];
    if let Some(m) = &manager {
        extra.extend(["--alertmanager", m.url.as_str()]);
    }
    let server = Server::start(&dir.path().join("state"), &extra);
    let (backend, api) = (free_port(), free_port());
    let demo = demo_bin();
    let text = format!(
        r#"import "std/patterns"
experiment "watch" {{
  duration 1s
  seed 1
  baseline 4s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
resource api: process ["{demo}", "api", "--port", "{api}", "--backend", "127.0.0.1:{backend}", "--leak-rate", "8MiB/s", "--leak-after", "5s", "--memory-limit", "64MiB", "--exit-at-limit"] {{
  ready http "http://127.0.0.1:{api}/health" within 10s
}}
probe checkout: http get "http://127.0.0.1:{api}/checkout" every 200ms timeout 1s
predict {{
  watch api.memory, api.cpu
  use memory_leak
  confidence >= 0.7
}}
mitigate on predicted(memory_leak) {{
  alert "api is leaking memory"
}}
"#
    );
    let mut predictions = {
        let mut stream = TcpStream::connect(server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET /v1/predictions/stream?kind=memory_leak HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        EventStream {
            reader: BufReader::new(stream),
        }
    };
    let (status, body) = server.post("/v1/runs", &json!({ "scenario": text, "watch": true }));
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let mut events = EventStream::open(server.address, &id);
    let api_pid = pid_in(&events.until("api ready"));
    let (event, prediction) = predictions.next().expect("a prediction");
    assert_eq!(event, "prediction");
    assert_eq!(prediction["run"], id.as_str(), "{prediction}");
    assert_eq!(prediction["resource"], "api");
    assert!(
        !gone_or_zombie(api_pid),
        "the api died before it was predicted"
    );
    events.until("api is leaking memory");
    // The live page's charts mark the mitigation as soon as it fired.
    let markers = live_mitigation_markers(&server, &id);
    assert!(
        markers
            .iter()
            .any(|m| m.contains("alert") && m.contains("predicted(memory_leak)")),
        "{markers:?}"
    );
    // A watch has no end of its own: it is still running.
    let (_, run) = server.get(&format!("/v1/runs/{id}"));
    assert_eq!(
        (run["status"].as_str(), run["kind"].as_str()),
        (Some("running"), Some("watch"))
    );
    let (_, stored) = server.get(&format!("/v1/predictions?run={id}"));
    assert_eq!(stored["predictions"][0]["kind"], "memory_leak", "{stored}");
    assert!(stored["predictions"][0]["acked"].is_null(), "{stored}");

    // An operator acknowledges the prediction: stored with who and why, in the run's events.
    let pid = stored["predictions"][0]["id"].as_i64().unwrap();
    let (status, body) = server.post(
        &format!("/v1/predictions/{pid}/ack"),
        &json!({ "note": "on it" }),
    );
    assert_eq!((status, &body["acked"]), (200, &json!(true)), "{body}");
    events.until(&format!(
        "prediction {pid} (memory_leak on api) acknowledged by loopback: on it"
    ));
    let (status, body) = server.post(&format!("/v1/predictions/{pid}/ack"), &json!({}));
    assert_eq!(
        (status, &body["already_acked"]),
        (200, &json!(true)),
        "{body}"
    );
    let (_, acked) = server.get(&format!("/v1/predictions?run={id}&acked=true"));
    let first = &acked["predictions"][0];
    assert_eq!(first["id"], pid, "{acked}");
    assert_eq!(
        (&first["acked"]["by"], &first["acked"]["note"]),
        (&json!("loopback"), &json!("on it")),
        "{acked}"
    );
    let (_, unacked) = server.get(&format!("/v1/predictions?run={id}&acked=false"));
    assert!(
        unacked["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != pid),
        "{unacked}"
    );
    let (status, body) = server.post("/v1/predictions/999999/ack", &json!({}));
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );

    // ... and fires the watch's mitigation rule by hand, through its engine.
    let (status, body) = server.post(&format!("/v1/runs/{id}/mitigations"), &json!({ "rule": 0 }));
    assert_eq!(status, 200, "{body}");
    let firing = &body["firings"][0];
    assert!(
        firing["trigger"]
            .as_str()
            .unwrap()
            .starts_with("by hand (loopback; rule 0"),
        "{body}"
    );
    assert!(
        firing["action"].as_str().unwrap().contains("alert"),
        "{body}"
    );
    assert_eq!(firing["ok"], true, "{body}");
    events.until("mitigation rule 0 fired by hand by loopback");
    let markers = live_mitigation_markers(&server, &id);
    assert!(
        markers.iter().any(|m| m.contains("by hand (loopback")),
        "{markers:?}"
    );
    let (status, body) = server.post(&format!("/v1/runs/{id}/mitigations"), &json!({ "rule": 7 }));
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no rule 7"),
        "{body}"
    );
    let (status, body) = server.post(
        &format!("/v1/runs/{id}/mitigations"),
        &json!({ "rule": "x" }),
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.post("/v1/runs/no-such-run/mitigations", &json!({ "rule": 0 }));
    assert_eq!(status, 404);
    // The dashboard lists the watch with its latest prediction.
    let (status, page) = raw(server.address, "GET", "/ui", None, None);
    assert_eq!(status, 200, "{page}");
    let watches = page.split("<h2>Watches</h2>").nth(1).unwrap_or("");
    assert!(
        watches.contains(&format!("href=\"/ui/runs/{id}\""))
            && watches.contains("<td>memory_leak</td><td><code>api</code></td>"),
        "{page}"
    );
    let (status, _) = server.post(&format!("/v1/runs/{id}/abort"), &json!({}));
    assert_eq!(status, 202);
    let (end, _) = events.end();
    assert_eq!(end["status"], "aborted");
    let (_, mitigations) = server.get(&format!("/v1/mitigations?run={id}"));
    let firing = &mitigations["mitigations"][0];
    assert!(
        firing["action"].as_str().unwrap().contains("alert"),
        "{mitigations}"
    );
    assert_eq!(firing["ok"], true);
    assert!(
        mitigations["mitigations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["trigger"].as_str().unwrap_or("").starts_with("by hand")),
        "{mitigations}"
    );
    let (status, body) = server.post(&format!("/v1/runs/{id}/mitigations"), &json!({ "rule": 0 }));
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("not_running")),
        "{body}"
    );
    wait_for("the api to stop", || gone_or_zombie(api_pid));
    let mut posted: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !posted.iter().any(|p| p["type"] == "verdict") {
        let left = deadline.saturating_duration_since(Instant::now());
        match notified.recv_timeout(left) {
            Ok(payload) => posted.push(payload),
            Err(_) => break,
        }
    }
    let prediction = posted
        .iter()
        .find(|p| p["type"] == "prediction")
        .unwrap_or_else(|| panic!("no prediction posted: {posted:?}"));
    assert_eq!(
        (
            &prediction["run"],
            &prediction["kind"],
            &prediction["resource"],
            &prediction["experiment"]
        ),
        (
            &json!(id),
            &json!("memory_leak"),
            &json!("api"),
            &json!("watch")
        ),
        "{prediction}"
    );
    assert!(
        prediction["confidence"].as_f64().unwrap() >= 0.7,
        "{prediction}"
    );
    let verdict = posted
        .iter()
        .find(|p| p["type"] == "verdict")
        .unwrap_or_else(|| panic!("no verdict posted: {posted:?}"));
    assert_eq!(
        (&verdict["run"], &verdict["status"]),
        (&json!(id), &json!("aborted")),
        "{verdict}"
    );
    if let Some(manager) = manager {
        wait_for("the prediction's alert", || {
            manager.alerts().iter().any(|a| {
                a["labels"]["alertname"] == "PfiPredictedFault"
                    && a["labels"]["run"] == id.as_str()
                    && a["labels"]["kind"] == "memory_leak"
                    && a["labels"]["resource"] == "api"
            })
        });
    }
}

/// The titles of the mitigation markers on a running run's live charts
/// (`/ui/runs/{id}/charts`, what its page fetches on each sample).
fn live_mitigation_markers(server: &Server, id: &str) -> Vec<String> {
    let (status, charts) = raw(
        server.address,
        "GET",
        &format!("/ui/runs/{id}/charts"),
        None,
        None,
    );
    assert_eq!(status, 200, "{charts}");
    let html = scraper::Html::parse_fragment(&charts);
    let selector = scraper::Selector::parse("g.mitigation-marker title").unwrap();
    html.select(&selector)
        .map(|title| title.text().collect::<String>())
        .collect()
}

#[test]
fn serve_watch_starts_a_watch_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.pfi");
    std::fs::write(&broken, "experiment \"x\" {\n  duration nope\n}\n").unwrap();
    let output = pfi()
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state"))
        .arg("--watch")
        .arg(&broken)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.pfi"), "{stderr}");

    let good = dir.path().join("system.pfi");
    std::fs::write(&good, scenario(free_port(), "1s", FREEZE)).unwrap();
    let server = Server::start(
        &dir.path().join("state"),
        &["--watch", good.to_str().unwrap()],
    );
    let (_, list) = server.get("/v1/runs");
    let watch = &list["runs"][0];
    assert_eq!(watch["kind"], "watch", "{list}");
    let id = watch["id"].as_str().unwrap().to_string();
    let mut events = EventStream::open(server.address, &id);
    events.until("backend ready");
    std::thread::sleep(Duration::from_millis(1500));
    let (_, run) = server.get(&format!("/v1/runs/{id}"));
    assert_eq!(run["status"], "running", "a watch ended by itself: {run}");
    server.signal(libc::SIGTERM);
    let (end, messages) = events.end();
    assert_eq!(end["status"], "interrupted");
    assert!(
        !messages.iter().any(|m| m.contains("applied")),
        "{messages:?}"
    );
    assert_eq!(server.wait().0, 0);
}

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port, or
/// `None` (with a message) when it is not installed.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Option<Alertmanager> {
        let binary = "/usr/bin/prometheus-alertmanager";
        if !Path::new(binary).exists() {
            eprintln!(
                "skipped: {binary} is not installed (apt-get install prometheus-alertmanager; \
                 .ci/run installs it)"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: default\nreceivers:\n  - name: default\n",
        )
        .unwrap();
        let port = free_port();
        let child = std::process::Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let manager = Alertmanager {
            child,
            url: format!("http://{address}"),
            _dir: dir,
        };
        wait_for("Alertmanager to be ready", || {
            TcpStream::connect(address).is_ok()
                && raw(address, "GET", "/-/ready", None, None).0 == 200
        });
        Some(manager)
    }

    fn alerts(&self) -> Vec<Value> {
        let address: SocketAddr = self.url.trim_start_matches("http://").parse().unwrap();
        let (_, body) = request(address, "GET", "/api/v2/alerts", None, None);
        body.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_failed_run_raises_an_alert_in_a_real_alertmanager() {
    let Some(manager) = Alertmanager::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &["--alertmanager", &manager.url]);
    let text = scenario(
        free_port(),
        "1500ms",
        "fault crash: kill on backend {\n  at 300ms\n}\nthreshold ping.error_rate < 1%\n",
    );
    let (id, _) = server.submit(&text);
    assert_eq!(server.wait_finished(&id)["status"], "failed");
    let mut found = None;
    wait_for("the alert in Alertmanager", || {
        found = manager
            .alerts()
            .into_iter()
            .find(|a| a["labels"]["run"] == id.as_str());
        found.is_some()
    });
    let alert = found.unwrap();
    assert_eq!(alert["labels"]["alertname"], "PfiRunFailed", "{alert}");
    assert_eq!(alert["labels"]["source"], "pfi");
    assert_eq!(alert["labels"]["experiment"], "served");
    let summary = alert["annotations"]["summary"].as_str().unwrap();
    assert!(summary.contains("failed ping.error_rate < 1%"), "{summary}");
}

#[test]
fn the_dashboard_lists_runs_and_shows_a_live_then_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let (status, page) = raw(server.address, "GET", "/ui", None, None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No runs yet"), "{page}");

    // A finished run: listed with a link, its page is the HTML report with its charts.
    let text = scenario(free_port(), "1s", "threshold ping.error_rate < 50%\n");
    let (status, body) = server.post(
        "/v1/runs",
        &json!({ "scenario": text, "name": "<b>bold</b>.pfi" }),
    );
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait_finished(&id)["status"], "passed");
    let (status, page) = raw(server.address, "GET", "/ui", None, None);
    assert_eq!(status, 200);
    assert!(page.contains(&format!("href=\"/ui/runs/{id}\"")), "{page}");
    assert!(page.contains("<th>Experiment</th>"), "{page}");
    assert!(page.contains("<td><strong>served</strong></td>"), "{page}");
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;.pfi"), "{page}");
    assert!(
        !page.contains("<b>bold</b>"),
        "the name is not escaped: {page}"
    );
    assert!(page.contains("passed"), "{page}");
    let (status, report) = raw(server.address, "GET", &format!("/ui/runs/{id}"), None, None);
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("<svg"), "no chart: {report}");
    assert!(report.contains("class=\"verdict pass\">PASSED"), "{report}");
    assert!(report.contains("href=\"/ui\""), "{report}");
    assert!(!report.contains("EventSource"), "{report}");

    // A running run: the report's charts of what it measured so far, its events, and the
    // script that follows its event stream and fetches the charts again on each sample.
    let (running, _) = server.submit(&scenario(
        free_port(),
        "60s",
        &format!("{FREEZE}threshold ping.error_rate < 50% during freeze\n"),
    ));
    let mut stream = EventStream::open(server.address, &running);
    stream.until("fault freeze (");
    let mut samples = Vec::new();
    while samples.len() < 2 {
        let (event, data) = stream.next().expect("the stream ended while the run runs");
        if event == "sample" {
            samples.push(data);
        }
    }
    let last = &samples[1];
    assert!(last["elapsed_ms"].as_f64().unwrap() > 0.0, "{last}");
    assert_eq!(last["phase"], "faults", "{last}");
    assert_eq!(last["active_faults"], json!(["freeze"]), "{last}");
    assert_eq!(last["probes"][0]["probe"], "ping", "{last}");
    let (status, live) = raw(
        server.address,
        "GET",
        &format!("/ui/runs/{running}"),
        None,
        None,
    );
    assert_eq!(status, 200, "{live}");
    assert!(live.contains("new EventSource('/v1/runs/' + run"), "{live}");
    assert!(live.contains("addEventListener('sample'"), "{live}");
    assert!(live.contains("window.location.reload()"), "{live}");
    assert!(live.contains("backend ready"), "{live}");
    let charts_of = |html: &str| {
        let doc = scraper::Html::parse_document(html);
        let select = |css: &str| {
            let selector = scraper::Selector::parse(css).unwrap();
            doc.select(&selector).count()
        };
        (
            select("#charts svg.chart"),
            select("#charts section.probe[data-probe=ping] svg.chart"),
            select("#charts g.fault-window[data-fault=freeze]"),
            select("#charts g.threshold-line"),
            select("#charts g.warmup"),
        )
    };
    let (svgs, probe, windows, limits, warmup) = charts_of(&live);
    assert!(svgs >= 3, "timeline and two probe charts expected: {live}");
    assert_eq!(probe, 2, "{live}");
    assert!(
        windows >= 2,
        "the freeze window on both probe charts: {live}"
    );
    assert_eq!(limits, 1, "{live}");
    assert!(warmup >= 2, "{live}");
    // The fragment the page fetches grows as the run goes on.
    let fragment = |server: &Server| {
        let (status, html) = raw(
            server.address,
            "GET",
            &format!("/ui/runs/{running}/charts"),
            None,
            None,
        );
        assert_eq!(status, 200, "{html}");
        html
    };
    let first = fragment(&server);
    std::thread::sleep(Duration::from_millis(1200));
    let later = fragment(&server);
    assert_eq!(charts_of(&format!("<div id=\"charts\">{later}</div>")).1, 2);
    assert_ne!(
        first, later,
        "the charts did not change in 1.2 s of probing"
    );
    let (status, _) = server.post(&format!("/v1/runs/{running}/abort"), &json!({}));
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(&running)["status"], "aborted");
    let (status, report) = raw(
        server.address,
        "GET",
        &format!("/ui/runs/{running}"),
        None,
        None,
    );
    assert_eq!(status, 200);
    assert!(
        report.contains("<svg") && report.contains("class=\"verdict fail\">FAILED"),
        "{report}"
    );
    let (status, ended) = raw(
        server.address,
        "GET",
        &format!("/ui/runs/{running}/charts"),
        None,
        None,
    );
    assert_eq!(status, 200);
    assert!(ended.contains("The run ended (aborted)"), "{ended}");

    // An unknown run: 404 with the stable JSON error.
    let (status, error) = server.get("/ui/runs/no-such-run");
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{error}"
    );
}

/// One HTTP/1.1 exchange with extra header lines; the status, the headers (lower-cased
/// names) and the body.
fn exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let body = if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_browser_signs_in_with_a_token_and_its_cookie_only_reads() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let hashed = |token: &str| {
        let output = pfi()
            .args(["serve", "--hash-token", token])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let read = hashed("read-secret").replacen("operator", "read", 1);
    std::fs::write(&tokens, format!("{}{read}", hashed("op secret;="))).unwrap();
    let server = Server::start(
        &dir.path().join("state"),
        &["--tokens", tokens.to_str().unwrap()],
    );
    let at = server.address;

    // A page without a token: on to the sign-in form, remembering the page.
    let (status, headers, _) = exchange(at, "GET", "/ui/runs/r1?x=1", &[], "");
    assert_eq!(status, 303);
    assert_eq!(
        header(&headers, "location"),
        Some("/ui/login?next=%2Fui%2Fruns%2Fr1%3Fx%3D1")
    );
    let (status, headers, form) = exchange(at, "GET", "/ui/login?next=/ui", &[], "");
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains("<form method=\"post\" action=\"/ui/login\">"),
        "{form}"
    );
    assert!(form.contains("name=\"next\" value=\"/ui\""), "{form}");
    assert!(
        header(&headers, "content-security-policy")
            .is_some_and(|p| p.contains("form-action 'self'")),
        "{headers:?}"
    );
    // The API still answers JSON errors.
    assert_eq!(request(at, "GET", "/v1/runs", None, None).0, 401);

    // A wrong token: the form again, no cookie.
    let form_post = ["Content-Type: application/x-www-form-urlencoded"];
    let (status, headers, again) = exchange(
        at,
        "POST",
        "/ui/login",
        &form_post,
        "token=guess&next=%2Fui",
    );
    assert_eq!(status, 401, "{again}");
    assert!(again.contains("does not know that token"), "{again}");
    assert!(header(&headers, "set-cookie").is_none());

    // The read token: a cookie, HttpOnly and SameSite=Strict, and on to the page.
    let (status, headers, _) = exchange(
        at,
        "POST",
        "/ui/login",
        &form_post,
        "token=read-secret&next=%2Fui%2Fruns%2Fr1",
    );
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/ui/runs/r1"));
    let set = header(&headers, "set-cookie").unwrap().to_string();
    assert!(set.starts_with("pfi_token=read-secret;"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = format!("Cookie: {}", set.split(';').next().unwrap());
    let (status, _, page) = exchange(at, "GET", "/ui", &[&cookie], "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>pfi serve</h1>"), "{page}");
    let (status, _, runs) = exchange(at, "GET", "/v1/runs", &[&cookie], "");
    assert_eq!(status, 200, "{runs}");
    let (status, _, _) = exchange(at, "GET", "/ui", &["Cookie: pfi_token=guess"], "");
    assert_eq!(status, 303);

    // An operator's cookie never writes: a POST needs the header.
    let (status, headers, _) = exchange(
        at,
        "POST",
        "/ui/login",
        &form_post,
        "token=op+secret%3B%3D&next=%2Fui",
    );
    assert_eq!(status, 303);
    let op_cookie = format!(
        "Cookie: {}",
        header(&headers, "set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
    );
    let check = json!({ "scenario": "experiment \"x\" {\n  duration 1s\n}\n" }).to_string();
    let (status, _, body) = exchange(
        at,
        "POST",
        "/v1/check",
        &[&op_cookie, "Content-Type: application/json"],
        &check,
    );
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = exchange(
        at,
        "POST",
        "/v1/check",
        &[
            "Authorization: Bearer op secret;=",
            "Content-Type: application/json",
        ],
        &check,
    );
    assert_ne!(status, 401, "{body}");

    // `?token=` on a page: the cookie, and the same page without the token.
    let (status, headers, _) = exchange(at, "GET", "/ui?token=read-secret", &[], "");
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/ui"));
    assert!(
        header(&headers, "set-cookie")
            .unwrap()
            .starts_with("pfi_token=read-secret;")
    );
}

/// Opens `url` in headless Chromium (its DOM once loaded; `timeout_ms` at most) and takes a
/// screenshot into `png`: the DOM and the console lines. `None`: Chromium is not installed.
/// (A virtual-time budget would wait for the network to go idle, which a live page's event
/// stream never does before the run ends.)
fn chromium(url: &str, png: &Path, timeout_ms: u32) -> Option<(String, Vec<String>)> {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
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
    let run = |mode: &str| {
        let output = std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1100,2400",
            ])
            .arg(format!("--timeout={timeout_ms}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(mode)
            .arg(url)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "chromium failed: {stderr}");
        (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
    };
    let (dom, dom_log) = run("--dump-dom");
    let (_, shot_log) = run(&format!("--screenshot={}", png.display()));
    let console = dom_log
        .lines()
        .chain(shot_log.lines())
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    Some((dom, console))
}

#[test]
fn chromium_renders_the_dashboard_and_a_live_run_page_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let (running, _) = server.submit(&scenario(free_port(), "60s", FREEZE));
    let mut stream = EventStream::open(server.address, &running);
    stream.until("fault freeze (");
    while stream.next().is_some_and(|(event, _)| event != "sample") {}
    let index = dir.path().join("ui.png");
    let Some((dom, console)) = chromium(&format!("{}/ui", server.url()), &index, 4000) else {
        return;
    };
    assert!(console.is_empty(), "console messages on /ui: {console:?}");
    assert!(
        dom.contains(&format!("href=\"/ui/runs/{running}\"")),
        "{dom}"
    );
    assert!(std::fs::metadata(&index).unwrap().len() > 0);
    let live = dir.path().join("live.png");
    let (dom, console) =
        chromium(&format!("{}/ui/runs/{running}", server.url()), &live, 4000).unwrap();
    assert!(
        console.is_empty(),
        "console messages on the live page: {console:?}"
    );
    assert!(std::fs::metadata(&live).unwrap().len() > 0);
    // The live page as the browser built it: the charts so far, the events, the script.
    assert!(dom.contains("id=\"live\">Live: "), "{dom}");
    assert!(
        dom.contains("<div id=\"charts\" data-refreshes=\"0\">")
            && dom.contains("data-fault=\"freeze\""),
        "{dom}"
    );
    assert!(
        dom.contains("section class=\"probe\" data-probe=\"ping\""),
        "{dom}"
    );
    assert!(dom.contains("addEventListener('sample'"), "{dom}");
    let (status, _) = server.post(&format!("/v1/runs/{running}/abort"), &json!({}));
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(&running)["status"], "aborted");
}

#[test]
fn in_chromium_the_live_charts_are_redrawn_after_each_sample() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("state"), &[]);
    let (running, _) = server.submit(&scenario(free_port(), "60s", FREEZE));
    let mut stream = EventStream::open(server.address, &running);
    stream.until("fault freeze (");
    while stream.next().is_some_and(|(event, _)| event != "sample") {}
    let Some(mut browser) = super::devtools::DevTools::launch() else {
        return;
    };
    // The charts as the server draws them now: the browser's page starts from a drawing at
    // least this late.
    let (status, page) = raw(
        server.address,
        "GET",
        &format!("/ui/runs/{running}"),
        None,
        None,
    );
    assert_eq!(status, 200);
    let drawn_at = |html: &str| -> f64 {
        let at = html
            .split("data-at-ms=\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{html}"));
        at[..at.find('"').unwrap()].parse().unwrap()
    };
    let served_at = drawn_at(&page);
    let tab = browser.open(&format!("{}/ui/runs/{running}", server.url()));
    let state = "(function () { var c = document.getElementById('charts'); \
                 var d = c && c.querySelector('.live-charts'); \
                 return { refreshes: c ? +c.getAttribute('data-refreshes') : -1, \
                 at: d ? +d.getAttribute('data-at-ms') : -1, \
                 probes: c ? c.querySelectorAll('section.probe svg').length : 0, \
                 faults: c ? c.querySelectorAll('[data-fault=\"freeze\"]').length : 0, \
                 note: (document.getElementById('live') || {}).textContent }; })()";
    let loaded = browser.wait_for(&tab, state, Duration::from_secs(20), |v| {
        v["at"].as_f64().unwrap_or(-1.0) >= 0.0
    });
    let before = loaded["refreshes"].as_i64().unwrap();
    // Two samples later (about one a second), the script fetched the charts again and put
    // them in the page: a later drawing, still with the probe's charts and the fault.
    let later = browser.wait_for(&tab, state, Duration::from_secs(20), |v| {
        v["refreshes"].as_i64().unwrap_or(0) >= before + 2
    });
    let (first, now) = (
        loaded["at"].as_f64().unwrap(),
        later["at"].as_f64().unwrap(),
    );
    assert!(first >= served_at, "{loaded} before {served_at}");
    assert!(now > first + 500.0, "not redrawn: {loaded} then {later}");
    assert!(later["probes"].as_u64().unwrap() >= 2, "{later}");
    assert!(later["faults"].as_u64().unwrap() >= 1, "{later}");
    let note = later["note"].as_str().unwrap();
    assert!(
        note.starts_with("Live: ") && note.contains("s of 60s, faults, active: freeze"),
        "{note}"
    );
    assert!(browser.console.is_empty(), "{:?}", browser.console);
    let (status, _) = server.post(&format!("/v1/runs/{running}/abort"), &json!({}));
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(&running)["status"], "aborted");
}

/// A real HTTP receiver on 127.0.0.1:0 for `--webhook`: its URL, and each JSON body posted to
/// it (answered 200).
fn webhook_receiver() -> (String, Receiver<Value>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/pfi", listener.local_addr().unwrap());
    let (sender, received) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut length = 0;
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            assert!(
                request_line.starts_with("POST /hooks/pfi "),
                "{request_line}"
            );
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if sender
                .send(serde_json::from_slice(&body).unwrap_or(Value::Null))
                .is_err()
            {
                return;
            }
        }
    });
    (url, received)
}

//! Mitigation in `pfi run`, end to end through the real binary: `experiments/predict-mitigate.pfi`
//! (on free ports) fails over to its standby before the leaking API dies and passes; the same
//! scenario without its `mitigate` rule fails its error-rate threshold; and a `when` rule's
//! alert POSTs to a real local webhook during a run.

use super::support::{demo_bin, free_port, pfi, run_with_journal as run};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

/// The shipped experiment, on free ports, with the demo binary's full path; without its
/// `mitigate` rule when `mitigate` is false.
fn experiment(mitigate: bool) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/predict-mitigate.pfi");
    let mut text = std::fs::read_to_string(path).unwrap();
    for port in ["17050", "17051", "17052", "17053"] {
        text = text.replace(port, &free_port().to_string());
    }
    text = text.replace("\"pfi-demo\"", &format!("\"{}\"", demo_bin()));
    if !mitigate {
        let start = text
            .find("\nmitigate on")
            .expect("the experiment has a mitigate rule");
        let end = start + text[start..].find("\n}").unwrap() + 2;
        text.replace_range(start..end, "");
        assert!(!text.contains("mitigate "));
    }
    text
}

fn threshold<'a>(report: &'a Value, text: &str) -> &'a Value {
    report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["text"] == text)
        .unwrap_or_else(|| panic!("no threshold {text}: {report}"))
}

#[test]
fn predict_mitigate_fails_over_to_the_standby_before_the_leaking_api_dies() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, report) = run(dir.path(), &experiment(true));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        threshold(&report, "checkout.error_rate < 5%")["passed"],
        true
    );
    let firings = report["mitigations"].as_array().unwrap();
    let fired = |prefix: &str| {
        firings
            .iter()
            .find(|f| f["action"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {firings:?}"))
            .clone()
    };
    let activate = fired("activate api_standby");
    let shift = fired("shift front");
    for f in [&activate, &shift] {
        assert_eq!(f["ok"], true, "{f}");
        assert_eq!(f["trigger"], "predicted(memory_leak)");
        assert!(f["confidence"].as_f64().unwrap() >= 0.7, "{f}");
        assert!(
            f["prediction"]
                .as_str()
                .unwrap()
                .starts_with("memory_leak on api")
        );
    }
    // The leaking API did die, after the failover.
    let leak = report["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "memory_leak")
        .unwrap_or_else(|| panic!("no memory_leak prediction: {report}"));
    let died = leak["happened_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("the API did not die: {leak}"));
    assert!(
        shift["at_ms"].as_f64().unwrap() < died,
        "shifted at {} but the API died at {died}",
        shift["at_ms"]
    );
    assert!(stdout.contains("mitigations: 3"), "{stdout}");
    // The shift was undone at the end, and the journal says so.
    let events = report["events"].to_string();
    assert!(reverted(&report, "shift front"), "{events}");
}

#[test]
fn predict_mitigate_without_its_rule_fails_the_error_rate_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, report) = run(dir.path(), &experiment(false));
    assert_eq!(code, 1, "{stdout}");
    let verdict = threshold(&report, "checkout.error_rate < 5%");
    assert_eq!(verdict["passed"], false, "{verdict}");
    assert!(verdict["measured"].as_f64().unwrap() > 0.10, "{verdict}");
    assert!(report["mitigations"].as_array().unwrap().is_empty());
}

/// A minimal HTTP server: accepts one request, answers 200, returns the request.
fn webhook() -> (u16, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(head) = text.find("\r\n\r\n") {
                let length = text[..head]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if request.len() >= head + 4 + length {
                    break;
                }
            }
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        String::from_utf8_lossy(&request).into_owned()
    });
    (port, handle)
}

#[test]
fn a_when_rule_alert_posts_to_a_real_webhook_during_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = webhook();
    let backend = free_port();
    let demo = demo_bin();
    let text = format!(
        r#"experiment "webhook" {{
  duration 3s
  seed 1
  baseline 1s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
probe reach: tcp 127.0.0.1:{backend} every 100ms timeout 1s
mitigate when reach.error_rate < 50% {{
  alert "backend reachable" webhook "http://127.0.0.1:{hook}/hook"
}}
threshold reach.error_rate < 50%
"#
    );
    let (code, stdout, report) = run(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    let request = received.join().unwrap();
    assert!(request.starts_with("POST /hook "), "{request}");
    let body: Value = serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..])
        .unwrap_or_else(|e| panic!("{e}: {request}"));
    assert_eq!(body["message"], "backend reachable");
    assert_eq!(body["trigger"], "when <condition>");
    let firing = &report["mitigations"][0];
    assert_eq!(firing["ok"], true, "{firing}");
    assert!(
        firing["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("POSTed to http://127.0.0.1:{hook}/hook (200)")),
        "{firing}"
    );
}

#[test]
fn scale_rehearse_and_restart_go_through_the_ledger_and_are_undone() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, front) = (free_port(), free_port());
    let demo = demo_bin();
    let text = format!(
        r#"experiment "actions" {{
  duration 6s
  seed 1
  baseline 1s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
link front: tcp 127.0.0.1:{front} -> backend:{backend}
fault slow: latency on front {{
  delay 300ms
  at 5s
  probability 0
}}
probe reach: tcp 127.0.0.1:{front} every 100ms timeout 1s
mitigate when reach.count > 3 {{
  scale backend cpu 0.5
  rehearse slow at 50%
  restart backend
}}
threshold reach.error_rate < 50%
"#
    );
    let (code, stdout, report) = run(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    let firings = report["mitigations"].as_array().unwrap();
    assert_eq!(firings.len(), 3, "{firings:?}");
    let outcome = |i: usize| firings[i]["outcome"].as_str().unwrap().to_string();
    assert_eq!(firings[0]["action"], "scale backend cpu 0.5");
    assert_eq!(firings[0]["ok"], true, "{}", outcome(0));
    assert!(outcome(0).contains("limit set"), "{}", outcome(0));
    // The rehearsal is judged either way; a link toxic at half toxicity.
    assert!(
        outcome(1).contains("rehearsal of slow (toxicity 50%)"),
        "{}",
        outcome(1)
    );
    assert!(
        outcome(1).contains("held") || outcome(1).contains("broke"),
        "{}",
        outcome(1)
    );
    assert_eq!(firings[2]["ok"], true, "{}", outcome(2));
    assert!(report["teardown_errors"].as_array().unwrap().is_empty());
    let events = report["events"].to_string();
    assert!(reverted(&report, "scale backend cpu"), "{events}");
    // Everything was in the ledger before it was applied, and marked reverted.
    let ledger = std::fs::read_to_string(report["ledger"].as_str().unwrap()).unwrap();
    for needle in [
        "scale backend cpu=0.5",
        "rehearsal of slow",
        "restart backend",
    ] {
        assert!(ledger.contains(needle), "{needle} not in {ledger}");
    }
}

#[test]
fn sigterm_stops_the_engine_and_undoes_its_mitigations() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (backend, standby) = (free_port(), free_port());
    let demo = demo_bin();
    let text = format!(
        r#"experiment "interrupted" {{
  duration 60s
  seed 1
  baseline 1s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
resource spare: process ["{demo}", "backend", "--port", "{standby}"] {{
  standby
  ready tcp 127.0.0.1:{standby} within 10s
}}
probe reach: tcp 127.0.0.1:{backend} every 100ms timeout 1s
mitigate when reach.count > 3 {{
  activate spare
  scale backend cpu 0.5
}}
"#
    );
    let file = dir.path().join("scenario.pfi");
    std::fs::write(&file, text).unwrap();
    let journal = dir.path().join("journal.json");
    let mut child = pfi()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--journal")
        .arg(&journal)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr to the end in a thread (a closed pipe would fail pfi's own writes).
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut spare_pid = None;
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(30)) {
        seen.push(line.clone());
        if let Some(rest) = line.split("spare ready (pid ").nth(1) {
            spare_pid = rest.trim_end_matches(')').parse::<i32>().ok();
        }
        if line.contains("mitigation scale backend cpu") {
            break;
        }
    }
    let spare_pid = spare_pid.unwrap_or_else(|| panic!("{}", seen.join("\n")));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("interrupted: SIGTERM"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(report["mitigations"].as_array().unwrap().len(), 2);
    assert!(report["teardown_errors"].as_array().unwrap().is_empty());
    let events = report["events"].to_string();
    assert!(reverted(&report, "scale backend cpu"), "{events}");
    // Events are typed: the activated standby's stop is a `resource_stopped` event.
    assert!(
        report["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "resource_stopped" && e["resource"] == "spare"),
        "{events}"
    );
    // The activated standby is gone (or a zombie awaiting its reaper).
    let state = std::fs::read_to_string(format!("/proc/{spare_pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "spare still running: {state}"
    );
    let ledger = std::fs::read_to_string(report["ledger"].as_str().unwrap()).unwrap();
    assert!(ledger.contains("\"run_finished\""), "{ledger}");
}

/// Whether the journal has the typed `mitigation_reverted` event of `what`.
fn reverted(report: &Value, what: &str) -> bool {
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "mitigation_reverted" && e["what"] == what)
}

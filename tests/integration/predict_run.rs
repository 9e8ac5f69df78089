//! `pfi run` with telemetry and a `predict` block, end to end: the real `pfi` binary starting
//! real `pfi-demo` processes; thresholds judged on their telemetry; a leaking API predicted
//! before it dies, and a healthy one never.

use super::support::{demo_bin, free_port, run_with_journal as run};
use serde_json::Value;

/// A leaking (or not) API behind a backend, watched for `memory_leak`: a shortened copy of
/// `experiments/predict-leak.pfi`.
fn leak_scenario(leak: bool) -> String {
    let (backend, api) = (free_port(), free_port());
    let demo = demo_bin();
    let leak_args = if leak {
        r#", "--leak-rate", "8MiB/s", "--leak-after", "6s", "--memory-limit", "40MiB", "--exit-at-limit""#
    } else {
        ""
    };
    format!(
        r#"import "std/patterns"
experiment "leak" {{
  duration 8s
  seed 1
  baseline 5s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
resource api: process ["{demo}", "api", "--port", "{api}", "--backend", "127.0.0.1:{backend}"{leak_args}] {{
  ready http "http://127.0.0.1:{api}/health" within 10s
}}
probe checkout: http get "http://127.0.0.1:{api}/checkout" every 200ms timeout 1s
telemetry api_metrics: prometheus "http://127.0.0.1:{api}/metrics" every 500ms
predict {{
  watch api.memory, api.cpu
  use memory_leak
  confidence >= 0.7
}}
threshold api_metrics.pfi_demo_requests_total > 0
threshold api.memory < 1GiB
"#
    )
}

fn predictions(report: &Value, kind: &str) -> Vec<Value> {
    report["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn a_leak_is_predicted_before_the_api_dies_and_a_healthy_api_raises_no_alarm() {
    let leaking = tempfile::tempdir().unwrap();
    let healthy = tempfile::tempdir().unwrap();
    // Both runs at once: they use their own ports and state folders.
    let (leak_path, healthy_path) = (leaking.path().to_path_buf(), healthy.path().to_path_buf());
    let leak_run = std::thread::spawn(move || run(&leak_path, &leak_scenario(true)));
    let (code, stdout, quiet) = run(&healthy_path, &leak_scenario(false));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        predictions(&quiet, "memory_leak").is_empty(),
        "false alarm: {:#}",
        quiet["predictions"]
    );
    assert!(stdout.contains("predictions: 0"), "{stdout}");

    let (_, stdout, report) = leak_run.join().unwrap();
    let made = predictions(&report, "memory_leak");
    assert_eq!(made.len(), 1, "{stdout}\n{:#}", report["predictions"]);
    let p = &made[0];
    assert_eq!(p["resource"], "api");
    let confidence = p["confidence"].as_f64().unwrap();
    assert!((0.7..=1.0).contains(&confidence), "{p:#}");
    let lead = p["lead_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("never came true: {p:#}"));
    assert!(lead > 0.0, "{p:#}");
    assert!(p["evidence"].as_str().unwrap().contains("api"), "{p:#}");
    let memory = p["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "api.memory")
        .unwrap();
    assert_eq!(memory["trend"], "rising");
    assert!(stdout.contains("memory_leak on api at"), "{stdout}");
    assert!(stdout.contains("lead time"), "{stdout}");
    // The scrape of the API's own metrics fed a threshold.
    let scraped = &report["thresholds"][0];
    assert_eq!(scraped["passed"], true, "{scraped:#}");
    assert!(scraped["measured"].as_f64().unwrap() > 0.0);
}

#[test]
fn resource_and_link_thresholds_are_judged_on_telemetry() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, listen) = (free_port(), free_port());
    let demo = demo_bin();
    let text = format!(
        r#"experiment "telemetry" {{
  duration 1500ms
  seed 1
  baseline 500ms
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
link front: tcp 127.0.0.1:{listen} -> backend:{backend}
probe through: tcp 127.0.0.1:{listen} every 50ms timeout 1s
fault cut: down on front {{ at 500ms; lasting 500ms }}
threshold backend.memory < 1GiB
threshold backend.memory > 1MiB
threshold backend.memory < 1KiB
threshold backend.cpu < 100%
threshold backend.restarts == 0
threshold front.requests > 5
threshold front.errors > 0 during cut
threshold front.connections < 10
"#
    );
    let (code, stdout, report) = run(dir.path(), &text);
    assert_eq!(code, 1, "one threshold is meant to fail:\n{stdout}");
    let verdicts = report["thresholds"].as_array().unwrap();
    let verdict = |text: &str| {
        verdicts
            .iter()
            .find(|v| v["text"] == text)
            .unwrap_or_else(|| panic!("no verdict for {text}: {verdicts:#?}"))
    };
    for passing in [
        "backend.memory < 1GiB",
        "backend.memory > 1MiB",
        "backend.cpu < 100%",
        "backend.restarts == 0",
        "front.requests > 5",
        // Named as written, with its scope.
        "front.errors > 0 during cut",
        "front.connections < 10",
    ] {
        assert_eq!(verdict(passing)["passed"], true, "{passing}: {stdout}");
    }
    let tiny = verdict("backend.memory < 1KiB");
    assert_eq!(tiny["passed"], false);
    // The worst sample: the process's resident memory, a few MB.
    let measured = tiny["measured"].as_f64().unwrap();
    assert!(measured > 1e6 && measured < 1e9, "{tiny:#}");
    assert!(stdout.contains("FAIL  backend.memory < 1KiB"), "{stdout}");
}

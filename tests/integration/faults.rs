//! Fault kinds end to end through `pfi run`: a kind's effect seen by a probe, its
//! verification, and what happens when a run is interrupted while a fault is being applied.

use super::support::{demo_bin, free_port, run_with_journal};

/// A scenario with the demo API (HTTP) behind an http link `front`, a probe through the link
/// every 50 ms, and `rest` appended.
fn api_behind_a_link(duration: &str, rest: &str) -> String {
    let port = free_port();
    let listen = free_port();
    let demo = demo_bin();
    format!(
        r#"experiment "faults" {{
  duration {duration}
  seed 1
  baseline 200ms
}}

resource api: process ["{demo}", "api", "--port", "{port}", "--backend", "127.0.0.1:9"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

link front: http 127.0.0.1:{listen} -> api:{port}

probe through: http get "http://127.0.0.1:{listen}/metrics" every 50ms timeout 500ms

{rest}
"#
    )
}

#[test]
fn fail_first_fails_exactly_the_first_requests_then_lets_them_pass() {
    let dir = tempfile::tempdir().unwrap();
    let text = api_behind_a_link(
        "1500ms",
        "fault flaky: fail_first on front {\n  count 3\n  status 503\n  at 300ms\n  lasting 900ms\n}\n",
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    let through = &journal["probes"][0];
    assert_eq!(through["probe"], "through", "{through}");
    assert_eq!(through["baseline"]["error_rate"], 0.0, "{through}");
    let under = &through["under"][0];
    assert_eq!(under[0], "flaky", "{through}");
    let count = under[1]["count"].as_f64().unwrap();
    let errors = (under[1]["error_rate"].as_f64().unwrap() * count).round();
    // ~18 checks under the fault: the first 3 failed, every later one passed.
    assert!(count >= 8.0, "{through}");
    assert_eq!(errors, 3.0, "{through}");
}

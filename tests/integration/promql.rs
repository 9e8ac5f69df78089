//! PromQL telemetry against a real Prometheus server (Debian's `prometheus`; `.ci/run`
//! installs it, the test is skipped with a message without it): Prometheus scrapes the demo
//! API's `/metrics`, and a scenario's `promql` telemetry queries it and feeds a threshold.

use super::support::{demo_bin, free_port, run_with_journal};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// GET `path` on 127.0.0.1:`port`: the status code, 0 when nothing answers.
fn status(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn promql_telemetry_reads_a_real_prometheus_scraping_the_demo() {
    if !installed() {
        eprintln!(
            "skipped: Prometheus is not installed (apt-get install -y prometheus; .ci/run does it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backend, api, prom) = (free_port(), free_port(), free_port());
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:{api}']\n"
        ),
    )
    .unwrap();
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(prom, "/-/ready") != 200 {
        assert!(Instant::now() < deadline, "Prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let demo = demo_bin();
    let text = format!(
        r#"experiment "promql" {{
  duration 8s
  seed 1
  baseline 1s
}}
resource backend: process ["{demo}", "backend", "--port", "{backend}"] {{
  ready tcp 127.0.0.1:{backend} within 10s
}}
resource api: process ["{demo}", "api", "--port", "{api}", "--backend", "127.0.0.1:{backend}"] {{
  ready http "http://127.0.0.1:{api}/health" within 10s
}}
probe checkout: http get "http://127.0.0.1:{api}/checkout" every 100ms timeout 1s
telemetry prom: promql "http://127.0.0.1:{prom}" every 1s {{
  query "sum(pfi_demo_requests_total)"
}}
threshold prom.value > 5
threshold checkout.error_rate < 10%
"#
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    let series = journal["telemetry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["series"] == "prom.value")
        .unwrap_or_else(|| panic!("no prom.value series: {}", journal["telemetry"]));
    let values: Vec<f64> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    // Nothing is recorded before Prometheus first scraped the api (no data is not zero).
    assert!(values.len() >= 2, "{values:?}");
    // The demo's request counter as Prometheus scraped it: it grows while the probe checks.
    assert!(
        values.last().unwrap() > values.first().unwrap(),
        "{values:?}"
    );
    let threshold = journal["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "prom.value")
        .unwrap();
    assert_eq!(threshold["passed"], true, "{threshold}");
    assert!(threshold["measured"].as_f64().unwrap() > 5.0, "{threshold}");
}

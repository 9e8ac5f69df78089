//! `pfi-demo`: the real binary, driven as a user would.

use crate::support::{demo_bin, gauge, http_get, start_api, start_backend};
use pfi::targets::{Exit, StopOutcome};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[test]
fn prints_where_it_listens_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(demo_bin())
        .args(["backend", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(address.ip().to_string(), "127.0.0.1");
    assert_ne!(address.port(), 0);
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn every_mode_has_help_and_bad_arguments_exit_2() {
    for mode in ["backend", "api"] {
        let output = Command::new(demo_bin())
            .args([mode, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("--port"), "{help}");
    }
    let output = Command::new(demo_bin())
        .args(["api", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--backend"));
    let output = Command::new(demo_bin())
        .args([
            "api",
            "--port",
            "0",
            "--backend",
            "x:1",
            "--latency",
            "5 parsecs",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn backend_speaks_the_line_protocol() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let stream = tokio::net::TcpStream::connect(backend.listen_addr().unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    write.write_all(b"PING\nGET cart\nFLY\n").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "PONG");
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "VALUE cart 1");
    assert!(
        lines
            .next_line()
            .await
            .unwrap()
            .unwrap()
            .starts_with("ERR unknown command")
    );
    let outcome = backend.stop().await.unwrap();
    assert!(
        matches!(
            outcome,
            StopOutcome::Stopped {
                exit: Exit::Code(0),
                forced: false,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn api_serves_health_checkout_and_metrics_and_degrades_without_its_backend() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(
        logs.path(),
        backend.listen_addr().unwrap(),
        &["--latency", "5ms"],
    )
    .await;
    let address = api.listen_addr().unwrap();

    assert_eq!(
        http_get(address, "/health").await,
        (200, "ok\n".to_string())
    );
    let (status, body) = http_get(address, "/checkout").await;
    assert_eq!(status, 200);
    assert_eq!(body, "checkout ok: VALUE checkout 1\n");
    assert_eq!(http_get(address, "/nowhere").await.0, 404);

    backend.stop().await.unwrap();
    let (status, body) = http_get(address, "/health").await;
    assert_eq!(status, 503);
    assert!(
        body.starts_with("backend unreachable: cannot connect"),
        "{body}"
    );
    let (status, body) = http_get(address, "/checkout").await;
    assert_eq!(status, 502);
    assert!(body.contains("Connection refused"), "{body}");

    let (status, metrics) = http_get(address, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("pfi_demo_requests_total{route=\"/checkout\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pfi_demo_errors_total{route=\"/checkout\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pfi_demo_requests_total{route=\"other\"} 1\n"),
        "{metrics}"
    );
    assert!(gauge(&metrics, "pfi_demo_rss_bytes") > 1_000_000.0);
    assert_eq!(gauge(&metrics, "pfi_demo_leaked_bytes"), 0.0);
    api.stop().await.unwrap();
}

#[tokio::test]
async fn a_slow_backend_makes_checkout_time_out_with_504() {
    let logs = tempfile::tempdir().unwrap();
    let backend = crate::support::demo_spec(
        "backend",
        logs.path(),
        &["backend", "--port", "0", "--latency", "3s"],
    );
    let backend = pfi::targets::ProcessTarget::new(backend).unwrap();
    backend.start().await.unwrap();
    let api = start_api(
        logs.path(),
        backend.listen_addr().unwrap(),
        &["--backend-timeout", "200ms"],
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) = http_get(api.listen_addr().unwrap(), "/checkout").await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("did not answer within 200ms"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // PING is not delayed: the API is healthy.
    assert_eq!(http_get(api.listen_addr().unwrap(), "/health").await.0, 200);
}

#[tokio::test]
async fn the_leak_grows_real_memory_then_fails_requests_at_the_limit() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(
        logs.path(),
        backend.listen_addr().unwrap(),
        &["--leak-rate", "40MiB/s", "--memory-limit", "24MiB"],
    )
    .await;
    let address = api.listen_addr().unwrap();
    // The leak starts with the process: by this first look (later on a loaded machine) some
    // of it is already resident, and is counted as such.
    let at_start = http_get(address, "/metrics").await.1;
    let rss_at_start = gauge(&at_start, "pfi_demo_rss_bytes");
    let leaked_at_start = gauge(&at_start, "pfi_demo_leaked_bytes");
    let mut exhausted = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !exhausted {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leak never reached its limit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        exhausted = http_get(address, "/checkout").await.0 == 503;
    }
    let (status, body) = http_get(address, "/health").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("out of memory"), "{body}");
    let metrics = http_get(address, "/metrics").await.1;
    assert_eq!(gauge(&metrics, "pfi_demo_leaked_bytes"), (24 << 20) as f64);
    let rss = gauge(&metrics, "pfi_demo_rss_bytes");
    // What leaked since the first look is resident (less 4 MiB for the allocator's slack).
    let leaked_since = (24 << 20) as f64 - leaked_at_start;
    assert!(
        rss >= rss_at_start + leaked_since - (4 << 20) as f64,
        "rss {rss_at_start} -> {rss}, {leaked_since} bytes leaked since"
    );
    api.stop().await.unwrap();
}

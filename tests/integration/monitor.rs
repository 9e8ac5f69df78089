//! Probes, telemetry and the metrics store against real `pfi-demo` processes.

use crate::support::{argv, start_api, start_backend};
use pfi::monitor::{
    CommandProbe, ExpectedStatus, HttpProbe, MetricsStore, Probe, ProcTelemetry, Selection,
    TcpProbe, observe, run_probe,
};
use pfi::targets::{ProcessSpec, ProcessTarget};
use std::sync::Arc;
use std::time::Duration;

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn http_probe_sees_health_and_a_failing_checkout() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(logs.path(), backend.listen_addr().unwrap(), &[]).await;
    let base = format!("http://{}", api.listen_addr().unwrap());
    let timeout = Duration::from_secs(5);
    let clock = MetricsStore::new().clock();

    let health = HttpProbe::new(
        "GET",
        &format!("{base}/health"),
        ExpectedStatus::Success,
        timeout,
    )
    .unwrap();
    let observation = observe(&health, &clock).await;
    assert!(observation.success, "{}", observation.detail);
    assert_eq!(observation.detail, "200 OK");
    assert!(observation.latency < timeout);

    backend.stop().await.unwrap();
    let checkout = HttpProbe::new(
        "GET",
        &format!("{base}/checkout"),
        ExpectedStatus::Success,
        timeout,
    )
    .unwrap();
    let check = checkout.check().await;
    assert!(!check.success);
    assert_eq!(check.detail, "status 502 Bad Gateway, expected 2xx");
    let expecting_502 = HttpProbe::new(
        "GET",
        &format!("{base}/checkout"),
        ExpectedStatus::Exact(502),
        timeout,
    )
    .unwrap();
    assert!(expecting_502.check().await.success);

    let closed = HttpProbe::new(
        "GET",
        &format!("http://{}/", closed_port()),
        ExpectedStatus::Success,
        timeout,
    )
    .unwrap();
    let check = closed.check().await;
    assert!(!check.success);
    assert!(
        check.detail.contains("Connection refused"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn an_http_probe_times_out_on_a_paused_service() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(logs.path(), backend.listen_addr().unwrap(), &[]).await;
    api.signal_group(pfi::targets::Signal::STOP).unwrap();
    let url = format!("http://{}/health", api.listen_addr().unwrap());
    let probe = HttpProbe::new(
        "GET",
        &url,
        ExpectedStatus::Success,
        Duration::from_millis(300),
    )
    .unwrap();
    let observation = observe(&probe, &MetricsStore::new().clock()).await;
    assert!(!observation.success);
    assert_eq!(observation.detail, "timed out after 300 ms");
    assert!(observation.latency >= Duration::from_millis(300));
    api.signal_group(pfi::targets::Signal::CONT).unwrap();
}

#[tokio::test]
async fn tcp_and_command_probes_against_real_services() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let address = backend.listen_addr().unwrap().to_string();
    let tcp = TcpProbe::new(address.clone(), Duration::from_secs(2));
    assert!(tcp.check().await.success);
    let closed = TcpProbe::new(closed_port(), Duration::from_secs(2));
    assert!(!closed.check().await.success);

    // Command probes judge by exit status: the logs folder exists, a made-up one does not.
    let logs_dir = logs.path().to_string_lossy().into_owned();
    let command =
        CommandProbe::new(argv(&["test", "-d", &logs_dir]), Duration::from_secs(2)).unwrap();
    assert!(command.check().await.success);
    let missing = CommandProbe::new(
        argv(&["test", "-d", "/pfi/no/such/dir"]),
        Duration::from_secs(2),
    )
    .unwrap();
    let check = missing.check().await;
    assert!(!check.success);
    assert_eq!(check.detail, "exit status 1");
}

#[tokio::test]
async fn probe_loops_fill_the_store_with_baseline_and_fault_phases() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(logs.path(), backend.listen_addr().unwrap(), &[]).await;
    let url = format!("http://{}/checkout", api.listen_addr().unwrap());
    let probe: Arc<dyn Probe> = Arc::new(
        HttpProbe::new("GET", &url, ExpectedStatus::Success, Duration::from_secs(2)).unwrap(),
    );
    let store = MetricsStore::new();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let looping = tokio::spawn(run_probe(
        "checkout".into(),
        probe,
        Duration::from_millis(50),
        store.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let wait_for = |n: u64, selection: Selection| {
        let store = store.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while store
                .probe_summary("checkout", &selection)
                .map_or(0, |s| s.count)
                < n
            {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "too few observations"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(5, Selection::all().baseline()).await;
    store.fault_started("backend-down");
    backend.stop().await.unwrap();
    wait_for(5, Selection::all().under("backend-down")).await;
    stop_tx.send(()).unwrap();
    looping.await.unwrap();

    let baseline = store
        .probe_summary("checkout", &Selection::all().baseline())
        .unwrap();
    assert_eq!(baseline.failures, 0);
    assert_eq!(baseline.availability, 1.0);
    let under = store
        .probe_summary("checkout", &Selection::all().under("backend-down"))
        .unwrap();
    // The first observations under the fault may precede the stop: most fail, not all.
    assert!(under.error_rate > 0.5, "{under:?}");
    let all = store.probe_summary("checkout", &Selection::all()).unwrap();
    assert_eq!(all.count, baseline.count + under.count);
    assert!(all.latency.p50 <= all.latency.p99 && all.latency.p99 <= all.latency.max);
}

#[tokio::test]
async fn telemetry_reads_cpu_and_memory_and_follows_restarts() {
    let logs = tempfile::tempdir().unwrap();
    let busy = ProcessTarget::new(ProcessSpec::new(
        "busy",
        argv(&["sha256sum", "/dev/zero"]),
        logs.path(),
    ))
    .unwrap();
    busy.start().await.unwrap();
    let store = MetricsStore::new();
    let source = busy.clone();
    let mut telemetry = ProcTelemetry::following("busy", move || source.pid());
    let first = telemetry.sample(&store).unwrap();
    assert_eq!(first.pid, busy.pid().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = telemetry.sample(&store).unwrap();
    // A busy loop on a shared machine: well above idle, at most one core (plus slack).
    let cpu = second.cpu_percent.unwrap();
    assert!(cpu > 10.0 && cpu < 115.0, "cpu {cpu}");
    assert!(second.rss_bytes > 0);

    busy.restart().await.unwrap();
    let after = telemetry.sample(&store).unwrap();
    assert_eq!(after.pid, busy.pid().unwrap());
    assert!(
        after.cpu_percent.is_none(),
        "a new process starts a new baseline"
    );
    busy.stop().await.unwrap();
    assert!(telemetry.sample(&store).is_none());
    assert_eq!(
        store
            .series_summary("busy.memory", &Selection::all())
            .unwrap()
            .count,
        3
    );
}

#[tokio::test]
async fn telemetry_sees_a_leak_grow() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(
        logs.path(),
        backend.listen_addr().unwrap(),
        &["--leak-rate", "32MiB/s", "--memory-limit", "48MiB"],
    )
    .await;
    let store = MetricsStore::new();
    let mut telemetry = ProcTelemetry::for_pid("api", api.pid().unwrap());
    let before = telemetry.sample(&store).unwrap().rss_bytes;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = telemetry.sample(&store).unwrap().rss_bytes;
    assert!(after >= before + (20 << 20), "rss {before} -> {after}");
}

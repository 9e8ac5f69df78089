//! The API's latency under 1,000 requests/s of mixed reads — a run's record, the run list,
//! `/healthz`, `/metrics` — next to a bare axum handler answering a small JSON object, served
//! and loaded in the same process, in alternating rounds. Open loop: each request is due at
//! its slot and its latency counts from then, so a slow answer delays none of the others'
//! clocks. Bounded: 4 rounds of 10 s.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pfi::serve::ServeConfig;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const RATE: u64 = 1_000;
const ROUND: Duration = Duration::from_secs(10);
const RUNS: usize = 20;

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Servers on their own runtime and threads; the load generator on another.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (pfi_address, bare_address) = server_runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pfi_address = listener.local_addr().unwrap();
        let config = ServeConfig::new(dir.path().to_path_buf());
        tokio::spawn(pfi::serve::run(
            listener,
            config,
            std::future::pending::<String>(),
        ));
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_address = bare.local_addr().unwrap();
        let router = Router::new().route(
            "/v1/runs/x",
            get(|| async { axum::Json(serde_json::json!({"id": "x", "status": "passed"})) }),
        );
        tokio::spawn(async move { axum::serve(bare, router).await });
        (pfi_address, bare_address)
    });
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    client_runtime.block_on(async move {
        let ids = seed_runs(pfi_address).await;
        println!(
            "serve bench: {RATE} req/s open loop, {} s rounds; {RUNS} finished runs stored",
            ROUND.as_secs()
        );
        let mut pfi_all = Vec::new();
        let mut bare_all = Vec::new();
        for round in 0..2 {
            let bare = load(bare_address, |_| "/v1/runs/x".to_string()).await;
            let mixed = load(pfi_address, |i| match i % 10 {
                0..=3 => format!("/v1/runs/{}", ids[i % ids.len()]),
                4..=6 => "/v1/runs?limit=20".to_string(),
                7 | 8 => "/healthz".to_string(),
                _ => "/metrics".to_string(),
            })
            .await;
            println!(
                "round {}: pfi mixed reads {}   bare axum {}",
                round + 1,
                figures(&mixed),
                figures(&bare)
            );
            pfi_all.extend(mixed);
            bare_all.extend(bare);
        }
        let (p, b) = (percentile(&mut pfi_all, 0.99), percentile(&mut bare_all, 0.99));
        println!(
            "api p99 (mixed reads, {} requests) {:>8.3} ms   baseline bare axum p99 {:>8.3} ms   ratio {:.2}",
            pfi_all.len(),
            p,
            b,
            p / b
        );
    });
}

/// Submits `RUNS` small runs (no resources, a tcp probe on the server itself) and waits for
/// them, so the reads have records to read.
async fn seed_runs(address: SocketAddr) -> Vec<String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<Bytes>>();
    let scenario = format!(
        "experiment \"bench\" {{\n  duration 300ms\n  seed 1\n}}\n\
         probe self: tcp {address} every 50ms timeout 200ms\n\
         threshold self.error_rate < 50%\n"
    );
    let mut ids = Vec::new();
    for _ in 0..RUNS {
        let body = serde_json::json!({ "scenario": scenario }).to_string();
        let request = hyper::Request::post(format!("http://{address}/v1/runs"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(body)))
            .unwrap();
        let response = client.request(request).await.expect("submit");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        ids.push(value["id"].as_str().expect("a run id").to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let request = hyper::Request::get(format!("http://{address}/v1/runs/{id}"))
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap();
            let response = client.request(request).await.expect("get");
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            if value["finished_ms"].is_i64() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    ids
}

/// `RATE` requests a second for `ROUND`; each latency in ms, from its due time.
async fn load(address: SocketAddr, path: impl Fn(usize) -> String) -> Vec<f64> {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http::<Empty<Bytes>>();
    let total = (RATE * ROUND.as_secs()) as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_micros(i as u64 * 1_000_000 / RATE);
        tokio::time::sleep_until(due).await;
        let client = client.clone();
        let uri = format!("http://{address}{}", path(i));
        tasks.push(tokio::spawn(async move {
            let request = hyper::Request::get(uri).body(Empty::new()).unwrap();
            let ok = match client.request(request).await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.into_body().collect().await.is_ok() && ok
                }
                Err(_) => false,
            };
            (ok, due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for task in tasks {
        match task.await {
            Ok((true, ms)) => latencies.push(ms),
            _ => failed += 1,
        }
    }
    if failed > 0 {
        println!("  {failed} request(s) failed");
    }
    latencies
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return f64::NAN;
    }
    values[((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1]
}

fn figures(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    format!(
        "p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
        percentile(&mut sorted, 0.5),
        percentile(&mut sorted, 0.99),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

//! The API's latency under 1,000 requests/s of mixed reads — a run's record, the run list,
//! `/healthz`, `/metrics` — next to a bare axum handler answering a small JSON object, served
//! and loaded in the same process, in alternating rounds. Open loop: each request is due at
//! its slot and its latency counts from then, so a slow answer delays none of the others'
//! clocks. Bounded: 4 rounds of 10 s.
//!
//! Then the watch figures: how many watched series one core's prediction loop sustains at
//! 1 Hz, the sample-to-prediction latency in process, and the same end to end over HTTP and
//! Server-Sent Events (see `series_per_core`, `sample_to_prediction` and `sample_to_sse`);
//! `PFI_SERVE_BENCH=watch` runs only those, `PFI_SERVE_BENCH=sse` only the two latencies.

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
    // `PFI_SERVE_BENCH=watch`: only the watch figures (series per core, sample to prediction,
    // end to end over SSE); `PFI_SERVE_BENCH=sse`: only the two sample-to-prediction figures.
    match std::env::var("PFI_SERVE_BENCH").as_deref() {
        Ok("watch") => {
            series_per_core();
            let channel = sample_to_prediction();
            sample_to_sse(channel);
            return;
        }
        Ok("sse") => {
            let channel = sample_to_prediction();
            sample_to_sse(channel);
            return;
        }
        _ => {}
    }
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
    drop(server_runtime);
    series_per_core();
    let channel = sample_to_prediction();
    sample_to_sse(channel);
}

/// A checked plan watching `n` resources' memory with the standard `memory_leak` pattern,
/// predicting every `every`.
fn watch_plan(dir: &std::path::Path, n: usize, every: &str, baseline: &str) -> pfi::plan::Plan {
    let mut text = format!(
        "import \"std/patterns\"\nexperiment \"bench\" {{\n  duration 10m\n  seed 1\n  baseline {baseline}\n}}\n"
    );
    for i in 0..n {
        text.push_str(&format!("resource r{i}: process [\"/bin/true\"] {{\n}}\n"));
    }
    let watched: Vec<String> = (0..n).map(|i| format!("r{i}.memory")).collect();
    text.push_str(&format!(
        "predict {{\n  watch {}\n  use memory_leak\n  confidence >= 0.7\n  every {every}\n}}\n",
        watched.join(", ")
    ));
    let path = dir.join(format!("watch-{n}.pfi"));
    std::fs::write(&path, text).expect("the scenario is written");
    let checked = pfi::check::check_file(&path);
    checked.plan.expect("the generated scenario checks")
}

/// How many watched series one core sustains at 1 Hz: the prediction loop's step (detector,
/// trend and pattern per series) over `N` series, one new sample each per step, on simulated
/// 1 s ticks (no sleeping: the CPU time per step is what is measured), one thread. A fifth of
/// the series leak, so patterns match and predictions are made. Baseline in the same run:
/// recording the same samples into the store without predicting.
fn series_per_core() {
    use pfi::monitor::MetricsStore;
    use pfi::predict::live::PredictionLoop;
    const N: usize = 2_000;
    const WARM: u64 = 40;
    const MEASURED: u64 = 60;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let plan = watch_plan(dir.path(), N, "1s", "10s");
    let store = MetricsStore::new();
    let mut predictor = PredictionLoop::new(&plan)
        .expect("the detector builds")
        .expect("a predict block");
    let names: Vec<String> = (0..N).map(|i| format!("r{i}.memory")).collect();
    let value = |i: usize, t: u64| -> f64 {
        let base = 50e6 + (i as f64) * 1e3 + ((t * 7 + i as u64) % 13) as f64 * 1e4;
        if i % 5 == 0 && t > WARM {
            base + (t - WARM) as f64 * 4e6
        } else {
            base
        }
    };
    let mut predictions = 0;
    let mut step_time = Duration::ZERO;
    let mut record_time = Duration::ZERO;
    for t in 0..WARM + MEASURED {
        let at = Duration::from_secs(t);
        let began = Instant::now();
        for (i, name) in names.iter().enumerate() {
            store.record(name, at, value(i, t));
        }
        let recorded = began.elapsed();
        let began = Instant::now();
        let made = predictor.step(&store);
        if t >= WARM {
            step_time += began.elapsed();
            record_time += recorded;
            predictions += made.len();
        }
    }
    let per_step = step_time.as_secs_f64() / MEASURED as f64;
    let per_record = record_time.as_secs_f64() / MEASURED as f64;
    println!(
        "series per core at 1 Hz: {N} series, prediction step {:.2} ms -> {:.0} series/core \
         ({predictions} predictions in {MEASURED} steps)   baseline: recording alone {:.2} ms -> {:.0} series/core",
        per_step * 1000.0,
        N as f64 / per_step,
        per_record * 1000.0,
        N as f64 / per_record
    );
}

/// Sample-to-prediction latency: a series leaking in real time (one sample every 250 ms,
/// recorded by one task) and the prediction loop running at the same interval (another task),
/// 16 independent watches at once; for each prediction, the time from the recording of the
/// newest sample it could have seen to the prediction arriving on the loop's channel (what
/// the service relays to SSE subscribers and stores). Reported beyond the sampling interval,
/// which bounds how long a sample may wait for the next step. Baseline in the same run: the
/// same hop for a bare broadcast message (record, then send, then receive). Returns the
/// p99 (ms), the baseline of the end-to-end figure over SSE (`sample_to_sse`).
fn sample_to_prediction() -> f64 {
    use pfi::monitor::MetricsStore;
    use pfi::predict::live::PredictionLoop;
    use std::sync::{Arc, Mutex};
    const WATCHES: usize = 16;
    const INTERVAL: Duration = Duration::from_millis(250);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let plan = watch_plan(dir.path(), 1, "250ms", "3s");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (latencies, bare) = runtime.block_on(async {
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let bare = Arc::new(Mutex::new(Vec::new()));
        let mut watches = Vec::new();
        for w in 0..WATCHES {
            let plan = plan.clone();
            let (latencies, bare) = (latencies.clone(), bare.clone());
            watches.push(tokio::spawn(async move {
                let store = MetricsStore::new();
                let predictor = PredictionLoop::new(&plan).unwrap().unwrap();
                let (sender, mut receiver) = tokio::sync::broadcast::channel(64);
                let (bare_sender, mut bare_receiver) = tokio::sync::broadcast::channel(64);
                let last_sample = Arc::new(Mutex::new(Instant::now()));
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let looping = tokio::spawn(predictor.run(store.clone(), sender, |_| {}, async {
                    let _ = stopped.await;
                }));
                let feeder = {
                    let (store, last_sample) = (store.clone(), last_sample.clone());
                    tokio::spawn(async move {
                        // Offset the watches so their ticks do not all coincide.
                        tokio::time::sleep(INTERVAL * w as u32 / WATCHES as u32).await;
                        let mut ticks = tokio::time::interval(INTERVAL);
                        for t in 0u64.. {
                            ticks.tick().await;
                            let value = if t < 20 {
                                50e6 + (t % 3) as f64 * 1e4
                            } else {
                                50e6 + (t - 20) as f64 * 2e6
                            };
                            store.record("r0.memory", store.now(), value);
                            let now = Instant::now();
                            *last_sample.lock().unwrap() = now;
                            let _ = bare_sender.send(now);
                        }
                    })
                };
                let bare_task = {
                    let bare = bare.clone();
                    tokio::spawn(async move {
                        while let Ok(sent) = bare_receiver.recv().await {
                            bare.lock().unwrap().push(sent.elapsed().as_secs_f64() * 1000.0);
                        }
                    })
                };
                let deadline = tokio::time::sleep(Duration::from_secs(20));
                tokio::pin!(deadline);
                let mut seen = 0;
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        got = receiver.recv() => match got {
                            Ok(_) => {
                                let newest = *last_sample.lock().unwrap();
                                latencies.lock().unwrap().push(newest.elapsed().as_secs_f64() * 1000.0);
                                seen += 1;
                                if seen >= 8 {
                                    break;
                                }
                            }
                            Err(_) => break,
                        },
                    }
                }
                feeder.abort();
                bare_task.abort();
                let _ = stop.send(());
                let _ = looping.await;
            }));
        }
        for watch in watches {
            let _ = watch.await;
        }
        let latencies = latencies.lock().unwrap().clone();
        let bare = bare.lock().unwrap().clone();
        (latencies, bare)
    });
    let (mut latencies, mut bare) = (latencies, bare);
    let interval_ms = INTERVAL.as_secs_f64() * 1000.0;
    let p99 = percentile(&mut latencies, 0.99);
    println!(
        "sample-to-prediction ({} predictions of {WATCHES} watches, sampled and predicted every {interval_ms} ms): {}; \
         p99 minus the interval {:+.3} ms (target: at most +50 ms)   baseline bare channel hop p99 {:.3} ms",
        latencies.len(),
        figures(&latencies),
        p99 - interval_ms,
        percentile(&mut bare, 0.99)
    );
    p99
}

/// Sample-to-prediction latency end to end, over HTTP: `pfi serve` (in this process, on its
/// own runtime and threads) runs `WATCHES` watches submitted to `POST /v1/runs`; each scrapes
/// a Prometheus text page served by this bench (on a third runtime) every 250 ms and predicts
/// every 250 ms, and one client reads `GET /v1/predictions/stream` (Server-Sent Events) on a
/// plain TCP connection. Each page holds `SERIES` series, and every value carries the number of
/// the scrape that served it (value mod 10^6); each series leaks (a steady ramp) for 30
/// scrapes, then settles for 40, over and over, the series staggered. A prediction's signal
/// is the newest sample its step read, so its value names the scrape it was made from: the
/// latency is from when that scrape was served to when the prediction's `data:` line arrived
/// at the client. It includes the wait for the next prediction step (up to one interval) and
/// the scrape's own schedule, so it is reported beyond the interval. Baseline in the same run:
/// the in-process hop of `sample_to_prediction` (to the loop's channel, no HTTP).
fn sample_to_sse(channel_p99: f64) {
    use axum::extract::{Path, State};
    use std::io::{BufRead, BufReader, Write};
    use std::sync::{Arc, Mutex};
    const WATCHES: usize = 4;
    const SERIES: u64 = 24;
    const INTERVAL_MS: f64 = 250.0;
    const FLAT: u64 = 40;
    const LEAK: u64 = 30;
    const MEASURE: Duration = Duration::from_secs(90);
    type Served = Arc<Vec<Mutex<Vec<Instant>>>>;
    let served: Served = Arc::new((0..WATCHES).map(|_| Mutex::new(Vec::new())).collect());

    // The watched system: one page per watch.
    let system = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let page_address = system.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new()
            .route(
                "/w/{watch}",
                get(
                    |State(served): State<Served>, Path(watch): Path<usize>| async move {
                        let mut scrapes = served[watch].lock().unwrap();
                        let k = scrapes.len() as u64;
                        let mut page = String::new();
                        for m in 0..SERIES {
                            let phase = (k + m * (FLAT + LEAK) / SERIES) % (FLAT + LEAK);
                            let level = if phase < FLAT {
                                100e6 + (phase % 3) as f64 * 1e6
                            } else {
                                100e6 + (phase - FLAT + 1) as f64 * 4e6
                            };
                            page.push_str(&format!("m{m} {:.0}\n", level + k as f64));
                        }
                        scrapes.push(Instant::now());
                        page
                    },
                ),
            )
            .with_state(served.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        address
    });

    let dir = tempfile::tempdir().expect("a temporary folder");
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (address, server) = server_runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = ServeConfig::new(dir.path().to_path_buf());
        let server = tokio::spawn(pfi::serve::run(listener, config, async move {
            let _ = stopped.await;
            "the end of the bench".to_string()
        }));
        (address, server)
    });

    // The subscriber: reads the stream until told to stop; each prediction's run, signal
    // value and arrival.
    let (subscribed, ready) = std::sync::mpsc::channel();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(address).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            write!(
                stream,
                "GET /v1/predictions/stream HTTP/1.1\r\nHost: {address}\r\n\r\n"
            )
            .unwrap();
            let mut reader = BufReader::new(stream);
            let mut arrived: Vec<(Instant, serde_json::Value)> = Vec::new();
            let mut line = String::new();
            let mut told = false;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => continue,
                }
                let at = Instant::now();
                if !told && line.starts_with("HTTP/1.1 200") {
                    let _ = subscribed.send(());
                    told = true;
                }
                if let Some(data) = line.trim_end().strip_prefix("data: ") {
                    if let Ok(value) = serde_json::from_str(data) {
                        arrived.push((at, value));
                    }
                }
            }
            arrived
        })
    };
    ready
        .recv_timeout(Duration::from_secs(10))
        .expect("the prediction stream answers");

    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let ids: Vec<String> = client_runtime.block_on(async {
        let client =
            Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<Bytes>>();
        let mut ids = Vec::new();
        for w in 0..WATCHES {
            let mut text = format!(
                "experiment \"sse-{w}\" {{\n  duration 10m\n  seed 1\n  baseline 5s\n}}\n\
                 telemetry t: prometheus \"http://{page_address}/w/{w}\" every 250ms\n\
                 predict {{\n"
            );
            let watched: Vec<String> = (0..SERIES).map(|m| format!("t.m{m}")).collect();
            text.push_str(&format!("  watch {}\n", watched.join(", ")));
            for m in 0..SERIES {
                text.push_str(&format!(
                    "  pattern leak{m} when t.m{m} rising and t.m{m} anomalous predicts memory_leak\n"
                ));
            }
            text.push_str("  confidence >= 0.5\n  every 250ms\n}\n");
            for m in 0..SERIES {
                // A limit for the forecast: a ramp heading for it is anomalous.
                text.push_str(&format!("threshold t.m{m} < 1000000000\n"));
            }
            let body = serde_json::json!({ "scenario": text, "watch": true }).to_string();
            let request = hyper::Request::post(format!("http://{address}/v1/runs"))
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(Bytes::from(body)))
                .unwrap();
            let response = client.request(request).await.expect("submit");
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let id = value["id"]
                .as_str()
                .unwrap_or_else(|| panic!("the watch is refused: {value}"));
            ids.push(id.to_string());
        }
        tokio::time::sleep(MEASURE).await;
        for id in &ids {
            let request = hyper::Request::post(format!("http://{address}/v1/runs/{id}/abort"))
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap();
            let _ = client.request(request).await;
        }
        ids
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let arrived = reader.join().expect("the subscriber");
    let _ = stop.send(());
    let _ = server_runtime.block_on(server);
    drop(system);

    let mut latencies = Vec::new();
    let mut unmatched = 0;
    for (at, prediction) in &arrived {
        let watch = ids.iter().position(|id| prediction["run"] == id.as_str());
        let value = prediction["signals"][0]["value"].as_f64();
        let scrape = match (watch, value) {
            (Some(w), Some(v)) => served[w]
                .lock()
                .unwrap()
                .get((v as u64 % 1_000_000) as usize)
                .copied(),
            _ => None,
        };
        match scrape {
            Some(served_at) => {
                latencies.push(at.saturating_duration_since(served_at).as_secs_f64() * 1000.0)
            }
            None => unmatched += 1,
        }
    }
    let scrapes: usize = served.iter().map(|s| s.lock().unwrap().len()).sum();
    let p99 = percentile(&mut latencies, 0.99);
    println!(
        "sample-to-prediction over SSE ({} predictions of {WATCHES} watches x {SERIES} series on \
         pfi serve, {scrapes} scrapes, scraped and predicted every {INTERVAL_MS} ms, {unmatched} \
         unmatched): {}; p99 minus the interval {:+.3} ms (target: at most +50 ms)   baseline \
         in-process channel hop p99 {channel_p99:.3} ms ({:+.3} ms)   load average {}",
        latencies.len(),
        figures(&latencies),
        p99 - INTERVAL_MS,
        channel_p99 - INTERVAL_MS,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
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

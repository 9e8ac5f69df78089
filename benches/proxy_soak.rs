//! The fault proxy soak: 10,000 concurrent connections through links of the real
//! `pfi proxy serve` while toxics are added and removed through its API at 50 per second,
//! next to a baseline phase (the same connections, no toxic churn) measured in the same run.
//! Reported every second and summed up: connections open, echoes checked, errors (a byte
//! lost, reordered or changed, a connection dropped), open file descriptors and resident
//! memory of the proxies, and the API's latency.
//!
//! Run with `cargo bench --bench proxy_soak`; `PFI_SOAK_SECS=300` sets each phase's length
//! (default 10 s), `PFI_SOAK_CONNECTIONS` the connections (default 10,000),
//! `PFI_SOAK_PROXIES` how many proxy processes share them (default 5: a proxied TCP
//! connection holds two sockets and two pipes, seven files measured, and a process may not
//! open more than `ulimit -Hn` files, 20,000 here), `PFI_SOAK_PERIOD_MS` how often each
//! connection echoes (default 2,000), `PFI_SOAK_PFI` the `pfi` binary to soak (default the
//! one cargo built with the bench, e.g. `target/release/pfi` from a debug build of it).
//!
//! Three kinds of processes: this one drives and measures; an echo server and the clients
//! run as children of it (the same binary, `PFI_SOAK_ROLE=echo|clients`), so no process
//! holds more sockets than it may.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const MESSAGE: usize = 32;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    match std::env::var("PFI_SOAK_ROLE").as_deref() {
        Ok("echo") => echo_server(),
        Ok("clients") => clients(),
        _ => drive(),
    }
}

// ---------------------------------------------------------------- the echo server

fn echo_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("echo {}", listener.local_addr().expect("addr"));
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
}

// ---------------------------------------------------------------- the clients

/// Counters the clients print once a second.
#[derive(Default)]
struct ClientCounts {
    open: AtomicU64,
    echoes: AtomicU64,
    /// An echo that came back different (lost, reordered or changed bytes).
    corrupt: AtomicU64,
    /// A connection that failed or closed.
    dropped: AtomicU64,
    connect_errors: AtomicU64,
}

fn clients() {
    let targets: Vec<SocketAddr> = std::env::var("PFI_SOAK_TARGETS")
        .expect("targets")
        .split(',')
        .map(|a| a.parse().expect("address"))
        .collect();
    let connections = env_number("PFI_SOAK_CONNECTIONS", 10_000);
    let period = Duration::from_millis(env_number("PFI_SOAK_PERIOD_MS", 2_000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let counts = Arc::new(ClientCounts::default());
    runtime.block_on(async {
        let connecting = Arc::new(tokio::sync::Semaphore::new(200));
        for id in 0..connections {
            let target = targets[id as usize % targets.len()];
            let counts = counts.clone();
            let connecting = connecting.clone();
            tokio::spawn(async move {
                let permit = connecting.acquire_owned().await.expect("semaphore");
                let stream = match tokio::net::TcpStream::connect(target).await {
                    Ok(stream) => stream,
                    Err(_) => {
                        counts.connect_errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                drop(permit);
                counts.open.fetch_add(1, Ordering::Relaxed);
                echo_loop(stream, id, period, &counts).await;
                counts.open.fetch_sub(1, Ordering::Relaxed);
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            });
        }
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!(
                "stats {:.1} open={} echoes={} corrupt={} dropped={} connect_errors={}",
                started.elapsed().as_secs_f64(),
                counts.open.load(Ordering::Relaxed),
                counts.echoes.load(Ordering::Relaxed),
                counts.corrupt.load(Ordering::Relaxed),
                counts.dropped.load(Ordering::Relaxed),
                counts.connect_errors.load(Ordering::Relaxed),
            );
        }
    });
}

/// Sends a numbered message every `period` (from a phase of its own) and checks the echo is
/// byte for byte the same; returns when the connection fails.
async fn echo_loop(
    mut stream: tokio::net::TcpStream,
    id: u64,
    period: Duration,
    counts: &ClientCounts,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.set_nodelay(true);
    let phase = Duration::from_millis(id * 7919 % period.as_millis().max(1) as u64);
    tokio::time::sleep(phase).await;
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut back = [0u8; MESSAGE];
    for seq in 0u64.. {
        ticks.tick().await;
        let mut message = [0u8; MESSAGE];
        message[..8].copy_from_slice(&id.to_le_bytes());
        message[8..16].copy_from_slice(&seq.to_le_bytes());
        for (i, byte) in message[16..].iter_mut().enumerate() {
            *byte = (id as u8)
                .wrapping_mul(31)
                .wrapping_add(seq as u8)
                .wrapping_add(i as u8);
        }
        if stream.write_all(&message).await.is_err() || stream.read_exact(&mut back).await.is_err()
        {
            return;
        }
        if back == message {
            counts.echoes.fetch_add(1, Ordering::Relaxed);
        } else {
            counts.corrupt.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------- the driver

/// A child process whose stdout lines are collected.
struct Spawned {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    fn start(mut command: Command) -> Spawned {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Spawned { child, lines }
    }

    /// The first line starting with `prefix`, waiting up to 30 s for it.
    fn line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.starts_with(prefix))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line starting with {prefix:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn last(&self, prefix: &str) -> Option<String> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .rev()
            .find(|l| l.starts_with(prefix))
            .cloned()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `key=value` from a clients' stats line.
fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn api_call(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, f64) {
    let start = Instant::now();
    let Ok(mut stream) = TcpStream::connect(api) else {
        return (0, start.elapsed().as_secs_f64() * 1e3);
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(request.as_bytes());
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, start.elapsed().as_secs_f64() * 1e3)
}

/// Adds and removes toxics that keep the data (latency, jitter, slicer) on every proxy's
/// link, `rate` calls per second in all, until `stop`; returns the latencies (ms) and the
/// calls that failed.
fn churn(apis: Vec<SocketAddr>, rate: f64, stop: Arc<AtomicBool>) -> (Vec<f64>, u64) {
    let toxics = [
        r#"{"name": "t", "type": "latency", "stream": "downstream", "attributes": {"latency": 5, "jitter": 3}}"#,
        r#"{"name": "t", "type": "slicer", "stream": "upstream", "attributes": {"average_size": 4, "size_variation": 2, "delay": 100}}"#,
        r#"{"name": "t", "type": "latency", "stream": "upstream", "attributes": {"latency": 1}}"#,
    ];
    let mut latencies = Vec::new();
    let mut failed = 0;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    for call in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Open loop: each call at its scheduled time.
        let due = started + interval * call as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let api = apis[(call / 2) as usize % apis.len()];
        let (status, ms) = if call % 2 == 0 {
            let toxic = toxics[(call / 2 / apis.len() as u64) as usize % toxics.len()];
            api_call(api, "POST", "/proxies/soak/toxics", toxic)
        } else {
            api_call(api, "DELETE", "/proxies/soak/toxics/t", "")
        };
        if !(200..300).contains(&status) {
            failed += 1;
        }
        latencies.push(ms);
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, failed)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// One second's reading.
struct Sample {
    at: f64,
    open: u64,
    echoes: u64,
    corrupt: u64,
    dropped: u64,
    fds: usize,
    rss: f64,
}

fn drive() {
    let secs = env_number("PFI_SOAK_SECS", 10);
    let connections = env_number("PFI_SOAK_CONNECTIONS", 10_000);
    let proxies = env_number("PFI_SOAK_PROXIES", 5).max(1);
    let period = env_number("PFI_SOAK_PERIOD_MS", 2_000);
    let me = std::env::current_exe().expect("current exe");
    println!(
        "pfi proxy soak: {connections} connections through {proxies} `pfi proxy serve` processes, an echo every {period} ms each; {secs} s without toxic churn (baseline), then {secs} s with toxics added and removed at 50/s\n"
    );

    let mut echo = Command::new(&me);
    echo.env("PFI_SOAK_ROLE", "echo");
    let echo = Spawned::start(echo);
    let upstream = echo.line("echo ").trim_start_matches("echo ").to_string();

    let dir = std::env::temp_dir().join(format!("pfi-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("proxies.json");
    std::fs::write(
        &config,
        format!(r#"[{{"name": "soak", "listen": "127.0.0.1:0", "upstream": "{upstream}"}}]"#),
    )
    .expect("config");
    let mut servers = Vec::new();
    let mut apis = Vec::new();
    let mut listens = Vec::new();
    for i in 0..proxies {
        let pfi =
            std::env::var("PFI_SOAK_PFI").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pfi").into());
        let mut command = Command::new(pfi);
        command
            .args(["proxy", "serve", "--port", "0", "--seed"])
            .arg(i.to_string())
            .arg("--config")
            .arg(&config);
        let server = Spawned::start(command);
        let api = server.line("pfi proxy API listening on ");
        apis.push(
            api.split_whitespace()
                .nth(5)
                .expect("api address")
                .parse::<SocketAddr>()
                .expect("api address"),
        );
        let link = server.line("proxy soak listening on ");
        listens.push(link.split_whitespace().nth(4).expect("listen").to_string());
        servers.push(server);
    }
    let pids: Vec<u32> = servers.iter().map(Spawned::pid).collect();
    let read = |clients: &Spawned, at: f64| {
        let line = clients.last("stats ").unwrap_or_default();
        Sample {
            at,
            open: field(&line, "open"),
            echoes: field(&line, "echoes"),
            corrupt: field(&line, "corrupt"),
            dropped: field(&line, "dropped"),
            fds: pids.iter().map(|p| fd_count(*p)).sum(),
            rss: pids.iter().map(|p| rss_mib(*p)).sum(),
        }
    };
    let idle_fds: usize = pids.iter().map(|p| fd_count(*p)).sum();
    let idle_rss: f64 = pids.iter().map(|p| rss_mib(*p)).sum();

    let mut command = Command::new(&me);
    command
        .env("PFI_SOAK_ROLE", "clients")
        .env("PFI_SOAK_TARGETS", listens.join(","))
        .env("PFI_SOAK_CONNECTIONS", connections.to_string())
        .env("PFI_SOAK_PERIOD_MS", period.to_string());
    let clients = Spawned::start(command);
    let ramp = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(200));
        let line = clients.last("stats ").unwrap_or_default();
        let settled = field(&line, "open") + field(&line, "connect_errors");
        if settled >= connections || ramp.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let line = clients.last("stats ").unwrap_or_default();
    println!(
        "proxies idle: {idle_fds} fds, {idle_rss:.1} MiB; {} of {connections} connections open after {:.1} s ({} could not connect)\n",
        field(&line, "open"),
        ramp.elapsed().as_secs_f64(),
        field(&line, "connect_errors")
    );
    // One period so every connection has echoed once before the baseline starts.
    thread::sleep(Duration::from_millis(period));

    println!(
        "{:>6}  {:<8} {:>7} {:>9} {:>8} {:>8} {:>7} {:>9}",
        "t (s)", "phase", "open", "echoes/s", "corrupt", "dropped", "fds", "RSS MiB"
    );
    let start = Instant::now();
    let mut phases: Vec<(&str, Vec<Sample>)> = Vec::new();
    let mut api_figures = None;
    for phase in ["baseline", "churn"] {
        let stop = Arc::new(AtomicBool::new(false));
        let churner = (phase == "churn").then(|| {
            let (apis, stop) = (apis.clone(), stop.clone());
            thread::spawn(move || churn(apis, 50.0, stop))
        });
        let mut samples = vec![read(&clients, start.elapsed().as_secs_f64())];
        let phase_start = Instant::now();
        while phase_start.elapsed() < Duration::from_secs(secs) {
            thread::sleep(Duration::from_secs(1));
            let sample = read(&clients, start.elapsed().as_secs_f64());
            let previous = samples.last().expect("a sample");
            println!(
                "{:>6.1}  {:<8} {:>7} {:>9.0} {:>8} {:>8} {:>7} {:>9.1}",
                sample.at,
                phase,
                sample.open,
                (sample.echoes - previous.echoes) as f64 / (sample.at - previous.at),
                sample.corrupt,
                sample.dropped,
                sample.fds,
                sample.rss
            );
            samples.push(sample);
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(churner) = churner {
            api_figures = Some(churner.join().expect("churn thread"));
        }
        phases.push((phase, samples));
    }

    println!("\nsummary (the same connections; baseline first)");
    for (phase, samples) in &phases {
        let (first, last) = (&samples[0], &samples[samples.len() - 1]);
        let fds: Vec<usize> = samples.iter().map(|s| s.fds).collect();
        let rss: Vec<f64> = samples.iter().map(|s| s.rss).collect();
        println!(
            "  {phase:<8}: {:.0} echoes/s checked; {} corrupt, {} dropped in the phase; proxies' fds {} -> {} (min {}, max {}); RSS {:.1} -> {:.1} MiB (max {:.1})",
            (last.echoes - first.echoes) as f64 / (last.at - first.at),
            last.corrupt - first.corrupt,
            last.dropped - first.dropped,
            first.fds,
            last.fds,
            fds.iter().min().expect("samples"),
            fds.iter().max().expect("samples"),
            first.rss,
            last.rss,
            rss.iter().copied().fold(0.0, f64::max)
        );
    }
    if let Some((latencies, failed)) = api_figures {
        println!(
            "  control API during churn: {} calls ({:.1}/s), {failed} failed; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < 50 ms)",
            latencies.len(),
            latencies.len() as f64 / secs as f64,
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99),
            quantile(&latencies, 1.0)
        );
    }
    drop(clients);
    thread::sleep(Duration::from_secs(2));
    let after_fds: usize = pids.iter().map(|p| fd_count(*p)).sum();
    let after_rss: f64 = pids.iter().map(|p| rss_mib(*p)).sum();
    println!(
        "  after the clients closed: proxies' fds {after_fds} (idle before: {idle_fds}), RSS {after_rss:.1} MiB (idle before: {idle_rss:.1})"
    );
    drop(servers);
    drop(echo);
    let _ = std::fs::remove_dir_all(&dir);
}

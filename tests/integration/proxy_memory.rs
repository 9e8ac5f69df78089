//! The proxy's memory under many connections and toxics, measured on a real `pfi proxy serve`
//! process: what a connection under a toxic costs while it is open, and whether anything is
//! kept after it closes, round after round (a leak grows with the rounds; allocator retention
//! stays flat).
//!
//! `PFI_PROXY_MEMORY_CONNECTIONS` (default 1,000) and `PFI_PROXY_MEMORY_ROUNDS` (default 3)
//! make it the smaller soak of the notes (`-- --nocapture` prints the RSS per round).

use super::support::pfi;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

fn api_call(api: SocketAddr, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(api).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// An echo server on a thread of its own (threads: one per connection would be 1,000s; a
/// small tokio runtime serves them).
fn echo_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One round: `n` connections opened through `link`, each echoing a message while the toxic
/// is on; returns the proxy's RSS with them open. They are closed when it returns.
fn round(link: SocketAddr, n: usize, pid: u32) -> f64 {
    let mut streams: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(link).unwrap()).collect();
    let message = [7u8; 32];
    for stream in &mut streams {
        stream.write_all(&message).unwrap();
    }
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut back = [0u8; 32];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(back, message);
    }
    rss_mib(pid)
}

#[test]
fn connections_under_a_toxic_hold_no_read_buffer_and_nothing_grows_over_rounds() {
    let connections = env_number("PFI_PROXY_MEMORY_CONNECTIONS", 1_000);
    let rounds = env_number("PFI_PROXY_MEMORY_ROUNDS", 3).max(2);
    let upstream = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxies.json");
    std::fs::write(
        &config,
        format!(r#"[{{"name": "mem", "listen": "127.0.0.1:0", "upstream": "{upstream}"}}]"#),
    )
    .unwrap();
    let mut child = pfi()
        .args(["proxy", "serve", "--port", "0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let server = Server(child);
    let (mut api, mut link) = (None, None);
    let started = Instant::now();
    while (api.is_none() || link.is_none()) && started.elapsed() < Duration::from_secs(20) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("pfi proxy API listening on ") {
            api = rest.split_whitespace().next().and_then(|a| a.parse().ok());
        }
        if line.starts_with("proxy mem listening on ") {
            link = line.split_whitespace().nth(4).and_then(|a| a.parse().ok());
        }
    }
    let (Some(api), Some(link)): (Option<SocketAddr>, Option<SocketAddr>) = (api, link) else {
        panic!("the proxy did not say where it listens");
    };
    std::thread::spawn(move || for _ in lines {});
    let idle = rss_mib(pid);
    let toxic =
        r#"{"name": "t", "type": "latency", "stream": "downstream", "attributes": {"latency": 5}}"#;
    assert_eq!(api_call(api, "POST", "/proxies/mem/toxics", toxic), 200);
    let mut open = Vec::new();
    let mut after = Vec::new();
    for _ in 0..rounds {
        open.push(round(link, connections, pid));
        // Closed: give the proxy a moment to see every end.
        std::thread::sleep(Duration::from_millis(500));
        after.push(rss_mib(pid));
    }
    eprintln!(
        "proxy memory: {connections} connections under a latency toxic, {rounds} rounds: idle {idle:.1} MiB; open {open:.1?} MiB; after closing {after:.1?} MiB (load {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    // Two 64 KiB read buffers per connection (what each held before) would be 125 MiB for
    // 1,000; what a connection needs is its sockets' state, its tasks and its small chunks.
    let per_connection_kib = (open[0] - idle) * 1024.0 / connections as f64;
    assert!(
        per_connection_kib < 48.0,
        "{per_connection_kib:.1} KiB per open connection under a toxic"
    );
    // A leak grows with every round; retention is flat after the first.
    let growth = after[rounds - 1] - after[0];
    assert!(
        growth < 8.0 + 0.004 * connections as f64,
        "RSS grew {growth:.1} MiB from round 1 to round {rounds} after closing (a leak): {after:?}"
    );
    drop(server);
}

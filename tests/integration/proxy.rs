//! The fault proxy against real sockets on 127.0.0.1: each toxic's effect (generous
//! tolerances: tests run unoptimised on a shared machine), live changes under traffic,
//! seeded reproducibility, and the Toxiproxy-compatible API of the real `pfi proxy serve`.

use crate::support::pfi;
use pfi::plan::Distribution;
use pfi::proxy::toxics::{
    Bandwidth, BandwidthScope, Down, HttpAbort, HttpDelay, HttpError, Latency, LimitData,
    ResetPeer, Slicer, SlowClose, Timeout,
};
use pfi::proxy::{
    HttpMatch, LinkConfig, LinkUpdate, Listen, ProxyError, ProxyServer, Stream, ToxicConfig,
    seeding,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------- helpers

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// An echo server.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// A server that writes `payload` to each connection, then closes it.
async fn talker(payload: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let payload = payload.clone();
            tokio::spawn(async move {
                let _ = socket.write_all(&payload).await;
            });
        }
    });
    addr
}

/// An HTTP upstream answering `200 upstream saw <path>`; counts the requests it saw.
async fn http_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let listener = TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = format!("upstream saw {}", req.uri().path());
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from(body),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

async fn tcp_link(proxy: &ProxyServer, name: &str, upstream: SocketAddr) -> SocketAddr {
    proxy
        .add_link(LinkConfig::tcp(name, local(), upstream.to_string()))
        .await
        .unwrap()
        .listen
}

async fn http_link(proxy: &ProxyServer, name: &str, upstream: SocketAddr) -> SocketAddr {
    proxy
        .add_link(LinkConfig::http(name, local(), upstream.to_string()))
        .await
        .unwrap()
        .listen
}

/// Writes `msg` and reads the same number of bytes back; returns the time it took.
async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> Duration {
    let start = Instant::now();
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
    start.elapsed()
}

/// Sends one HTTP/1.1 request on a fresh connection; `None` if the connection closed
/// without a response.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut socket = TcpStream::connect(addr).await.ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
    {
        request.push_str("User-Agent: pfi-tests\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    socket.write_all(request.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

async fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    http(addr, "GET", path, &[], "")
        .await
        .map(|(status, _)| status)
}

/// Reads until EOF or an error; returns the bytes and how it ended.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) => return (got, Err(err)),
        }
    }
}

// ---------------------------------------------------------------- TCP toxics

#[tokio::test]
async fn bytes_pass_through_unchanged_and_are_counted() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let read = async {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    let ((), got) = tokio::join!(write, read);
    assert_eq!(got, data);
    let stats = proxy.stats("echo").unwrap();
    assert_eq!(stats.connections_total, 1);
    assert_eq!(stats.bytes_upstream, 300_000);
    assert_eq!(stats.bytes_downstream, 300_000);
}

#[tokio::test]
async fn latency_delays_each_response_and_applies_to_open_connections() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert!(round_trip(&mut stream, b"warm").await < Duration::from_millis(250));

    proxy
        .add_toxic("echo", ToxicConfig::new("lag", Latency::toxiproxy(300, 0)))
        .unwrap();
    let rtt = round_trip(&mut stream, b"slow").await;
    assert!(
        rtt >= Duration::from_millis(300) && rtt < Duration::from_secs(3),
        "{rtt:?}"
    );

    let up = ToxicConfig::new("lag_up", Latency::toxiproxy(50, 0)).with_stream(Stream::Upstream);
    proxy.add_toxic("echo", up).unwrap();
    let rtt = round_trip(&mut stream, b"slower").await;
    assert!(rtt >= Duration::from_millis(350), "{rtt:?}");
    let stats = proxy.stats("echo").unwrap();
    let lag = stats.toxics.iter().find(|t| t.name == "lag").unwrap();
    assert_eq!(lag.applied, 1);
    assert!(lag.delay.count() >= 2);
}

#[tokio::test]
async fn latency_follows_the_requested_distribution() {
    let proxy = ProxyServer::new(3);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let normal = Latency::distribution(Distribution::Normal {
        mean: 60.0,
        sd: 10.0,
    })
    .unwrap();
    proxy
        .add_toxic("echo", ToxicConfig::new("lag", normal))
        .unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut total = Duration::ZERO;
    for _ in 0..20 {
        total += round_trip(&mut stream, b"ping").await;
    }
    let mean_ms = total.as_secs_f64() * 1_000.0 / 20.0;
    assert!((45.0..150.0).contains(&mean_ms), "mean {mean_ms} ms");
}

#[tokio::test]
async fn bandwidth_limits_the_rate_per_connection_and_per_link() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "talker", talker(vec![7; 100_000]).await).await;
    let rate = Bandwidth::new(200, BandwidthScope::Connection).unwrap(); // 200 KB/s
    proxy
        .add_toxic("talker", ToxicConfig::new("bw", rate))
        .unwrap();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (got, end) = read_until_closed(&mut stream).await;
    let elapsed = start.elapsed();
    assert!(end.is_ok());
    assert_eq!(got.len(), 100_000);
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );

    proxy.remove_toxic("talker", "bw").unwrap();
    let shared = Bandwidth::new(200, BandwidthScope::Link).unwrap();
    proxy
        .add_toxic("talker", ToxicConfig::new("bw_link", shared))
        .unwrap();
    let start = Instant::now();
    let one = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_until_closed(&mut s).await.0.len()
    };
    let (a, b) = tokio::join!(one, async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_until_closed(&mut s).await.0.len()
    });
    assert_eq!(a + b, 200_000);
    // Two connections share 200 KB/s: 200 KB take about a second, not half of one.
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn slow_close_delays_the_close_not_the_data() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "talker", talker(b"hi".to_vec()).await).await;
    proxy
        .add_toxic("talker", ToxicConfig::new("sc", SlowClose::new(600)))
        .unwrap();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hi = [0u8; 2];
    stream.read_exact(&mut hi).await.unwrap();
    let data_at = start.elapsed();
    let (rest, end) = read_until_closed(&mut stream).await;
    let closed_at = start.elapsed();
    assert_eq!(&hi, b"hi");
    assert!(rest.is_empty() && end.is_ok());
    assert!(data_at < Duration::from_millis(500), "{data_at:?}");
    assert!(closed_at >= Duration::from_millis(600), "{closed_at:?}");
}

#[tokio::test]
async fn timeout_drops_data_then_closes() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let to = ToxicConfig::new("to", Timeout::new(200)).with_stream(Stream::Upstream);
    proxy.add_toxic("echo", to).unwrap();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"lost").await.unwrap();
    let (got, _) = read_until_closed(&mut stream).await;
    assert!(got.is_empty());
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(180) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(proxy.stats("echo").unwrap().injected_errors, 1);
}

#[tokio::test]
async fn a_blackhole_removed_live_lets_the_same_connection_work_again() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut stream, b"before").await;
    let hole = ToxicConfig::new("hole", Timeout::new(0)).with_stream(Stream::Upstream);
    proxy.add_toxic("echo", hole).unwrap();
    stream.write_all(b"lost").await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(read.is_err(), "data went through a blackhole: {read:?}");
    proxy.remove_toxic("echo", "hole").unwrap();
    round_trip(&mut stream, b"after").await;
}

#[tokio::test]
async fn reset_peer_resets_the_connection() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    proxy
        .add_toxic("echo", ToxicConfig::new("rst", ResetPeer::new(100)))
        .unwrap();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    let (_, end) = read_until_closed(&mut stream).await;
    let err = end.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn slicer_cuts_data_into_small_spaced_pieces() {
    let proxy = ProxyServer::new(1);
    let payload: Vec<u8> = (0..1_000u32).map(|i| i as u8).collect();
    let addr = tcp_link(&proxy, "talker", talker(payload.clone()).await).await;
    let slicer = Slicer::new(100, 20, 5_000).unwrap();
    proxy
        .add_toxic("talker", ToxicConfig::new("slices", slicer))
        .unwrap();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        reads += 1;
        assert!(n <= 240, "a read of {n} bytes: not sliced");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, payload);
    assert!(reads >= 5, "{reads} reads");
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn limit_data_closes_after_the_limit() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    proxy
        .add_toxic("echo", ToxicConfig::new("limit", LimitData::new(10)))
        .unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&[b'a'; 100]).await.unwrap();
    let (got, _) = read_until_closed(&mut stream).await;
    assert_eq!(got, vec![b'a'; 10]);
}

#[tokio::test]
async fn down_refuses_new_connections_resets_open_ones_and_is_removable() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut open = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut open, b"up").await;

    proxy
        .add_toxic("echo", ToxicConfig::new("outage", Down))
        .unwrap();
    let (got, _) = tokio::time::timeout(Duration::from_secs(2), read_until_closed(&mut open))
        .await
        .unwrap();
    assert!(got.is_empty(), "the open connection was not cut");

    let mut refused = TcpStream::connect(addr).await.unwrap();
    let _ = refused.write_all(b"anyone?").await;
    let (got, _) = tokio::time::timeout(Duration::from_secs(2), read_until_closed(&mut refused))
        .await
        .unwrap();
    assert!(got.is_empty());
    assert!(proxy.stats("echo").unwrap().connections_refused >= 1);

    proxy.remove_toxic("echo", "outage").unwrap();
    let mut back = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut back, b"back").await;
}

#[tokio::test]
async fn toxics_change_live_under_traffic_without_dropping_the_connection() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let traffic = tokio::spawn(async move {
        let (mut trips, mut slowest) = (0u32, Duration::ZERO);
        while !stop.load(Ordering::SeqCst) {
            slowest = slowest.max(round_trip(&mut stream, b"0123456789").await);
            trips += 1;
        }
        round_trip(&mut stream, b"still here").await;
        (trips, slowest)
    });
    let pause = || tokio::time::sleep(Duration::from_millis(150));
    pause().await;
    proxy
        .add_toxic("echo", ToxicConfig::new("lag", Latency::toxiproxy(40, 0)))
        .unwrap();
    pause().await;
    proxy
        .update_toxic("echo", ToxicConfig::new("lag", Latency::toxiproxy(10, 5)))
        .unwrap();
    let bw = Bandwidth::new(50, BandwidthScope::Connection).unwrap();
    proxy
        .add_toxic("echo", ToxicConfig::new("bw", bw).with_stream(Stream::Both))
        .unwrap();
    pause().await;
    let slices = Slicer::new(3, 1, 100).unwrap();
    proxy
        .add_toxic(
            "echo",
            ToxicConfig::new("slices", slices).with_stream(Stream::Upstream),
        )
        .unwrap();
    pause().await;
    for name in ["lag", "bw", "slices"] {
        proxy.remove_toxic("echo", name).unwrap();
    }
    pause().await;
    done.store(true, Ordering::SeqCst);
    let (trips, slowest) = traffic.await.unwrap();
    assert!(trips > 10, "only {trips} round trips");
    assert!(
        slowest >= Duration::from_millis(40),
        "latency never applied: {slowest:?}"
    );
}

#[tokio::test]
async fn toxicity_picks_connections_reproducibly_from_the_seed() {
    async fn pattern(seed: u64) -> Vec<bool> {
        let proxy = ProxyServer::new(seed);
        let addr = tcp_link(&proxy, "echo", echo_server().await).await;
        let lag = ToxicConfig::new("lag", Latency::toxiproxy(400, 0)).with_toxicity(0.5);
        proxy.add_toxic("echo", lag).unwrap();
        let mut slow = Vec::new();
        for _ in 0..10 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            slow.push(round_trip(&mut stream, b"?").await >= Duration::from_millis(200));
        }
        slow
    }
    let seed = 11;
    let first = pattern(seed).await;
    assert_eq!(first, pattern(seed).await);
    let predicted: Vec<bool> = (0..10)
        .map(|i| seeding::applies(seed, &seeding::toxicity_stream("echo", "lag", i), 0.5))
        .collect();
    assert_eq!(first, predicted);
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
}

// ---------------------------------------------------------------- link API

#[tokio::test]
async fn set_upstream_shifts_new_connections_only() {
    let proxy = ProxyServer::new(1);
    let a = talker(b"A".to_vec()).await;
    let b = talker(b"B".to_vec()).await;
    let addr = tcp_link(&proxy, "shift", a).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut s).await.0, b"A");
    proxy.set_upstream("shift", b.to_string()).unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut s).await.0, b"B");
    assert_eq!(proxy.link("shift").unwrap().upstream, b.to_string());
}

#[tokio::test]
async fn a_listen_address_in_use_is_a_clear_error_and_adds_nothing() {
    let taken = std::net::TcpListener::bind(local()).unwrap();
    let addr = taken.local_addr().unwrap();
    let proxy = ProxyServer::new(1);
    let err = proxy
        .add_link(LinkConfig::tcp("clash", Listen::Addr(addr), "127.0.0.1:9"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::AddressInUse(a) if a == addr));
    assert!(err.to_string().contains(&addr.to_string()));
    assert!(proxy.list().is_empty());
}

#[tokio::test]
async fn moving_a_link_to_a_taken_address_fails_and_leaves_it_working() {
    let proxy = ProxyServer::new(1);
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let taken = std::net::TcpListener::bind(local()).unwrap();
    let target = taken.local_addr().unwrap();
    let update = LinkUpdate {
        listen: Some(target),
        ..LinkUpdate::default()
    };
    let err = proxy.update_link("echo", update).await.unwrap_err();
    assert!(
        matches!(err, ProxyError::AddressInUse(a) if a == target),
        "{err}"
    );
    let info = proxy.link("echo").unwrap();
    assert_eq!((info.listen, info.enabled), (addr, true));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut stream, b"still served").await;
}

#[tokio::test]
async fn a_pre_bound_listener_is_used_and_remove_link_closes_it() {
    let listener = TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = ProxyServer::new(1);
    let info = proxy
        .add_link(LinkConfig::tcp(
            "echo",
            listener,
            echo_server().await.to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(info.listen, addr);
    let mut open = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut open, b"hello").await;
    proxy.remove_link("echo").await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
    let (got, _) = tokio::time::timeout(Duration::from_secs(2), read_until_closed(&mut open))
        .await
        .unwrap();
    assert!(got.is_empty());
    assert!(matches!(
        proxy.stats("echo"),
        Err(ProxyError::LinkNotFound(_))
    ));
}

#[tokio::test]
async fn http_toxics_are_refused_on_tcp_links_and_bad_toxicity_too() {
    let proxy = ProxyServer::new(1);
    tcp_link(&proxy, "tcp", echo_server().await).await;
    let err = proxy
        .add_toxic(
            "tcp",
            ToxicConfig::new(
                "e",
                HttpError::new(hyper::StatusCode::BAD_GATEWAY, None, HttpMatch::default()),
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("\"kind\": \"http\""), "{err}");
    let err = proxy
        .add_toxic(
            "tcp",
            ToxicConfig::new("l", Latency::toxiproxy(1, 0)).with_toxicity(1.5),
        )
        .unwrap_err();
    assert!(err.to_string().contains("toxicity"), "{err}");
    assert!(proxy.toxics("tcp").unwrap().is_empty());
}

// ---------------------------------------------------------------- HTTP links

#[tokio::test]
async fn http_links_forward_requests() {
    let proxy = ProxyServer::new(1);
    let (upstream, seen) = http_upstream().await;
    let addr = http_link(&proxy, "web", upstream).await;
    let (status, body) = http(addr, "GET", "/hello?x=1", &[], "").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "upstream saw /hello"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let stats = proxy.stats("web").unwrap();
    assert_eq!(stats.requests_total, 1);
    assert_eq!(stats.request_latency.count(), 1);
}

#[tokio::test]
async fn an_unreachable_upstream_closes_tcp_clients_and_gives_http_clients_a_502() {
    let closed = {
        let l = std::net::TcpListener::bind(local()).unwrap();
        l.local_addr().unwrap()
    };
    let proxy = ProxyServer::new(1);
    let tcp = tcp_link(&proxy, "tcp", closed).await;
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    let (got, _) = read_until_closed(&mut stream).await;
    assert!(got.is_empty());
    let http_addr = http_link(&proxy, "http", closed).await;
    let (status, body) = http(http_addr, "GET", "/", &[], "").await.unwrap();
    assert_eq!(status, 502);
    assert!(body.contains("cannot reach upstream"), "{body}");
    assert_eq!(proxy.stats("tcp").unwrap().upstream_errors, 1);
    assert_eq!(proxy.stats("http").unwrap().upstream_errors, 1);
}

#[tokio::test]
async fn http_error_rate_is_per_request_and_reproducible() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let proxy = ProxyServer::new(seed);
        let (upstream, _) = http_upstream().await;
        let addr = http_link(&proxy, "web", upstream).await;
        let error = HttpError::new(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            None,
            HttpMatch::default(),
        );
        proxy
            .add_toxic("web", ToxicConfig::new("flaky", error).with_toxicity(0.3))
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..60 {
            out.push(get(addr, "/").await.unwrap());
        }
        let stats = proxy.stats("web").unwrap();
        let injected = out.iter().filter(|s| **s == 503).count() as u64;
        assert_eq!(stats.toxics[0].injected, injected);
        out
    }
    let a = statuses(5).await;
    assert_eq!(a, statuses(5).await);
    assert_ne!(a, statuses(6).await);
    let predicted: Vec<u16> = (0..60)
        .map(|i| {
            if seeding::applies(5, &seeding::request_stream("web", "flaky", i), 0.3) {
                503
            } else {
                200
            }
        })
        .collect();
    assert_eq!(a, predicted);
    let rate = a.iter().filter(|s| **s == 503).count() as f64 / 60.0;
    assert!((0.1..0.55).contains(&rate), "{rate}");
}

#[tokio::test]
async fn http_toxics_match_method_path_and_header() {
    let proxy = ProxyServer::new(1);
    let (upstream, _) = http_upstream().await;
    let addr = http_link(&proxy, "web", upstream).await;
    let only = HttpMatch::default()
        .method(hyper::Method::POST)
        .path_prefix("/api")
        .header(
            hyper::header::HeaderName::from_static("x-chaos"),
            Some("on".into()),
        );
    let error = HttpError::new(
        hyper::StatusCode::INTERNAL_SERVER_ERROR,
        Some("boom".into()),
        only,
    );
    proxy
        .add_toxic("web", ToxicConfig::new("e", error))
        .unwrap();
    let chaos = [("X-Chaos", "on")];
    assert_eq!(
        http(addr, "POST", "/api/x", &chaos, "{}").await.unwrap(),
        (500, "boom".to_string())
    );
    assert_eq!(
        http(addr, "GET", "/api/x", &chaos, "").await.unwrap().0,
        200
    );
    assert_eq!(
        http(addr, "POST", "/health", &chaos, "{}").await.unwrap().0,
        200
    );
    assert_eq!(
        http(addr, "POST", "/api/x", &[], "{}").await.unwrap().0,
        200
    );
}

#[tokio::test]
async fn upstream_errors_never_reach_the_upstream_and_downstream_ones_do() {
    let proxy = ProxyServer::new(1);
    let (upstream, seen) = http_upstream().await;
    let addr = http_link(&proxy, "web", upstream).await;
    let error = |name: &str, stream| {
        let e = HttpError::new(
            hyper::StatusCode::TOO_MANY_REQUESTS,
            None,
            HttpMatch::default(),
        );
        ToxicConfig::new(name, e).with_stream(stream)
    };
    proxy
        .add_toxic("web", error("before", Stream::Upstream))
        .unwrap();
    assert_eq!(get(addr, "/").await, Some(429));
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    proxy.remove_toxic("web", "before").unwrap();
    proxy
        .add_toxic("web", error("after", Stream::Downstream))
        .unwrap();
    assert_eq!(get(addr, "/").await, Some(429));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http_abort_closes_without_a_response() {
    let proxy = ProxyServer::new(1);
    let (upstream, _) = http_upstream().await;
    let addr = http_link(&proxy, "web", upstream).await;
    let abort = HttpAbort::new(HttpMatch::default().path_prefix("/abort"));
    proxy
        .add_toxic("web", ToxicConfig::new("cut", abort))
        .unwrap();
    assert_eq!(get(addr, "/abort/now").await, None);
    assert_eq!(get(addr, "/fine").await, Some(200));
    assert_eq!(proxy.stats("web").unwrap().injected_errors, 1);
}

#[tokio::test]
async fn http_delay_and_stream_toxics_both_slow_http_links() {
    let proxy = ProxyServer::new(1);
    let (upstream, _) = http_upstream().await;
    let addr = http_link(&proxy, "web", upstream).await;
    let delay = HttpDelay::new(
        Distribution::Fixed { value: 300.0 },
        HttpMatch::default().path_prefix("/slow"),
    )
    .unwrap();
    proxy
        .add_toxic(
            "web",
            ToxicConfig::new("d", delay).with_stream(Stream::Upstream),
        )
        .unwrap();
    let start = Instant::now();
    assert_eq!(get(addr, "/slow").await, Some(200));
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    let start = Instant::now();
    assert_eq!(get(addr, "/fast").await, Some(200));
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );

    proxy
        .add_toxic("web", ToxicConfig::new("lag", Latency::toxiproxy(100, 0)))
        .unwrap();
    let start = Instant::now();
    assert_eq!(get(addr, "/fast").await, Some(200));
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------- pfi proxy serve

/// A running `pfi proxy serve`, killed when dropped.
struct Served {
    child: Child,
    api: SocketAddr,
    lines: Vec<String>,
}

impl Served {
    fn start(extra: &[&str]) -> Served {
        let mut child = pfi()
            .args(["proxy", "serve", "--port", "0", "--seed", "7"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let api = line
            .split_whitespace()
            .find_map(|w| w.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let mut lines = vec![line];
        let proxies = extra.contains(&"--config");
        if proxies {
            let mut more = String::new();
            reader.read_line(&mut more).unwrap();
            lines.push(more);
        }
        Served { child, api, lines }
    }

    async fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (status, text) = http(self.api, method, path, &[], body).await.unwrap();
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_answers_toxiproxy_documented_requests_with_toxiproxy_shapes() {
    let server = Served::start(&[]);
    let echo = echo_server().await;

    let (status, version) = server.call("GET", "/version", "").await;
    assert_eq!(status, 200);
    assert!(version["version"].as_str().unwrap().starts_with("2."));
    assert_eq!(server.call("GET", "/proxies", "").await, (200, json!({})));

    // Create a proxy (as the Ruby/Go clients and the Chaos Toolkit extension do).
    let create = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": echo.to_string(), "enabled": true});
    let (status, created) = server.call("POST", "/proxies", &create.to_string()).await;
    assert_eq!(status, 201);
    let listen: SocketAddr = created["listen"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0);
    assert_eq!(
        created,
        json!({"name": "redis", "listen": listen.to_string(), "upstream": echo.to_string(), "enabled": true, "toxics": [], "kind": "tcp"})
    );
    let (status, dup) = server.call("POST", "/proxies", &create.to_string()).await;
    assert_eq!(status, 409);
    assert_eq!(dup["status"], 409);
    assert!(
        dup["error"]
            .as_str()
            .unwrap()
            .starts_with("proxy already exists")
    );

    // Add a toxic with Toxiproxy's defaults (downstream, toxicity 1, name type_stream).
    let (status, toxic) = server
        .call(
            "POST",
            "/proxies/redis/toxics",
            r#"{"type": "latency", "attributes": {"latency": 150, "jitter": 10}}"#,
        )
        .await;
    assert_eq!(status, 200);
    let expected = json!({"attributes": {"latency": 150, "jitter": 10}, "name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0});
    assert_eq!(toxic, expected);
    assert_eq!(
        server.call("GET", "/proxies/redis/toxics", "").await,
        (200, json!([expected]))
    );
    let (_, all) = server.call("GET", "/proxies", "").await;
    assert_eq!(all["redis"]["toxics"], json!([expected]));

    // Traffic through the proxy sees the latency.
    let mut stream = TcpStream::connect(listen).await.unwrap();
    assert!(round_trip(&mut stream, b"GET omg").await >= Duration::from_millis(140));

    // A partial update keeps the other attributes; PATCH and POST both work.
    let (status, updated) = server
        .call(
            "POST",
            "/proxies/redis/toxics/latency_downstream",
            r#"{"attributes": {"latency": 20}}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["attributes"], json!({"latency": 20, "jitter": 10}));
    let (_, updated) = server
        .call(
            "PATCH",
            "/proxies/redis/toxics/latency_downstream",
            r#"{"toxicity": 0.5}"#,
        )
        .await;
    assert_eq!(updated["toxicity"], json!(0.5));
    assert_eq!(
        server
            .call("GET", "/proxies/redis/toxics/latency_downstream", "")
            .await
            .1,
        updated
    );

    // Delete it; a second delete is a 404 in Toxiproxy's error shape.
    assert_eq!(
        server
            .call("DELETE", "/proxies/redis/toxics/latency_downstream", "")
            .await
            .0,
        204
    );
    let (status, missing) = server
        .call("DELETE", "/proxies/redis/toxics/latency_downstream", "")
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["status"], 404);
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .starts_with("toxic not found")
    );

    // Disable: connections refused; enable again: they work.
    let (status, disabled) = server
        .call("POST", "/proxies/redis", r#"{"enabled": false}"#)
        .await;
    assert_eq!((status, disabled["enabled"].clone()), (200, json!(false)));
    assert!(TcpStream::connect(listen).await.is_err());
    let (_, enabled) = server
        .call("PATCH", "/proxies/redis", r#"{"enabled": true}"#)
        .await;
    assert_eq!(enabled["enabled"], json!(true));
    let mut stream = TcpStream::connect(listen).await.unwrap();
    round_trip(&mut stream, b"again").await;

    // Reset removes toxics and enables every proxy.
    server
        .call(
            "POST",
            "/proxies/redis/toxics",
            r#"{"type": "timeout", "attributes": {"timeout": 0}}"#,
        )
        .await;
    server
        .call("POST", "/proxies/redis", r#"{"enabled": false}"#)
        .await;
    assert_eq!(server.call("POST", "/reset", "").await.0, 204);
    let (_, after) = server.call("GET", "/proxies/redis", "").await;
    assert_eq!(
        (after["enabled"].clone(), after["toxics"].clone()),
        (json!(true), json!([]))
    );

    // Populate: the unchanged proxy is kept, the new one created.
    let populate = json!([
        {"name": "redis", "listen": listen.to_string(), "upstream": echo.to_string()},
        {"name": "mysql", "listen": "127.0.0.1:0", "upstream": echo.to_string()},
    ]);
    let (status, populated) = server
        .call("POST", "/populate", &populate.to_string())
        .await;
    assert_eq!(status, 201);
    let names: Vec<&str> = populated["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["redis", "mysql"]);
    assert_eq!(populated["proxies"][0]["listen"], json!(listen.to_string()));
    assert_eq!(server.call("DELETE", "/proxies/mysql", "").await.0, 204);
    assert_eq!(server.call("GET", "/proxies/mysql", "").await.0, 404);

    let (status, metrics) = server.call("GET", "/metrics", "").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("pfi_proxy_connections_total{proxy=\"redis\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("toxiproxy_proxy_sent_bytes_total{direction=\"upstream\""));
}

#[tokio::test]
async fn serve_refuses_bad_input_with_a_4xx_and_changes_nothing() {
    let server = Served::start(&[]);
    let echo = echo_server().await;
    let create = json!({"name": "db", "listen": "127.0.0.1:0", "upstream": echo.to_string()});
    assert_eq!(
        server.call("POST", "/proxies", &create.to_string()).await.0,
        201
    );
    let (_, before) = server.call("GET", "/proxies", "").await;

    let taken = std::net::TcpListener::bind(local()).unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/proxies", "{not json".into(), 400, "bad request body"),
        ("POST", "/proxies", r#"{"upstream": "127.0.0.1:1"}"#.into(), 400, "missing required field: name"),
        ("POST", "/proxies", r#"{"name": "x"}"#.into(), 400, "missing required field: upstream"),
        ("POST", "/proxies", r#"{"name": "x", "upstream": "nohost"}"#.into(), 400, "host:port"),
        ("POST", "/proxies", json!({"name": "x", "listen": taken_addr, "upstream": "127.0.0.1:1"}).to_string(), 409, "already in use"),
        ("POST", "/proxies/db/toxics", r#"{"type": "lagg"}"#.into(), 400, "invalid toxic type"),
        ("POST", "/proxies/db/toxics", r#"{"type": "bandwidth", "attributes": {"rate": -5}}"#.into(), 400, "`rate`"),
        ("POST", "/proxies/db/toxics", r#"{"type": "latency", "attributes": {"latency": "slow"}}"#.into(), 400, "`latency`"),
        ("POST", "/proxies/db/toxics", r#"{"type": "latency", "toxicity": 2}"#.into(), 400, "toxicity"),
        ("POST", "/proxies/db/toxics", r#"{"type": "latency", "stream": "sideways"}"#.into(), 400, "stream was invalid"),
        ("POST", "/proxies/db/toxics", r#"{"type": "http_error"}"#.into(), 400, "tcp link"),
        ("POST", "/proxies/nope/toxics", r#"{"type": "latency"}"#.into(), 404, "proxy not found"),
        ("POST", "/populate", r#"[{"name": "a", "upstream": "127.0.0.1:1"}, {"name": "a", "upstream": "127.0.0.1:1"}]"#.into(), 400, "duplicate"),
        ("PUT", "/proxies", String::new(), 405, "not allowed"),
        ("GET", "/nowhere", String::new(), 404, "no such endpoint"),
    ];
    for (method, path, body, status, needle) in cases {
        let (got, error) = server.call(method, path, &body).await;
        assert_eq!(got, status, "{method} {path} {body}: {error}");
        assert_eq!(error["status"], json!(status));
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{method} {path} {body}: {message}"
        );
    }
    assert_eq!(server.call("GET", "/proxies", "").await.1, before);

    let browser = http(
        server.api,
        "GET",
        "/proxies",
        &[("User-Agent", "Mozilla/5.0")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(browser.0, 403);
}

#[tokio::test]
async fn serve_creates_the_proxies_of_a_config_file_and_stops_on_sigterm() {
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("toxiproxy.json");
    let proxies = json!([{"name": "web_dev_frontend_1", "listen": "127.0.0.1:0", "upstream": echo.to_string(), "enabled": true}]);
    std::fs::write(&config, proxies.to_string()).unwrap();
    let mut server = Served::start(&["--config", config.to_str().unwrap()]);
    assert!(
        server.lines[1].starts_with("proxy web_dev_frontend_1 listening on 127.0.0.1:"),
        "{:?}",
        server.lines
    );
    let (_, proxy) = server.call("GET", "/proxies/web_dev_frontend_1", "").await;
    let listen: SocketAddr = proxy["listen"].as_str().unwrap().parse().unwrap();
    let mut stream = TcpStream::connect(listen).await.unwrap();
    round_trip(&mut stream, b"hi").await;

    let pid = i32::try_from(server.child.id()).unwrap();
    // SAFETY: sends SIGTERM to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(TcpStream::connect(listen).await.is_err());
}

#[test]
fn serve_exits_2_on_a_bad_config_and_3_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"[{"name": "x"}]"#).unwrap();
    let out = pfi()
        .args([
            "proxy",
            "serve",
            "--port",
            "0",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing required field: upstream"));
    // Nothing said it was listening: a bad config is only an error.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");

    let taken = std::net::TcpListener::bind(local()).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = pfi()
        .args(["proxy", "serve", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&port) && stderr.contains("help:"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- the in-kernel fast path

/// A proxy whose TCP links forward inside the kernel, or `None` (with a note) where this
/// machine does not allow it (it needs Linux and root: CI has both).
fn kernel_proxy(test: &str) -> Option<ProxyServer> {
    let proxy = ProxyServer::new(1);
    proxy.set_kernel_redirect(true);
    if proxy.kernel_redirect() {
        Some(proxy)
    } else {
        eprintln!("skipped {test}: in-kernel forwarding needs CAP_BPF and CAP_NET_ADMIN");
        None
    }
}

/// Bytes that do not repeat within a few MiB, so a lost or reordered chunk shows.
fn pattern(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// Waits until the link has no open connection (so its byte counters are final).
async fn settled(proxy: &ProxyServer, link: &str) -> pfi::proxy::LinkStats {
    for _ in 0..200 {
        let stats = proxy.stats(link).unwrap();
        if stats.connections_active == 0 {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{link} still has open connections");
}

/// Connects to an echo link, sends one byte and reads it back, then stays quiet until the
/// proxy has judged the connection light (1 byte in the 250 ms after its first transfer),
/// so it is in the kernel's fast path.
async fn connect_light(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut stream, b".").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream
}

/// Sends `data` through an echo connection while reading it back; what came back.
async fn echo_through(stream: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let read = async {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    tokio::join!(write, read).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_connections_stay_in_user_space_and_light_ones_go_in_the_kernel() {
    let Some(proxy) = kernel_proxy("bulk_connections_stay_in_user_space") else {
        return;
    };
    let addr = tcp_link(&proxy, "bulk", echo_server().await).await;
    let data = pattern(16 << 20, 13);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let got = echo_through(&mut stream, &data).await;
    assert!(got == data, "the echo differs from what was sent");
    let stats = settled(&proxy, "bulk").await;
    assert_eq!(stats.connections_redirected, 0, "bulk went in the kernel");
    assert_eq!(stats.bytes_upstream, data.len() as u64);
    assert_eq!(stats.bytes_downstream, data.len() as u64);
    // Quiet at first, then bulk: silence is not judged light.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = echo_through(&mut stream, &data).await;
    assert!(got == data, "the echo differs from what was sent");
    let stats = settled(&proxy, "bulk").await;
    assert_eq!(
        stats.connections_redirected, 0,
        "idle, then bulk went in the kernel"
    );
    assert_eq!(stats.bytes_upstream, 2 * data.len() as u64);
    // Request and answer, a few bytes at a time: light.
    let addr = tcp_link(&proxy, "chat", echo_server().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for i in 0..64u8 {
        let message = [i; 100];
        round_trip(&mut stream, &message).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = round_trip(&mut stream, b"in the kernel").await;
    assert!(after < Duration::from_secs(1), "{after:?}");
    assert_eq!(proxy.stats("chat").unwrap().connections_in_kernel, 1);
    let metrics = pfi::proxy::metrics::render(&proxy.all_stats());
    assert!(metrics.contains("pfi_proxy_connections_in_kernel{proxy=\"chat\"} 1"));
    drop(stream);
    let stats = settled(&proxy, "chat").await;
    assert_eq!(stats.connections_in_kernel, 0);
    assert_eq!(
        stats.connections_redirected, 1,
        "a light connection stayed out"
    );
    assert_eq!(stats.bytes_upstream, 64 * 100 + 13);
    assert_eq!(stats.bytes_downstream, 64 * 100 + 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_toxics_tcp_links_forward_in_the_kernel_byte_for_byte() {
    let Some(proxy) = kernel_proxy("without_toxics_tcp_links_forward_in_the_kernel") else {
        return;
    };
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = connect_light(addr).await;
    assert_eq!(proxy.stats("echo").unwrap().connections_in_kernel, 1);
    let data = pattern(24 << 20, 7);
    let got = echo_through(&mut stream, &data).await;
    assert!(got == data, "the echo differs from what was sent");
    let stats = settled(&proxy, "echo").await;
    assert_eq!(stats.connections_redirected, 1);
    assert_eq!(stats.bytes_upstream, data.len() as u64 + 1);
    assert_eq!(stats.bytes_downstream, data.len() as u64 + 1);
    let metrics = pfi::proxy::metrics::render(&proxy.all_stats());
    assert!(metrics.contains("pfi_proxy_connections_redirected_total{proxy=\"echo\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toxic_added_mid_stream_takes_over_without_losing_or_reordering_a_byte() {
    let Some(proxy) = kernel_proxy("a_toxic_added_mid_stream_takes_over") else {
        return;
    };
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = connect_light(addr).await;
    let data = pattern(32 << 20, 11);
    let (mut r, mut w) = stream.split();
    let write = async {
        for piece in data.chunks(256 << 10) {
            w.write_all(piece).await.unwrap();
        }
    };
    let read = async {
        let mut got = vec![0u8; data.len()];
        let mut filled = 0;
        let mut toxic_added = false;
        while filled < got.len() {
            let n = r.read(&mut got[filled..]).await.unwrap();
            assert!(n > 0, "closed after {filled} bytes");
            filled += n;
            if !toxic_added && filled > data.len() / 3 {
                let lag = Latency::toxiproxy(30, 0);
                proxy
                    .add_toxic("echo", ToxicConfig::new("lag", lag))
                    .unwrap();
                toxic_added = true;
            }
        }
        got
    };
    let ((), got) = tokio::join!(write, read);
    let first_difference = got.iter().zip(&data).position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "the echo differs from what was sent"
    );
    // The same connection now runs through the toxic.
    let took = round_trip(&mut stream, b"after").await;
    assert!(took >= Duration::from_millis(29), "no latency: {took:?}");
    drop(stream);
    let stats = settled(&proxy, "echo").await;
    assert_eq!(stats.connections_redirected, 1);
    assert_eq!(stats.bytes_upstream, data.len() as u64 + 1 + 5);
    assert_eq!(stats.bytes_downstream, data.len() as u64 + 1 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_keeps_half_closes_early_data_and_server_greetings() {
    let Some(proxy) = kernel_proxy("the_fast_path_keeps_half_closes") else {
        return;
    };
    // Half-close: the server answers after the client's end of stream, then closes.
    let listener = TcpListener::bind(local()).await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                socket.read_to_end(&mut got).await.unwrap();
                let answer = format!("got {} bytes", got.len());
                socket.write_all(answer.as_bytes()).await.unwrap();
            });
        }
    });
    let addr = tcp_link(&proxy, "counter", upstream).await;
    // One byte, then quiet: judged light, in the kernel.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b".").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream.write_all(&pattern(3 << 20, 3)).await.unwrap();
    stream.shutdown().await.unwrap();
    let (answer, end) = read_until_closed(&mut stream).await;
    end.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer),
        format!("got {} bytes", (3 << 20) + 1)
    );
    // Data sent before the proxy could set the connection up.
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut eager = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut eager, b"straight away").await;
    round_trip(&mut eager, &pattern(1 << 20, 5)).await;
    // A server that speaks first and closes.
    let greeting = pattern(2 << 20, 9);
    let addr = tcp_link(&proxy, "talker", talker(greeting.clone()).await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (got, end) = read_until_closed(&mut stream).await;
    end.unwrap();
    assert!(got == greeting, "the greeting arrived changed");
    drop((eager, stream));
    // The talker's whole greeting may be read before its sockets are in the sockmap.
    for (link, up, down, redirected) in [
        ("counter", (3 << 20) + 1, answer.len() as u64, &[1][..]),
        // Judged light or heavy depending on how fast the machine moved the MiB.
        ("echo", 13 + (1 << 20), 13 + (1 << 20), &[0, 1]),
        ("talker", 0, 2 << 20, &[0, 1]),
    ] {
        let stats = settled(&proxy, link).await;
        let n = stats.connections_redirected;
        assert!(redirected.contains(&n), "{link}: {n} redirected");
        assert_eq!(
            (stats.bytes_upstream, stats.bytes_downstream),
            (up, down),
            "{link}"
        );
    }
}

#[tokio::test]
async fn the_fast_path_is_on_by_default_where_the_machine_allows_it() {
    if std::env::var_os("PFI_KERNEL_REDIRECT").is_some() {
        eprintln!("skipped the_fast_path_is_on_by_default: PFI_KERNEL_REDIRECT is set");
        return;
    }
    let allowed = kernel_proxy("the_fast_path_is_on_by_default").is_some();
    assert_eq!(ProxyServer::new(1).kernel_redirect(), allowed);
}

#[tokio::test]
async fn the_fast_path_can_be_turned_off() {
    let proxy = ProxyServer::new(1);
    proxy.set_kernel_redirect(false);
    assert!(!proxy.kernel_redirect());
    let addr = tcp_link(&proxy, "echo", echo_server().await).await;
    let mut stream = connect_light(addr).await;
    round_trip(&mut stream, &pattern(1 << 20, 1)).await;
    drop(stream);
    let stats = settled(&proxy, "echo").await;
    assert_eq!(stats.connections_redirected, 0);
    assert_eq!(stats.bytes_upstream, (1 << 20) + 1);
}

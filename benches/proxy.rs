//! The fault proxy's speed and accuracy, each figure next to a baseline measured in the same
//! run: pass-through throughput vs a direct connection and vs a bare splice forwarder (the
//! most any relay gets out of the machine), added latency without toxics,
//! latency-injection accuracy (requested vs measured, KS distance), and the control API's
//! latency while toxics change under heavy traffic.
//!
//! Run with `cargo bench --bench proxy` (`-- throughput` and so on for one section;
//! `PFI_BENCH_ROUNDS=15` for more throughput rounds than the default 7: one round swings by
//! 0.05x or more on a shared 2-core VM, so compare medians and quartiles, not single runs).

use pfi::plan::Distribution;
use pfi::plan::seed::rng_for;
use pfi::proxy::toxics::Latency;
use pfi::proxy::{Direction, LinkConfig, ProxyServer, ToxicConfig, api, seeding};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const SEED: u64 = 2024;

/// Runs every section, or only those named on the command line
/// (`cargo bench --bench proxy -- throughput latency accuracy api`).
/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    println!("pfi proxy benchmark (baselines measured in the same run)\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let proxy = runtime.block_on(async { ProxyServer::new(SEED) });
    if wanted("throughput") {
        throughput(&runtime, &proxy);
    }
    if wanted("latency") {
        added_latency(&runtime, &proxy);
    }
    if wanted("accuracy") {
        injection_accuracy(
            &runtime,
            &proxy,
            "fixed 50 ms",
            Distribution::Fixed { value: 50.0 },
            50,
        );
        let normal = Distribution::Normal {
            mean: 100.0,
            sd: 20.0,
        };
        injection_accuracy(&runtime, &proxy, "normal(100 ms, 20 ms)", normal, 100);
    }
    if wanted("api") {
        control_api_under_traffic(&runtime, &proxy);
    }
    runtime.block_on(proxy.shutdown());
}

// ---------------------------------------------------------------- servers

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A sink: each connection is read to EOF (on `cpu` if given); the byte count and end time
/// are sent on `tx`.
fn sink(cpu: Option<usize>) -> (SocketAddr, mpsc::Receiver<(u64, Instant)>) {
    let listener = TcpListener::bind(local()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                if let Some(cpu) = cpu {
                    pin_to(cpu);
                }
                let mut buf = vec![0u8; 256 * 1024];
                let mut total = 0u64;
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                let _ = tx.send((total, Instant::now()));
            });
        }
    });
    (addr, rx)
}

/// A blocking echo server, one thread per connection.
fn echo() -> SocketAddr {
    let listener = TcpListener::bind(local()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_nodelay(true);
            thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The machine's ceiling for a relay: the least a TCP forwarder can do, with none of the
/// proxy's work (no runtime, no toxics, no counters, no probation): per connection two
/// blocking threads, each splicing one direction through a pipe (on `cpu` if given).
fn bare_forwarder(upstream: SocketAddr, cpu: Option<usize>) -> SocketAddr {
    let listener = TcpListener::bind(local()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            for (from, to) in [(client, server), (server2, client2)] {
                thread::spawn(move || {
                    if let Some(cpu) = cpu {
                        pin_to(cpu);
                    }
                    bare_splice(&from, &to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    addr
}

/// Splices `from` into `to` until the end of the stream or an error (blocking calls).
fn bare_splice(from: &TcpStream, to: &TcpStream) {
    use std::os::fd::AsRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array it is given; F_SETPIPE_SZ only
    // affects that pipe.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return;
        }
        libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 1 << 20);
    }
    let splice = |a: i32, b: i32, len: usize| {
        // SAFETY: both descriptors stay open for the call; null offsets for sockets and pipes.
        unsafe {
            libc::splice(
                a,
                std::ptr::null_mut(),
                b,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        }
    };
    'copy: loop {
        let n = splice(from.as_raw_fd(), fds[1], 1 << 20);
        if n <= 0 {
            break;
        }
        let mut left = n as usize;
        while left > 0 {
            let m = splice(fds[0], to.as_raw_fd(), left);
            if m <= 0 {
                break 'copy;
            }
            left -= m as usize;
        }
    }
    // SAFETY: the pipe's descriptors are ours and used no more.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
}

fn add_link(
    runtime: &tokio::runtime::Runtime,
    proxy: &ProxyServer,
    name: &str,
    upstream: SocketAddr,
) -> SocketAddr {
    runtime
        .block_on(proxy.add_link(LinkConfig::tcp(name, local(), upstream.to_string())))
        .expect("add link")
        .listen
}

// ---------------------------------------------------------------- throughput

/// How a connection starts before its bulk data.
#[derive(Clone, Copy)]
enum Start {
    /// Bulk from the first byte.
    Bulk,
    /// Quiet for 400 ms, then bulk.
    Idle,
    /// One byte, quiet for 400 ms (judged light: in the kernel's fast path), then bulk.
    Light,
}

/// Connects, starts as `start` says, writes 64 KiB blocks for `secs`, then returns bytes/s
/// as seen by the sink (from the first block).
fn blast(
    addr: SocketAddr,
    results: &mpsc::Receiver<(u64, Instant)>,
    start: Start,
    secs: f64,
) -> f64 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    if let Start::Light = start {
        stream.write_all(b".").expect("write");
    }
    if let Start::Idle | Start::Light = start {
        thread::sleep(Duration::from_millis(400));
    }
    let block = vec![0x5au8; 64 * 1024];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        stream.write_all(&block).expect("write");
    }
    stream.shutdown(Shutdown::Write).expect("shutdown");
    let (bytes, end) = results.recv().expect("sink result");
    bytes as f64 / (end - start).as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time used by this whole process so far (client, sink and proxy all run in it).
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Pins the calling thread to one CPU (the benchmark's own threads only).
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET and sched_setaffinity only touch
    // the set given and the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Lets the calling thread run on every CPU again.
fn unpin(cores: usize) {
    // SAFETY: as in `pin_to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..cores {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Rounds of one direct and one proxied transfer, interleaved so that drifts in the machine
/// (other tenants of the VM, frequency) hit both alike; `PFI_BENCH_ROUNDS` overrides it.
const ROUNDS: usize = 7;

fn rounds() -> usize {
    std::env::var("PFI_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(ROUNDS)
}

/// What `measure` found: bytes/s and CPU s per byte for the direct connection, the bare
/// splice forwarder and the proxy, and the ratio of each round's rates to the direct one
/// measured just before them.
struct Throughput {
    direct: (f64, f64),
    bare: (f64, f64),
    proxied: (f64, f64),
    /// Proxied over direct, round by round, sorted.
    round_ratios: Vec<f64>,
    /// The bare forwarder over direct, round by round, sorted.
    bare_ratios: Vec<f64>,
}

/// Direct, bare-forwarder and proxied throughput over `rounds()` interleaved rounds, after
/// one unmeasured warm-up transfer each (TCP buffer auto-tuning, page allocation).
fn measure(
    sink_addr: SocketAddr,
    bare: SocketAddr,
    via: SocketAddr,
    results: &mpsc::Receiver<(u64, Instant)>,
    start: Start,
) -> Throughput {
    let targets = [sink_addr, bare, via];
    for addr in targets {
        blast(addr, results, start, 0.5);
    }
    let rounds = rounds();
    let mut runs = [Vec::new(), Vec::new(), Vec::new()];
    let mut cpu_per_byte = [0.0; 3];
    for _ in 0..rounds {
        for (i, addr) in targets.into_iter().enumerate() {
            let cpu = cpu_seconds();
            let rate = blast(addr, results, start, 1.0);
            cpu_per_byte[i] += (cpu_seconds() - cpu) / rate / rounds as f64;
            runs[i].push(rate);
        }
    }
    let [direct, bare, proxied] = runs;
    let over_direct = |runs: &[f64]| sorted(direct.iter().zip(runs).map(|(d, p)| p / d).collect());
    Throughput {
        round_ratios: over_direct(&proxied),
        bare_ratios: over_direct(&bare),
        direct: (median(direct), cpu_per_byte[0]),
        bare: (median(bare), cpu_per_byte[1]),
        proxied: (median(proxied), cpu_per_byte[2]),
    }
}

fn print_throughput(heading: &str, figures: Throughput) {
    let ((d, d_cpu), (b, b_cpu), (p, p_cpu)) = (figures.direct, figures.bare, figures.proxied);
    let quartiles = |ratios: &[f64]| {
        format!(
            "median {:.2}x, quartiles {:.2}x to {:.2}x, lowest {:.2}x",
            quantile(ratios, 0.5),
            quantile(ratios, 0.25),
            quantile(ratios, 0.75),
            ratios[0]
        )
    };
    println!("{heading}");
    println!(
        "  direct            {:>9.0} MB/s   CPU {:.2} s per GB (client + sink)",
        d / 1e6,
        d_cpu * 1e9
    );
    println!(
        "  bare forwarder    {:>9.0} MB/s   CPU {:.2} s per GB (client + forwarder + sink)",
        b / 1e6,
        b_cpu * 1e9
    );
    println!(
        "  through the proxy {:>9.0} MB/s   CPU {:.2} s per GB (client + proxy + sink)",
        p / 1e6,
        p_cpu * 1e9
    );
    println!(
        "  ratio {:.2}x (target >= 0.9x); the proxy adds {:.2} CPU s per GB",
        p / d,
        (p_cpu - d_cpu) * 1e9
    );
    println!(
        "  round by round: {}; the bare forwarder {}",
        quartiles(&figures.round_ratios),
        quartiles(&figures.bare_ratios)
    );
    println!(
        "  the proxy moves {:.2}x what the bare forwarder moves (the machine's ceiling for a relay)",
        p / b
    );
}

/// Pass-through throughput, twice: with the scheduler free to place the client, the proxy
/// and the sink, and with them pinned the way proxy benchmarks lay them out (client on the
/// first CPU, sink on the second, proxy on a third, or beside the sink when there are only
/// two). The client blocks on 64 KiB writes and the sink on 256 KiB reads, as iperf3 does.
fn throughput(runtime: &tokio::runtime::Runtime, proxy: &ProxyServer) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let (sink_addr, results) = sink(None);
    let bare = bare_forwarder(sink_addr, None);
    let via = add_link(runtime, proxy, "bulk", sink_addr);
    proxy.set_kernel_redirect(true);
    let kernel = proxy.kernel_redirect();
    let path = if kernel {
        "fast path on (light connections go in the kernel, bulk ones stay on splice)"
    } else {
        "user space (the in-kernel fast path needs root)"
    };
    print_throughput(
        &format!(
            "pass-through throughput, scheduler's placement, {path} (1 new connection per run, median of {} x 1 s, {cores} cores)",
            rounds()
        ),
        measure(sink_addr, bare, via, &results, Start::Bulk),
    );
    if kernel {
        print_throughput(
            "the same, each connection quiet for 400 ms first (not judged until it moves data: bulk, on splice)",
            measure(sink_addr, bare, via, &results, Start::Idle),
        );
        print_throughput(
            "the same, each connection sending 1 byte and then quiet for 400 ms first (judged light: its bulk data goes through the kernel's fast path)",
            measure(sink_addr, bare, via, &results, Start::Light),
        );
        proxy.set_kernel_redirect(false);
        print_throughput(
            "the same, fast path off (splice only)",
            measure(sink_addr, bare, via, &results, Start::Bulk),
        );
    }
    runtime.block_on(proxy.remove_link("bulk")).expect("remove");
    if cores < 2 {
        println!();
        return;
    }
    let proxy_cpu = 2.min(cores - 1);
    let pinned = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(move || pin_to(proxy_cpu))
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let pinned_proxy = pinned.block_on(async { ProxyServer::new(SEED) });
    pinned_proxy.set_kernel_redirect(true);
    let (sink_addr, results) = sink(Some(1));
    let bare = bare_forwarder(sink_addr, Some(proxy_cpu));
    let via = add_link(&pinned, &pinned_proxy, "bulk", sink_addr);
    pin_to(0);
    let figures = measure(sink_addr, bare, via, &results, Start::Bulk);
    unpin(cores);
    print_throughput(
        &format!("pinned: client on CPU 0, sink on CPU 1, proxy (1 worker) on CPU {proxy_cpu}"),
        figures,
    );
    println!();
    pinned.block_on(pinned_proxy.shutdown());
}

// ---------------------------------------------------------------- added latency

/// One 64-byte message out and back; how long it took.
fn echo_once(stream: &mut TcpStream) -> Duration {
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    let start = Instant::now();
    stream.write_all(&msg).expect("write");
    stream.read_exact(&mut back).expect("read");
    start.elapsed()
}

fn round_trips(addr: SocketAddr, n: usize) -> Vec<f64> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    for _ in 0..1_000 {
        echo_once(&mut stream);
    }
    (0..n)
        .map(|_| echo_once(&mut stream).as_secs_f64() * 1e6)
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn added_latency(runtime: &tokio::runtime::Runtime, proxy: &ProxyServer) {
    let upstream = echo();
    let via = add_link(runtime, proxy, "rtt", upstream);
    let direct = sorted(round_trips(upstream, 20_000));
    let (d50, d99) = (quantile(&direct, 0.5), quantile(&direct, 0.99));
    println!("added latency without toxics (64-byte echo round trips, 20,000 each)");
    println!("  direct            p50 {d50:>7.1} µs   p99 {d99:>7.1} µs");
    proxy.set_kernel_redirect(true);
    let kernel = proxy.kernel_redirect();
    for (path, in_kernel) in [
        ("fast path on (judged light)", true),
        ("fast path off (splice)", false),
    ] {
        if in_kernel && !kernel {
            continue;
        }
        proxy.set_kernel_redirect(in_kernel);
        let proxied = sorted(round_trips(via, 20_000));
        let (p50, p99) = (quantile(&proxied, 0.5), quantile(&proxied, 0.99));
        println!("  through the proxy, {path}: p50 {p50:>7.1} µs   p99 {p99:>7.1} µs");
        println!(
            "  added             p50 {:>7.1} µs   p99 {:>7.1} µs   (target p99 <= 50 µs)",
            p50 - d50,
            p99 - d99
        );
    }
    proxy.set_kernel_redirect(false);
    println!();
    runtime.block_on(proxy.remove_link("rtt")).expect("remove");
}

// ---------------------------------------------------------------- injection accuracy

/// Round trips of 64 bytes on every stream, one client thread each, started spread over one
/// mean delay (`mean_ms`) so that requests arrive evenly instead of in bursts; the times in ms.
fn load(streams: Vec<TcpStream>, mean_ms: f64, per_connection: usize) -> Vec<f64> {
    let spacing = Duration::from_secs_f64(mean_ms / 1e3 / streams.len() as f64);
    let handles: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let offset = spacing * u32::try_from(i).expect("few connections");
            thread::spawn(move || {
                thread::sleep(offset);
                (0..per_connection)
                    .map(|_| echo_once(&mut stream).as_secs_f64() * 1e3)
                    .collect::<Vec<f64>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect()
}

/// An echo server that sleeps `draws[connection][request]` ms (with `thread::sleep`) before
/// each answer, connections numbered in accept order; its address and how many it accepted.
fn sleeping_echo(draws: &[Vec<f64>]) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(local()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let draws = draws.to_vec();
    thread::spawn(move || {
        for delays in draws {
            let Ok((mut server, _)) = listener.accept() else {
                return;
            };
            server.set_nodelay(true).expect("nodelay");
            counter.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                for ms in delays {
                    if server.read_exact(&mut buf).is_err() {
                        return;
                    }
                    thread::sleep(Duration::from_secs_f64(ms.max(0.0) / 1e3));
                    if server.write_all(&buf).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// What this machine's timers and scheduler give without a toxic: the same load and the same
/// draws, slept by `sleeping_echo`, reached directly and through a link without toxics (in
/// user space, as a link with a toxic is). Both in ms.
fn machine_floor(
    runtime: &tokio::runtime::Runtime,
    proxy: &ProxyServer,
    draws: &[Vec<f64>],
    mean_ms: f64,
) -> [Vec<f64>; 2] {
    let connect = |via: SocketAddr, accepted: &AtomicUsize| -> Vec<TcpStream> {
        (0..draws.len())
            .map(|i| {
                let client = TcpStream::connect(via).expect("connect");
                client.set_nodelay(true).expect("nodelay");
                while accepted.load(Ordering::SeqCst) <= i {
                    thread::sleep(Duration::from_micros(200));
                }
                client
            })
            .collect()
    };
    let (addr, accepted) = sleeping_echo(draws);
    let direct = load(connect(addr, &accepted), mean_ms, draws[0].len());
    let (addr, accepted) = sleeping_echo(draws);
    let kernel = proxy.kernel_redirect();
    proxy.set_kernel_redirect(false);
    let via = add_link(runtime, proxy, "floor", addr);
    let proxied = load(connect(via, &accepted), mean_ms, draws[0].len());
    runtime
        .block_on(proxy.remove_link("floor"))
        .expect("remove");
    proxy.set_kernel_redirect(kernel);
    [direct, proxied]
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf, error < 1.5e-7).
fn normal_cdf(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / (sd * std::f64::consts::SQRT_2);
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    0.5 * (1.0 + if z >= 0.0 { erf } else { -erf })
}

/// One-sample KS distance between sorted samples and a CDF.
fn ks_cdf(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let f = cdf(*x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// Two-sample KS distance between sorted samples.
fn ks_two(a: &[f64], b: &[f64]) -> f64 {
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// `connections` clients each make `per_connection` sequential 64-byte round trips through
/// a downstream latency toxic, so about `connections / mean delay` requests per second.
fn injection_accuracy(
    runtime: &tokio::runtime::Runtime,
    proxy: &ProxyServer,
    label: &str,
    delay: Distribution,
    connections: u64,
) {
    let per_connection = 5_000 / connections as usize;
    let upstream = echo();
    let link = "accuracy";
    let via = add_link(runtime, proxy, link, upstream);
    let toxic = Latency::distribution(delay.clone()).expect("a valid distribution");
    proxy
        .add_toxic(link, ToxicConfig::new("lag", toxic))
        .expect("add toxic");
    // Connect one by one so accept order (the connection index) is 0..connections.
    let streams: Vec<TcpStream> = (0..connections)
        .map(|i| {
            let s = TcpStream::connect(via).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            while proxy.stats(link).map_or(0, |s| s.connections_total) <= i {
                thread::sleep(Duration::from_micros(200));
            }
            s
        })
        .collect();
    let start = Instant::now();
    let measured = sorted(load(streams, delay.mean(), per_connection));
    let elapsed = start.elapsed().as_secs_f64();
    // The exact delays the proxy drew: the seeding contract makes them reproducible.
    let draws: Vec<Vec<f64>> = (0..connections)
        .map(|c| {
            let stream = seeding::stage_stream(link, "lag", 0, c, Direction::Downstream);
            let mut rng = rng_for(SEED, &stream);
            (0..per_connection)
                .map(|_| delay.sample(&mut rng))
                .collect()
        })
        .collect();
    let injected = sorted(draws.iter().flatten().copied().collect());
    let [floor, floor_proxied] = machine_floor(runtime, proxy, &draws, delay.mean()).map(sorted);
    let analytic = |q: f64| match &delay {
        Distribution::Normal { mean, sd } => {
            // Inverse by bisection on the CDF.
            let (mut lo, mut hi) = (mean - 10.0 * sd, mean + 10.0 * sd);
            for _ in 0..100 {
                let mid = (lo + hi) / 2.0;
                if normal_cdf(mid, *mean, *sd) < q {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            lo
        }
        other => other.mean(),
    };
    println!(
        "latency injection, {label}: {} requests over {connections} connections in {elapsed:.1} s ({:.0} req/s)",
        measured.len(),
        measured.len() as f64 / elapsed
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        let (want, drawn, got) = (analytic(q), quantile(&injected, q), quantile(&measured, q));
        println!(
            "  {name}: requested {want:>7.2} ms   drawn {drawn:>7.2} ms   measured {got:>7.2} ms   measured-drawn {:+.2} ms   measured-requested {:+.2} ms   (target within 1 ms)",
            got - drawn,
            got - want
        );
        let (floor, through) = (quantile(&floor, q), quantile(&floor_proxied, q));
        println!(
            "       machine floor, a server sleeping the same draws: direct {floor:>7.2} ms ({:+.2} ms), through a link without toxics {through:>7.2} ms ({:+.2} ms); the toxic's own error {:+.2} ms",
            floor - drawn,
            through - drawn,
            got - through
        );
    }
    match &delay {
        Distribution::Normal { mean, sd } => {
            let vs_requested = ks_cdf(&measured, |x| normal_cdf(x, *mean, *sd));
            let vs_drawn = ks_two(&measured, &injected);
            let sampling = ks_cdf(&injected, |x| normal_cdf(x, *mean, *sd));
            println!(
                "  KS distance: measured vs requested {vs_requested:.4} (target <= 0.02); measured vs drawn {vs_drawn:.4}; drawn vs requested (sampling noise) {sampling:.4}\n"
            );
        }
        _ => {
            println!("  KS distance: n/a for a point mass (any delay above 50.000 ms gives 1.0)\n")
        }
    }
    runtime.block_on(proxy.remove_link(link)).expect("remove");
}

// ---------------------------------------------------------------- control API

fn api_call(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, f64) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(api).expect("connect api");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, start.elapsed().as_secs_f64() * 1e3)
}

/// Adds and removes toxics on the busy links for `secs`; returns sorted latencies (ms).
fn control_loop(api: SocketAddr, secs: f64) -> Vec<f64> {
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let calls = [
            (
                "POST",
                "/proxies/bulk/toxics",
                r#"{"name": "lag", "type": "latency", "attributes": {"latency": 1}}"#,
            ),
            (
                "POST",
                "/proxies/chat/toxics",
                r#"{"name": "bw", "type": "bandwidth", "stream": "both", "attributes": {"rate": 100000}}"#,
            ),
            (
                "PATCH",
                "/proxies/bulk/toxics/lag",
                r#"{"attributes": {"latency": 2}}"#,
            ),
            ("GET", "/proxies", ""),
            ("DELETE", "/proxies/bulk/toxics/lag", ""),
            ("DELETE", "/proxies/chat/toxics/bw", ""),
        ];
        for (method, path, body) in calls {
            let (status, ms) = api_call(api, method, path, body);
            assert!(status < 300, "{method} {path} answered {status}");
            latencies.push(ms);
        }
    }
    sorted(latencies)
}

fn control_api_under_traffic(runtime: &tokio::runtime::Runtime, proxy: &ProxyServer) {
    let (sink_addr, results) = sink(None);
    let bulk = add_link(runtime, proxy, "bulk", sink_addr);
    let chat = add_link(runtime, proxy, "chat", echo());
    // As `pfi proxy serve` does: the API on a thread of its own, links on the runtime.
    let api_thread =
        api::ApiThread::start(TcpListener::bind(local()).expect("bind api"), proxy.clone())
            .expect("api thread");
    let api = api_thread.local_addr();

    let idle = control_loop(api, 1.0);

    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let stop = Arc::clone(&stop);
        load.push(thread::spawn(move || {
            let mut stream = TcpStream::connect(bulk).expect("connect");
            let block = vec![1u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                if stream.write_all(&block).is_err() {
                    break;
                }
            }
            let _ = stream.shutdown(Shutdown::Write);
        }));
    }
    for _ in 0..16 {
        let stop = Arc::clone(&stop);
        let dropped = Arc::clone(&dropped);
        load.push(thread::spawn(move || {
            let mut stream = TcpStream::connect(chat).expect("connect");
            let _ = stream.set_nodelay(true);
            let (msg, mut back) = ([3u8; 512], [0u8; 512]);
            while !stop.load(Ordering::Relaxed) {
                if stream.write_all(&msg).is_err() || stream.read_exact(&mut back).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }));
    }
    thread::sleep(Duration::from_millis(300));
    let busy = control_loop(api, 4.0);
    stop.store(true, Ordering::Relaxed);
    for handle in load {
        let _ = handle.join();
    }
    let moved: u64 = (0..4)
        .filter_map(|_| results.recv_timeout(Duration::from_secs(5)).ok())
        .map(|(b, _)| b)
        .sum();
    let stats = proxy.stats("chat").expect("stats");
    println!(
        "control API while toxics are added/changed/removed ({} calls idle, {} under load)",
        idle.len(),
        busy.len()
    );
    println!(
        "  idle        p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
        quantile(&idle, 0.5),
        quantile(&idle, 0.99),
        idle[idle.len() - 1]
    );
    println!(
        "  under load  p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   (target p99 < 50 ms)",
        quantile(&busy, 0.5),
        quantile(&busy, 0.99),
        busy[busy.len() - 1]
    );
    println!(
        "  load: 4 bulk streams moved {:.0} MB, 16 echo clients made {} round trips through changing toxics; {} of 16 echo connections dropped\n",
        moved as f64 / 1e6,
        stats.bytes_downstream / 512,
        dropped.load(Ordering::Relaxed)
    );
    api_thread.stop();
    runtime.block_on(async {
        let _ = proxy.remove_link("bulk").await;
        let _ = proxy.remove_link("chat").await;
    });
}

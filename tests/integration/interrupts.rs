//! The interrupted-runs harness: `pfi run` on a process scenario (a backend, a probe, a pause
//! fault), interrupted at a seeded random moment (start-up, readiness, the fault applied) with
//! SIGINT, SIGTERM, a double SIGINT, or SIGKILL followed by `pfi recover`. After each run
//! nothing may be left: no process the run spawned (found by its spawn marker), none stopped,
//! the backend's port free, and a second `pfi recover` with nothing to do.
//!
//! A CI-sized sample by default; `PFI_INTERRUPT_RUNS=1000 cargo test --test integration
//! interrupts -- --nocapture` runs a thousand and prints the totals (`PFI_INTERRUPT_SEED`
//! changes the seed).

use super::support::{demo_bin, pfi};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Interrupt {
    Sigint,
    Sigterm,
    DoubleSigint,
    SigkillThenRecover,
}

const KINDS: [Interrupt; 4] = [
    Interrupt::Sigint,
    Interrupt::Sigterm,
    Interrupt::DoubleSigint,
    Interrupt::SigkillThenRecover,
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Processes (not zombies) spawned by the pfi process `pid`: their `PFI_SPAWN_MARKER` starts
/// with its pid. With their state letter.
fn spawned_by(pid: u32) -> Vec<(u32, char)> {
    let prefix = format!("{}={pid}-", pfi::targets::process_marker::MARKER_VAR);
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ
            .split(|b| *b == 0)
            .any(|var| var.starts_with(prefix.as_bytes()))
        {
            continue;
        }
        let state = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ").and_then(|(_, s)| s.chars().next()));
        if let Some(state) = state
            && !matches!(state, 'Z' | 'X')
        {
            found.push((child, state));
        }
    }
    found
}

fn recover(state: &std::path::Path) -> (Option<i32>, String) {
    let out = pfi()
        .arg("recover")
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Outcome {
    exit: Option<i32>,
    signal_to_exit: Duration,
}

/// One run, interrupted `after` its start with `kind`; panics if anything is left behind.
fn interrupted_run(kind: Interrupt, after: Duration) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let scenario = dir.path().join("test.pfi");
    std::fs::write(
        &scenario,
        format!(
            r#"experiment "interrupted" {{
  duration 30s
  seed 1
  baseline 100ms
}}

resource backend: process ["{demo}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

fault freeze: pause on backend {{
  at 200ms
  lasting 30s
}}
"#,
            demo = demo_bin()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let mut child = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(after);
    let signal = |s: i32| unsafe { libc::kill(pid as i32, s) };
    let sent = Instant::now();
    match kind {
        Interrupt::Sigint => signal(libc::SIGINT),
        Interrupt::Sigterm => signal(libc::SIGTERM),
        Interrupt::DoubleSigint => {
            signal(libc::SIGINT);
            std::thread::sleep(Duration::from_millis(20));
            signal(libc::SIGINT)
        }
        Interrupt::SigkillThenRecover => signal(libc::SIGKILL),
    };
    // No hang: every interrupted run exits within the grace periods.
    let deadline = sent + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{kind:?} after {after:?}: pfi did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let signal_to_exit = sent.elapsed();
    assert_ne!(
        status.code(),
        Some(101),
        "{kind:?} after {after:?}: pfi panicked"
    );
    if kind == Interrupt::SigkillThenRecover {
        let (code, said) = recover(&state);
        assert!(
            matches!(code, Some(0)),
            "{kind:?} after {after:?}: recover exited {code:?}:\n{said}"
        );
    }
    // Nothing left: no process of the run (the kernel may take a moment to reap one that
    // recover or the run has just killed), the port free, nothing for a second recover.
    let settle = Instant::now() + Duration::from_secs(5);
    let mut left = spawned_by(pid);
    while !left.is_empty() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(20));
        left = spawned_by(pid);
    }
    for (leftover, _) in &left {
        unsafe { libc::kill(*leftover as i32, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "{kind:?} after {after:?}: processes left (pid, state): {left:?}"
    );
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "{kind:?} after {after:?}: port {port} still taken"
    );
    let (code, said) = recover(&state);
    assert_eq!(code, Some(0), "{kind:?} after {after:?}: {said}");
    assert!(
        said.contains("nothing to recover"),
        "{kind:?} after {after:?}: a second recover had work:\n{said}"
    );
    Outcome {
        exit: status.code(),
        signal_to_exit,
    }
}

#[test]
fn interrupted_runs_leave_nothing_behind() {
    let runs = env_number("PFI_INTERRUPT_RUNS", 8);
    let seed = env_number("PFI_INTERRUPT_SEED", 24);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut exits: BTreeMap<(Interrupt, Option<i32>), u64> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for i in 0..runs {
        let kind = KINDS[(i % 4) as usize];
        // From right after the start to well after the fault is applied.
        let after = Duration::from_millis(rng.random_range(0..1_500));
        // Every run is made, a failure is counted and shown: a thousand runs report totals.
        let outcome = match std::panic::catch_unwind(|| interrupted_run(kind, after)) {
            Ok(outcome) => outcome,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("run {i}: {message}"));
                continue;
            }
        };
        *exits.entry((kind, outcome.exit)).or_default() += 1;
        if kind != Interrupt::SigkillThenRecover {
            times.push(outcome.signal_to_exit);
        }
    }
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    eprintln!(
        "interrupts: {runs} runs (seed {seed}), {} left something behind or failed; signal to exit median {:?}, p99 {:?}, max {:?}",
        failures.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    for ((kind, exit), n) in &exits {
        eprintln!("  {kind:?} exit {exit:?}: {n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The interrupted-runs harness: `pfi run` on a scenario, interrupted at a seeded random
//! moment (start-up, readiness, the faults applied) with SIGINT, SIGTERM, a double SIGINT, or
//! SIGKILL followed by `pfi recover`. After each run nothing may be left, and a second
//! `pfi recover` has nothing to do. The scenarios and what each checks:
//! - **process**: a backend, a probe, a pause fault: no process the run spawned (found by its
//!   spawn marker), none stopped, the backend's port free;
//! - **cgroups**: `cpu_limit` and `memory_limit` on the process: as above, and no cgroup of the
//!   run (named after its run id) in any hierarchy;
//! - **proxy**: a proxied link with a latency toxic: as above, and the link's port free;
//! - **created container** (`PFI_DOCKER=1`): a container pfi creates from `pfi-demo:local`,
//!   paused and limited: no container of the run (label `pfi.run`) left;
//! - **pre-existing container** (`PFI_DOCKER=1`): a container made by the test, with limits
//!   of its own, under pause, cpu_limit, memory_limit and stop: running, unpaused, with
//!   exactly its limits and networks after every run.
//!
//! A CI-sized sample by default; `PFI_INTERRUPT_RUNS=1000 cargo test --test integration
//! interrupts -- --nocapture` runs a thousand and prints the totals (`PFI_INTERRUPT_SEED`
//! changes the seed; `PFI_INTERRUPT_DOCKER_RUNS` sets the container runs). The full mix of all
//! five scenarios: `PFI_DOCKER=1 PFI_INTERRUPT_MIX_RUNS=1000 PFI_INTERRUPT_VERBOSE=1 cargo test
//! --test integration interrupted_mixed -- --nocapture` (a line per run).

use super::docker::{Cleanup, IMAGE, backend_spec, docker, unique};
use super::support::{demo_bin, pfi};
use pfi::targets::ContainerTarget;
use pfi::targets::docker::{ContainerInfo, ContainerLimits};
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

/// What the interrupted run does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    Process,
    Cgroups,
    Proxy,
    CreatedContainer,
    /// A container made by the test (its name).
    ExistingContainer(String),
}

const PROCESS_SCENARIOS: [Scenario; 3] = [Scenario::Process, Scenario::Cgroups, Scenario::Proxy];

impl Scenario {
    fn label(&self) -> &'static str {
        match self {
            Scenario::Process => "process",
            Scenario::Cgroups => "cgroups",
            Scenario::Proxy => "proxy",
            Scenario::CreatedContainer => "created container",
            Scenario::ExistingContainer(_) => "pre-existing container",
        }
    }

    /// The scenario's text: the resource listens on `port`; a link listens on `link_port`.
    fn text(&self, port: u16, link_port: u16) -> String {
        let experiment = r#"experiment "interrupted" {
  duration 30s
  seed 1
  baseline 100ms
}
"#;
        let backend = format!(
            r#"resource backend: process ["{demo}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}
"#,
            demo = demo_bin()
        );
        let body = match self {
            Scenario::Process => format!(
                r#"{backend}
probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

fault freeze: pause on backend {{
  at 200ms
  lasting 30s
}}
"#
            ),
            Scenario::Cgroups => format!(
                r#"{backend}
probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

fault squeeze: cpu_limit on backend {{ cores 0.2; at 100ms; lasting 30s }}
fault cap: memory_limit on backend {{ limit 256MiB; at 200ms; lasting 30s }}
"#
            ),
            Scenario::Proxy => format!(
                r#"{backend}
link wire: tcp 127.0.0.1:{link_port} -> backend:{port}

probe ping: tcp 127.0.0.1:{link_port} every 50ms timeout 1s

fault slow: latency on wire {{ delay 100ms; at 100ms; lasting 30s }}
"#
            ),
            Scenario::CreatedContainer => format!(
                r#"resource backend: image "{IMAGE}" {{
  cmd ["backend", "--host", "0.0.0.0", "--port", "7000"]
  ports ["127.0.0.1:{port}:7000"]
  ready tcp 127.0.0.1:{port} within 20s
}}

probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

fault freeze: pause on backend {{ at 100ms; lasting 500ms }}
fault squeeze: cpu_limit on backend {{ cores 0.2; at 200ms; lasting 30s }}
"#
            ),
            Scenario::ExistingContainer(name) => format!(
                r#"resource kept: container "{name}"

fault squeeze: cpu_limit on kept {{ cores 0.25; at 0s; lasting 30s }}
fault cap: memory_limit on kept {{ limit 64MiB; at 50ms; lasting 30s }}
fault freeze: pause on kept {{ at 100ms; lasting 400ms }}
fault halt: stop on kept {{ at 700ms; lasting 30s }}
"#
            ),
        };
        format!("{experiment}\n{body}")
    }
}

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
    /// How long `pfi recover` took after a SIGKILL.
    recover_time: Option<Duration>,
}

/// The run id of the only run under `state` (none when pfi was killed before its ledger).
fn run_id(state: &std::path::Path) -> Option<String> {
    std::fs::read_dir(state.join("runs"))
        .ok()?
        .flatten()
        .find_map(|entry| entry.file_name().to_str().map(str::to_string))
}

/// Cgroup folders named after `run_id` (`<run id>-<fault>`) in any hierarchy.
fn cgroups_of(run_id: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, prefix: &str, depth: u32, found: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                found.push(path);
            } else if depth < 8 {
                walk(&path, prefix, depth + 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        std::path::Path::new("/sys/fs/cgroup"),
        &format!("{run_id}-"),
        0,
        &mut found,
    );
    found
}

/// Names of every container (running or not) carrying `label`.
fn containers_labelled(label: &str) -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label={label}"))
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What must come back on a pre-existing container: running, unpaused, its limits and its
/// networks.
fn restorable(info: &ContainerInfo) -> (bool, bool, ContainerLimits, Vec<String>) {
    let mut networks: Vec<String> = info.networks.iter().map(|n| n.network.clone()).collect();
    networks.sort();
    (info.running, info.paused, info.limits, networks)
}

fn inspect(name: &str) -> ContainerInfo {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let engine = pfi::targets::DockerEngine::connect().await.unwrap();
            let target: ContainerTarget = engine.find(name).await.unwrap();
            target.info().await.unwrap()
        })
}

/// One run of `scenario`, interrupted `after` its start with `kind`; panics if anything is
/// left behind.
fn interrupted_run(scenario: &Scenario, kind: Interrupt, after: Duration) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (port, link_port) = (free_port(), free_port());
    let before = match scenario {
        Scenario::ExistingContainer(name) => Some(restorable(&inspect(name))),
        _ => None,
    };
    // A run that left the user's container stopped is a failure of that run; never let it
    // turn the following ones into runs of a stopped container.
    if let (Scenario::ExistingContainer(name), Some(before)) = (scenario, &before)
        && (!before.0 || before.1)
    {
        for action in ["unpause", "start"] {
            let _ = std::process::Command::new("docker")
                .args([action, name.as_str()])
                .output();
        }
        panic!("container `{name}` was not running (or paused) before the run: {before:?}");
    }
    let what = scenario.label();
    let file = dir.path().join("test.pfi");
    std::fs::write(&file, scenario.text(port, link_port)).unwrap();
    let scenario_file = file;
    let state = dir.path().join("state");
    let mut command = pfi();
    command
        .arg("run")
        .arg(&scenario_file)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // As a foreground `pfi run` in a terminal has them: a harness started in the background
    // by a shell inherits SIGINT ignored, and an early SIGINT would be lost before pfi
    // installs its handler (it then ran its 30 s: a hang that was the harness's own).
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
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
            // Clean up after it before failing, so that the next runs start clean.
            let _ = child.kill();
            let _ = child.wait();
            let (code, said) = recover(&state);
            for (leftover, _) in spawned_by(pid) {
                unsafe { libc::kill(leftover as i32, libc::SIGKILL) };
            }
            panic!(
                "{what}, {kind:?} after {after:?}: pfi did not exit within 30 s (killed; recover exited {code:?}: {said})"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let signal_to_exit = sent.elapsed();
    assert_ne!(
        status.code(),
        Some(101),
        "{what}, {kind:?} after {after:?}: pfi panicked"
    );
    let mut recover_time = None;
    if kind == Interrupt::SigkillThenRecover {
        let started = Instant::now();
        let (code, said) = recover(&state);
        recover_time = Some(started.elapsed());
        assert!(
            matches!(code, Some(0)),
            "{what}, {kind:?} after {after:?}: recover exited {code:?}:\n{said}"
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
        "{what}, {kind:?} after {after:?}: processes left (pid, state): {left:?}"
    );
    if !matches!(scenario, Scenario::ExistingContainer(_)) {
        // A created container's published port closes once Docker has removed it.
        let settle = Instant::now() + Duration::from_secs(5);
        while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{what}, {kind:?} after {after:?}: port {port} still taken"
        );
    }
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", link_port)).is_ok(),
        "{what}, {kind:?} after {after:?}: link port {link_port} still listening"
    );
    if let Some(run_id) = run_id(&state) {
        let cgroups = cgroups_of(&run_id);
        assert!(
            cgroups.is_empty(),
            "{what}, {kind:?} after {after:?}: cgroups left: {cgroups:?}"
        );
        if *scenario == Scenario::CreatedContainer {
            // A create request sent before a SIGKILL completes in the engine after pfi died:
            // look again once it has had time to (recover waits for it).
            if kind == Interrupt::SigkillThenRecover {
                std::thread::sleep(
                    (sent + Duration::from_secs(3)).saturating_duration_since(Instant::now()),
                );
            }
            let left = containers_labelled(&format!("pfi.run={run_id}"));
            assert!(
                left.is_empty(),
                "{what}, {kind:?} after {after:?}: containers left: {left:?}"
            );
        }
    }
    if let (Scenario::ExistingContainer(name), Some(before)) = (scenario, &before) {
        let after_run = restorable(&inspect(name));
        assert_eq!(
            &after_run, before,
            "{what}, {kind:?} after {after:?}: container `{name}` not as before"
        );
    }
    let (code, said) = recover(&state);
    assert_eq!(code, Some(0), "{what}, {kind:?} after {after:?}: {said}");
    assert!(
        said.contains("nothing to recover"),
        "{what}, {kind:?} after {after:?}: a second recover had work:\n{said}"
    );
    Outcome {
        exit: status.code(),
        signal_to_exit,
        recover_time,
    }
}

/// The random moment of an interrupt is within this many milliseconds of the start: from
/// right after it to well after the faults are applied (containers start slower).
fn window_ms(scenario: &Scenario) -> u64 {
    match scenario {
        Scenario::Process | Scenario::Cgroups | Scenario::Proxy => 1_500,
        Scenario::CreatedContainer | Scenario::ExistingContainer(_) => 3_000,
    }
}

/// The `q` quantile of sorted `times` (zero when empty).
fn quantile(times: &[Duration], q: f64) -> Duration {
    times
        .get(((times.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or_default()
}

/// Runs `runs` interrupted runs, the scenario of run `i` being `scenario_of(i)`, at a random
/// moment within its `window_ms`; prints a line per run and the totals, fails if any run left
/// something behind. `PFI_INTERRUPT_UNTIL` (Unix seconds) stops early at that time, the totals
/// saying how many ran.
fn harness(runs: u64, scenario_of: impl Fn(u64) -> Scenario) {
    let seed = env_number("PFI_INTERRUPT_SEED", 24);
    let until = env_number("PFI_INTERRUPT_UNTIL", u64::MAX);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut exits: BTreeMap<(&'static str, Interrupt, Option<i32>), u64> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut recover_times: Vec<Duration> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut ran = 0;
    let verbose = std::env::var_os("PFI_INTERRUPT_VERBOSE").is_some();
    for i in 0..runs {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now >= until {
            eprintln!("interrupts: stopped at the deadline after {ran} of {runs} runs");
            break;
        }
        ran += 1;
        let kind = KINDS[(i % 4) as usize];
        let scenario = scenario_of(i);
        let after = Duration::from_millis(rng.random_range(0..window_ms(&scenario)));
        // Every run is made, a failure is counted and shown: a thousand runs report totals.
        let outcome = match std::panic::catch_unwind(|| interrupted_run(&scenario, kind, after)) {
            Ok(outcome) => outcome,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                if verbose {
                    eprintln!(
                        "run {i}: {} {kind:?} after {after:?}: FAILED {message}",
                        scenario.label()
                    );
                }
                failures.push(format!("run {i}: {message}"));
                continue;
            }
        };
        if verbose {
            eprintln!(
                "run {i}: {} {kind:?} after {after:?}: exit {:?}, signal to exit {:?}, recover {:?}",
                scenario.label(),
                outcome.exit,
                outcome.signal_to_exit,
                outcome.recover_time
            );
        }
        recover_times.extend(outcome.recover_time);
        *exits
            .entry((scenario.label(), kind, outcome.exit))
            .or_default() += 1;
        if kind != Interrupt::SigkillThenRecover {
            times.push(outcome.signal_to_exit);
        }
    }
    times.sort();
    recover_times.sort();
    eprintln!(
        "interrupts: {ran} runs (seed {seed}), {} left something behind or failed; signal to exit median {:?}, p99 {:?}, max {:?}; recover median {:?}, max {:?}",
        failures.len(),
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        quantile(&times, 1.0),
        quantile(&recover_times, 0.5),
        quantile(&recover_times, 1.0)
    );
    let mut per_scenario: BTreeMap<&'static str, u64> = BTreeMap::new();
    for ((scenario, _, _), n) in &exits {
        *per_scenario.entry(*scenario).or_default() += n;
    }
    eprintln!("  runs per scenario (not failed): {per_scenario:?}");
    for ((scenario, kind, exit), n) in &exits {
        eprintln!("  {scenario}, {kind:?} exit {exit:?}: {n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Process, cgroup and proxy scenarios, each under every kind of interrupt.
#[test]
fn interrupted_runs_leave_nothing_behind() {
    let runs = env_number("PFI_INTERRUPT_RUNS", 12);
    // Kinds cycle by 4 and scenarios by 3: twelve runs cover every pair.
    harness(runs, |i| PROCESS_SCENARIOS[(i % 3) as usize].clone());
}

/// A container made by the test with limits of its own, which must come back exactly; removed
/// when the returned `Cleanup` drops. None without `PFI_DOCKER=1`.
fn kept_container(runtime: &tokio::runtime::Runtime) -> Option<(String, Cleanup)> {
    let engine = runtime.block_on(docker())?;
    let mut cleanup = Cleanup::default();
    let name = unique("trust-kept");
    cleanup.containers.push(name.clone());
    runtime.block_on(async {
        let kept = engine
            .create(&backend_spec(&name), "test", None)
            .await
            .unwrap();
        kept.update_limits(&ContainerLimits {
            nano_cpus: Some(1_500_000_000),
            memory: Some(256 << 20),
            memory_swap: Some(512 << 20),
            ..ContainerLimits::default()
        })
        .await
        .unwrap();
    });
    Some((name, cleanup))
}

/// Containers pfi creates and a pre-existing one (`PFI_DOCKER=1`).
#[test]
fn interrupted_container_runs_leave_nothing_behind() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((name, _cleanup)) = kept_container(&runtime) else {
        return;
    };
    let runs = env_number("PFI_INTERRUPT_DOCKER_RUNS", 8);
    // Kinds cycle by 4; the scenario flips every run and every fourth, so eight runs cover
    // every pair.
    harness(runs, |i| {
        if (i + i / 4) % 2 == 0 {
            Scenario::ExistingContainer(name.clone())
        } else {
            Scenario::CreatedContainer
        }
    });
}

/// The full mix for the 1,000-run measurement (`PFI_DOCKER=1`, `PFI_INTERRUPT_MIX_RUNS`):
/// process, cgroup, proxy, created and pre-existing container scenarios in turn, each under
/// every kind of interrupt (5 scenarios and 4 kinds: twenty runs cover every pair). Twenty by
/// default.
#[test]
fn interrupted_mixed_runs_leave_nothing_behind() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((name, _cleanup)) = kept_container(&runtime) else {
        return;
    };
    let runs = env_number("PFI_INTERRUPT_MIX_RUNS", 20);
    harness(runs, |i| match i % 5 {
        0 => Scenario::Process,
        1 => Scenario::Cgroups,
        2 => Scenario::Proxy,
        3 => Scenario::CreatedContainer,
        _ => Scenario::ExistingContainer(name.clone()),
    });
}

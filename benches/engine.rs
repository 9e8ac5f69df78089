//! The run engine's three speed figures (issue 3), each against real processes and printed
//! next to its target and a baseline measured in the same run:
//!
//! (a) delay from a scheduled activation to the fault being applied, p50/p99 over 1,000
//!     activations: the real `Schedule` driving a `Pause` on a real sleeping process the way
//!     the interpreter does — prepared and recorded (fsynced) in the ledger `PREPARE_LEAD`
//!     ahead, applied at its time — and the revert; baseline: the overshoot of a bare tokio
//!     `sleep_until` at the same times;
//! (b) time from SIGINT sent to a real `pfi run` (one process, paused) to everything reverted
//!     and pfi exited; baseline: SIGTERM to the bare process until it exited;
//! (c) wall time of a 1-second experiment with one process and one probe, with where the
//!     time goes (from the run's journal); baseline: 1 s plus spawn, ready and stop of the
//!     bare process.
//!
//! `cargo bench --bench engine` (release). `PFI_BENCH_ACTIVATIONS` overrides 1,000.

use pfi::faults::{AppliedFault, FaultContext, Pause, Recorded, inject, prepare_recorded};
use pfi::model::Activation;
use pfi::run::ledger::Ledger;
use pfi::run::{Actuator, BoxFuture, Schedule};
use pfi::targets::{ProcessSpec, ProcessTarget, Readiness};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Activations every 30 ms, each lasting 5 ms: room for the revert, then the next one's
/// preparation (its fsynced ledger record) `PREPARE_LEAD` ahead of it, so each activation's
/// delay is its own, not a backlog's.
const SPACING_MS: f64 = 30.0;
const LASTING_MS: f64 = 5.0;
const RUNS: usize = 7;

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let activations = std::env::var("PFI_BENCH_ACTIVATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(activation_delay(dir.path(), activations));
    sigint_to_exit(dir.path());
    one_second_experiment(dir.path());
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn line(name: &str, value: &str, target: &str, baseline: &str) {
    println!("{name:<44} {value:<24} target {target:<10} baseline {baseline}");
}

fn activation(index: usize) -> Activation {
    Activation {
        fault: "freeze".into(),
        kind: "pause".into(),
        target: "sleeper".into(),
        index,
        start_ms: index as f64 * SPACING_MS,
        duration_ms: LASTING_MS,
        fired: true,
        draw: 0.0,
        probability: 1.0,
        strength: "".into(),
        why: String::new(),
    }
}

/// Applies and reverts through the same calls as the interpreter's driver: prepared and
/// recorded (fsynced) ahead, applied at its time (or `inject` when not prepared), a
/// `reverted` record after the revert.
struct PauseActuator {
    target: ProcessTarget,
    ledger: Arc<Ledger>,
    zero: Instant,
    recorded: Option<Recorded>,
    prepared: usize,
    applied: Option<AppliedFault>,
    delays_ms: Vec<f64>,
    /// How late `apply` was called (the timer), without the applying itself.
    called_ms: Vec<f64>,
    /// How long applying took (SIGSTOP, or the whole inject when not prepared ahead).
    applying_ms: Vec<f64>,
    /// How long the effect check after applying took (state T seen).
    checking_ms: Vec<f64>,
    errors: usize,
}

impl Actuator for PauseActuator {
    fn prepare<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let id = format!("f{}", activation.index);
            let ctx = FaultContext::new("bench", id.clone());
            let ledger = self.ledger.clone();
            let recorded = prepare_recorded(&Pause {}, &self.target, &ctx, |revert| {
                ledger.applying(&id, &activation.fault, &activation.target, revert)
            })
            .await;
            self.recorded = recorded.ok();
        })
    }

    fn apply<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let due = Duration::from_secs_f64(activation.start_ms / 1000.0);
            let called = self.zero.elapsed().saturating_sub(due);
            self.called_ms.push(called.as_secs_f64() * 1000.0);
            let applied = match self.recorded.take() {
                Some(recorded) => {
                    self.prepared += 1;
                    recorded.apply().await
                }
                None => {
                    let id = format!("f{}", activation.index);
                    let ctx = FaultContext::new("bench", id.clone());
                    let ledger = self.ledger.clone();
                    inject(&Pause {}, &self.target, &ctx, |revert| {
                        ledger.applying(&id, &activation.fault, &activation.target, revert)
                    })
                    .await
                }
            };
            // Applied = when the signal was sent (the fault took hold); its effect check
            // (the process seen in state T) comes after and is timed apart.
            let now = self.zero.elapsed();
            let checking = applied
                .as_ref()
                .map(|fault| fault.applied_at().elapsed())
                .unwrap_or_default();
            let late = now.saturating_sub(checking).saturating_sub(due);
            self.delays_ms.push(late.as_secs_f64() * 1000.0);
            self.applying_ms
                .push(late.saturating_sub(called).as_secs_f64() * 1000.0);
            self.checking_ms.push(checking.as_secs_f64() * 1000.0);
            match applied {
                Ok(applied) => self.applied = Some(applied),
                Err(_) => self.errors += 1,
            }
        })
    }

    fn revert<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(applied) = self.applied.take() {
                if applied.revert().await.is_err() {
                    self.errors += 1;
                }
                let _ = self.ledger.reverted(&format!("f{}", activation.index));
            }
        })
    }

    fn abort_reason(&mut self) -> Option<String> {
        None
    }
}

async fn activation_delay(dir: &Path, count: usize) {
    // Baseline: how late a bare tokio timer fires at the same times.
    let zero = tokio::time::Instant::now();
    let mut overshoot = Vec::with_capacity(count);
    for index in 0..count {
        let due = Duration::from_secs_f64(index as f64 * SPACING_MS / 1000.0);
        tokio::time::sleep_until(zero + due).await;
        overshoot.push(zero.elapsed().saturating_sub(due).as_secs_f64() * 1000.0);
    }
    let overshoot = sorted(overshoot);

    let spec = ProcessSpec::new(
        "sleeper",
        vec!["sleep".to_string(), "600".to_string()],
        dir.join("logs"),
    )
    .readiness(Readiness::Started);
    let target = ProcessTarget::new(spec).unwrap();
    target.start().await.unwrap();
    let ledger = Arc::new(Ledger::create(&dir.join("state"), "bench-activations").unwrap());
    let activations: Vec<Activation> = (0..count).map(activation).collect();
    let schedule = Schedule::new(&activations, 0.0, count as f64 * SPACING_MS);
    let mut actuator = PauseActuator {
        target: target.clone(),
        ledger,
        zero: Instant::now(),
        recorded: None,
        prepared: 0,
        applied: None,
        delays_ms: Vec::with_capacity(count),
        called_ms: Vec::with_capacity(count),
        applying_ms: Vec::with_capacity(count),
        checking_ms: Vec::with_capacity(count),
        errors: 0,
    };
    schedule
        .run(&mut actuator, std::future::pending::<String>())
        .await;
    if let Some(applied) = actuator.applied.take() {
        let _ = applied.revert().await;
    }
    target.stop().await.unwrap();
    let delays = sorted(actuator.delays_ms);
    let called = sorted(actuator.called_ms);
    let applying = sorted(actuator.applying_ms);
    let checking = sorted(actuator.checking_ms);
    println!(
        "(a) {} pause activations of a real `sleep` every {SPACING_MS} ms ({} prepared ahead, {} failed)",
        delays.len(),
        actuator.prepared,
        actuator.errors
    );
    line(
        "    activation -> applied, p50",
        &format!("{:.3} ms", quantile(&delays, 0.5)),
        "",
        &format!(
            "bare tokio sleep overshoot p50 {:.3} ms",
            quantile(&overshoot, 0.5)
        ),
    );
    line(
        "    activation -> applied, p99",
        &format!("{:.3} ms", quantile(&delays, 0.99)),
        "<= 5 ms",
        &format!(
            "bare tokio sleep overshoot p99 {:.3} ms",
            quantile(&overshoot, 0.99)
        ),
    );
    line(
        "    of which the timer (apply called), p50/p99",
        &format!(
            "{:.3} / {:.3} ms",
            quantile(&called, 0.5),
            quantile(&called, 0.99)
        ),
        "",
        "",
    );
    line(
        "    of which applying (SIGSTOP; ledger record done ahead), p50/p99",
        &format!(
            "{:.3} / {:.3} ms",
            quantile(&applying, 0.5),
            quantile(&applying, 0.99)
        ),
        "",
        "",
    );
    line(
        "    then the effect check (state T seen), p50/p99",
        &format!(
            "{:.3} / {:.3} ms",
            quantile(&checking, 0.5),
            quantile(&checking, 0.99)
        ),
        "",
        "",
    );
    line(
        "    activation -> applied, max",
        &format!("{:.3} ms", delays.last().copied().unwrap_or(f64::NAN)),
        "",
        &format!(
            "bare tokio sleep overshoot max {:.3} ms",
            overshoot.last().copied().unwrap_or(f64::NAN)
        ),
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn demo() -> &'static str {
    env!("CARGO_BIN_EXE_pfi-demo")
}

fn pfi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pfi"))
}

/// Starts the bare demo backend on `port` and waits until it accepts connections; returns
/// the child and how long that took.
fn bare_backend(port: u16) -> (std::process::Child, Duration) {
    let started = Instant::now();
    let child = Command::new(demo())
        .args(["backend", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(1));
    }
    (child, started.elapsed())
}

fn sigterm_and_wait(child: &mut std::process::Child) -> Duration {
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    sent.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn sigint_to_exit(dir: &Path) {
    let mut reverts = Vec::new();
    let mut bare = Vec::new();
    for run in 0..RUNS {
        let port = free_port();
        let file = write_scenario(
            dir,
            &format!("sigint-{run}.pfi"),
            &format!(
                r#"experiment "sigint" {{
  duration 60s
}}

resource backend: process ["{}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

fault freeze: pause on backend {{
  at 0ms
  lasting 60s
}}

probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s
"#,
                demo()
            ),
        );
        let mut child = pfi()
            .arg("run")
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            if line
                .unwrap()
                .contains("fault freeze (pause on backend) applied")
            {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let sent = Instant::now();
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        child.wait().unwrap();
        reverts.push(ms(sent.elapsed()));

        let (mut backend, _) = bare_backend(free_port());
        bare.push(ms(sigterm_and_wait(&mut backend)));
    }
    let (reverts, bare) = (sorted(reverts), sorted(bare));
    println!("(b) SIGINT to a real `pfi run` (one paused process), {RUNS} runs");
    line(
        "    SIGINT -> reverted and exited, median",
        &format!("{:.1} ms", quantile(&reverts, 0.5)),
        "<= 500 ms",
        &format!(
            "bare process SIGTERM -> exit {:.1} ms",
            quantile(&bare, 0.5)
        ),
    );
    line(
        "    SIGINT -> reverted and exited, max",
        &format!("{:.1} ms", reverts[reverts.len() - 1]),
        "<= 500 ms",
        &format!(
            "bare process SIGTERM -> exit {:.1} ms",
            bare[bare.len() - 1]
        ),
    );
}

/// The time of the first journal event of type `kind` (and of `resource`, when given), in ms.
/// The journal's events are typed (`"event": "all_ready"`), not lines of text.
fn event_ms(journal: &serde_json::Value, kind: &str, resource: Option<&str>) -> f64 {
    journal["events"]
        .as_array()
        .and_then(|events| {
            events.iter().find(|e| {
                e["event"] == kind && resource.is_none_or(|r| e["resource"].as_str() == Some(r))
            })
        })
        .and_then(|e| e["at_ms"].as_f64())
        .unwrap_or(f64::NAN)
}

fn one_second_experiment(dir: &Path) {
    let mut walls = Vec::new();
    let mut bare = Vec::new();
    let mut phases: Vec<[f64; 5]> = Vec::new();
    for run in 0..RUNS {
        let port = free_port();
        let file = write_scenario(
            dir,
            &format!("second-{run}.pfi"),
            &format!(
                r#"experiment "one second" {{
  duration 1s
}}

resource backend: process ["{}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

probe ping: tcp 127.0.0.1:{port} every 100ms timeout 1s
"#,
                demo()
            ),
        );
        let journal = dir.join(format!("second-{run}.json"));
        let started = Instant::now();
        let status = pfi()
            .arg("run")
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--journal")
            .arg(&journal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let wall = ms(started.elapsed());
        assert!(status.success(), "the 1 s experiment failed");
        walls.push(wall);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
        let ready = event_ms(&report, "all_ready", None);
        let completed = event_ms(&report, "completed", None);
        let stopped = event_ms(&report, "resource_stopped", Some("backend"));
        let journal_end = report["wall_ms"].as_f64().unwrap_or(f64::NAN);
        phases.push([
            ready,
            completed - ready,
            stopped - completed,
            journal_end - stopped,
            wall - journal_end,
        ]);
        println!(
            "    run {run}: wall {wall:.0} ms = start to ready {ready:.1} + scheduled {:.1} + \
             teardown {:.1} + report {:.1} + outside the run {:.1}",
            completed - ready,
            stopped - completed,
            journal_end - stopped,
            wall - journal_end
        );

        let (mut backend, up) = bare_backend(free_port());
        let down = sigterm_and_wait(&mut backend);
        bare.push(1000.0 + ms(up) + ms(down));
    }
    let (walls_sorted, bare) = (sorted(walls), sorted(bare));
    println!("(c) a 1-second experiment, one process and one probe, {RUNS} runs");
    line(
        "    wall time of `pfi run`, median",
        &format!("{:.0} ms", quantile(&walls_sorted, 0.5)),
        "<= 1200 ms",
        &format!("1 s + bare spawn/ready/stop {:.0} ms", quantile(&bare, 0.5)),
    );
    line(
        "    wall time of `pfi run`, max",
        &format!("{:.0} ms", walls_sorted[walls_sorted.len() - 1]),
        "<= 1200 ms",
        &format!("1 s + bare spawn/ready/stop {:.0} ms", bare[bare.len() - 1]),
    );
    let median = |i: usize| quantile(&sorted(phases.iter().map(|p| p[i]).collect()), 0.5);
    println!(
        "    where it goes (medians): start to ready {:.1} ms, scheduled run {:.1} ms, \
         teardown {:.1} ms, report {:.1} ms, outside the run (runtime, check, exit) {:.1} ms",
        median(0),
        median(1),
        median(2),
        median(3),
        median(4)
    );
}

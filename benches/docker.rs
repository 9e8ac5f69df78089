//! How fast container faults take effect, against the real engine (runs with PFI_DOCKER=1;
//! builds the pfi-demo image first). For pause, kill and cpu_limit: the time from the call
//! to the fault being in effect, p50/p99 over repeated injections, and the Docker API calls
//! one injection and one revert make; next to a baseline measured in the same run: one plain
//! inspect round trip.
//!
//! "In effect": pause and cpu_limit when the engine's call returns (it returns after the
//! freezer or the cgroup was written); kill when inspect first shows the container stopped.
//!
//! Then the same faults through the run engine (`Interpreter`, as `pfi run` drives them, with
//! the container's stats telemetry and disappearance watch running): the time from each
//! activation's scheduled instant to its inject returning (the ledger write included), p50/p99.

use pfi::check::check_file;
use pfi::faults::{CpuLimit, Fault, FaultContext, Kill, Pause, inject};
use pfi::monitor::Quantiles;
use pfi::run::{Interpreter, RunOptions};
use pfi::targets::docker::ContainerSpec;
use pfi::targets::{ContainerTarget, DockerEngine, Signal};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REPETITIONS: usize = 40;
const KILL_REPETITIONS: usize = 20;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::var("PFI_DOCKER").as_deref() != Ok("1") {
        println!("skipped: set PFI_DOCKER=1 to run Docker benchmarks");
        return;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start a runtime: {err}");
            return;
        }
    };
    if let Err(err) = runtime.block_on(run()) {
        eprintln!("docker bench failed: {err}");
        std::process::exit(1);
    }
}

/// Milliseconds p50/p99 of a set of durations.
fn quantiles(samples: &[Duration]) -> Quantiles {
    Quantiles::of(samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect())
}

fn report(name: &str, samples: &[Duration], calls: (f64, f64), baseline: &Quantiles) {
    let q = quantiles(samples);
    println!(
        "{name:<24} p50 {:>8.2} ms  p99 {:>8.2} ms   calls: inject {:>3.1}, revert {:>3.1}   baseline inspect p50 {:>6.2} ms   ratio {:>5.1}",
        q.p50,
        q.p99,
        calls.0,
        calls.1,
        baseline.p50,
        q.p50 / baseline.p50
    );
}

async fn run() -> Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build-demo-image.sh");
    if !std::process::Command::new(script).status()?.success() {
        return Err(format!("{script} failed").into());
    }
    let engine = DockerEngine::connect().await?;
    let name = format!("pfi-test-bench-{}", std::process::id());
    let spec = ContainerSpec::new("bench", "pfi-demo:local")
        .name(&name)
        .cmd(&["backend", "--host", "0.0.0.0", "--port", "7000"])
        .label("pfi.test", "1");
    let target = engine.create(&spec, "bench", None).await?;
    let result = measure(&engine, &target).await;
    target.remove().await?;
    result
}

async fn measure(engine: &DockerEngine, target: &ContainerTarget) -> Result<()> {
    // Baseline: one inspect round trip.
    let mut inspects = Vec::new();
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        target.info().await?;
        inspects.push(started.elapsed());
    }
    let baseline = quantiles(&inspects);
    println!(
        "{:<24} p50 {:>8.2} ms  p99 {:>8.2} ms   calls: 1",
        "baseline: inspect", baseline.p50, baseline.p99
    );

    let pause = repeat(engine, target, &Pause {}, REPETITIONS, |_| async { Ok(()) }).await?;
    report("pause", &pause.0, pause.1, &baseline);

    let cpu = repeat(
        engine,
        target,
        &CpuLimit { cores: 0.5 },
        REPETITIONS,
        |_| async { Ok(()) },
    )
    .await?;
    report("cpu_limit 0.5 cores", &cpu.0, cpu.1, &baseline);

    let kill = repeat(
        engine,
        target,
        &Kill {
            signal: Signal::KILL,
        },
        KILL_REPETITIONS,
        |target| async move {
            // In effect once the engine sees the container stopped.
            let deadline = Instant::now() + Duration::from_secs(30);
            while target.info().await?.running {
                if Instant::now() > deadline {
                    return Err("the container survived SIGKILL for 30 s".into());
                }
            }
            Ok(())
        },
    )
    .await?;
    report("kill SIGKILL (to exited)", &kill.0, kill.1, &baseline);

    println!("\nscheduled activation -> in effect, through the run engine:");
    let cases = [
        ("pause", "pause", "every 400ms; lasting 200ms", "12s"),
        (
            "cpu_limit 0.5 cores",
            "cpu_limit",
            "cores 0.5; every 400ms; lasting 200ms",
            "12s",
        ),
        (
            "kill SIGKILL",
            "kill",
            "signal SIGKILL; every 1s; lasting 400ms",
            "15s",
        ),
    ];
    for (label, kind, settings, duration) in cases {
        let late = scheduled(target, kind, settings, duration).await?;
        let q = Quantiles::of(late.clone());
        println!(
            "{label:<24} p50 {:>8.2} ms  p99 {:>8.2} ms   n={:<3}  baseline inspect p50 {:>6.2} ms",
            q.p50,
            q.p99,
            late.len(),
            baseline.p50
        );
    }
    Ok(())
}

/// Runs a one-fault scenario on `target` through the interpreter; returns, per activation, the
/// milliseconds from its scheduled instant to its inject returning.
async fn scheduled(
    target: &ContainerTarget,
    kind: &str,
    settings: &str,
    duration: &str,
) -> Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench.pfi");
    std::fs::write(
        &file,
        format!(
            "experiment \"bench\" {{\n  duration {duration}\n  seed 1\n  baseline 500ms\n}}\n\n\
             resource c: container \"{}\"\n\n\
             fault f: {kind} on c {{ {settings} }}\n",
            target.name()
        ),
    )?;
    let plan = check_file(&file)
        .plan
        .ok_or("the bench scenario does not check")?;
    let options = RunOptions {
        state_dir: dir.path().join("state"),
        seed: None,
    };
    let report = Interpreter::new(plan, options, Arc::new(|_: &pfi::run::RunEvent| {}))
        .run(std::future::pending::<String>())
        .await?;
    if !report.teardown_errors.is_empty() {
        return Err(format!("not undone: {:?}", report.teardown_errors).into());
    }
    let mut late = Vec::new();
    for fault in &report.faults {
        if let Some(error) = &fault.error {
            return Err(format!("{kind}: {error}").into());
        }
        if let Some(applied) = fault.applied_ms {
            late.push(applied - fault.planned_ms);
        }
    }
    Ok(late)
}

/// Injects and reverts `fault` `times` times; returns the time from the call to the fault in
/// effect (`effect` waits for what the call itself does not guarantee) and the API calls per
/// inject and per revert (the waiting's inspects not counted).
async fn repeat<F, Fut>(
    engine: &DockerEngine,
    target: &ContainerTarget,
    fault: &dyn Fault,
    times: usize,
    effect: F,
) -> Result<(Vec<Duration>, (f64, f64))>
where
    F: Fn(ContainerTarget) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut samples = Vec::with_capacity(times);
    let (mut inject_calls, mut revert_calls) = (0, 0);
    for i in 0..times {
        let ctx = FaultContext::new("bench", format!("{}-{i}", fault.keyword()));
        let before = engine.api_calls();
        let started = Instant::now();
        let applied = inject(fault, target, &ctx, |_| Ok::<(), std::io::Error>(())).await?;
        inject_calls += engine.api_calls() - before;
        effect(target.clone()).await?;
        samples.push(started.elapsed());
        let before = engine.api_calls();
        applied.revert().await?;
        revert_calls += engine.api_calls() - before;
    }
    let per = |calls: u64| calls as f64 / times as f64;
    Ok((samples, (per(inject_calls), per(revert_calls))))
}

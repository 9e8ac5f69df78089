//! The pfi agent and its lease, against the real engine (runs with PFI_DOCKER=1; needs the
//! `pfi-demo:local` image: `docker/build-demo-image.sh`). On one container of that image:
//!
//! - activation to effect of a `pause`, applied locally (`inject`: prepare, ledger callback,
//!   apply, the effect check seeing it paused) and through an agent on loopback (the HTTP
//!   round trip with the token's proof, the agent's own ledger write and sync, apply, check);
//! - lease lapse to reverted: a pause applied through the agent under a 300 ms lease that
//!   nobody renews, from the lease's end to the container seen unpaused (polled every 5 ms);
//!
//! - scheduled activation to effect in a real `pfi run` (the release `pfi` binary): a run on
//!   a Swarm service task pauses it at scheduled times, locally and through the agent (the
//!   agent serving in this process), and its journal gives, per activation, the time from the
//!   planned instant to the fault applied with its effect seen (`applied_ms - planned_ms`: the
//!   scheduler's wake-up, selecting the task again from the manager, the ledger write,
//!   the pause, the check);
//!
//! each next to a baseline measured in the same run: the direct Docker API call (pause, or
//! unpause) through the same engine connection.
//!
//! The first three act on a plain container (a task is a container, and the agent acts on it
//! the same way); the last on a task of a one-replica service. It makes a one-node swarm when
//! the engine is in none, and leaves it again (and removes the `docker_gwbridge` network
//! `swarm init` made).

use pfi::agent::{Agent, AgentClient, AgentConfig, ApplyRequest};
use pfi::faults::{FaultContext, Pause, inject};
use pfi::monitor::Quantiles;
use pfi::plan::Params;
use pfi::targets::docker::ContainerSpec;
use pfi::targets::{ContainerTarget, DockerEngine};
use std::error::Error;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROUNDS: usize = 20;
const LAPSE_ROUNDS: usize = 10;
const TOKEN: &str = "pfiswarm-bench-token-0123456789";

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() {
    if std::env::var("PFI_DOCKER").as_deref() != Ok("1") {
        println!("skipped: set PFI_DOCKER=1 to run the swarm/agent benchmark");
        return;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start a runtime: {err}");
            return;
        }
    };
    let name = format!("pfiswarm-bench-{}", std::process::id());
    let result = runtime.block_on(run(&name));
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    let result = result.and_then(|pause_base| {
        let swarm = Swarm::join();
        let result = runtime.block_on(in_a_run(&name, &pause_base));
        let _ = std::process::Command::new("docker")
            .args(["service", "rm", &name])
            .output();
        drop(swarm);
        result
    });
    if let Err(err) = result {
        eprintln!("swarm bench failed: {err}");
        std::process::exit(1);
    }
}

fn ms(samples: &[Duration]) -> Quantiles {
    Quantiles::of(samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect())
}

fn line(name: &str, samples: &[Duration], baseline: &Quantiles, what: &str) {
    let q = ms(samples);
    println!(
        "{name:<34} p50 {:>8.2} ms  p99 {:>8.2} ms   baseline {what} p50 {:>6.2} ms   ratio {:>5.1}",
        q.p50,
        q.p99,
        baseline.p50,
        q.p50 / baseline.p50.max(1e-9)
    );
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn paused(target: &ContainerTarget) -> Result<bool> {
    Ok(target.info().await?.paused)
}

/// The engine in swarm mode for the bench; left when the bench made it.
struct Swarm {
    created: bool,
    had_gwbridge: bool,
}

fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("docker {args:?}: {err}"))
}

impl Swarm {
    fn join() -> Swarm {
        let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        let created = String::from_utf8_lossy(&state.stdout).trim() != "active";
        let had_gwbridge = docker(&["network", "inspect", "docker_gwbridge"])
            .status
            .success();
        if created {
            docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        }
        Swarm {
            created,
            had_gwbridge,
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.created {
            docker(&["swarm", "leave", "--force"]);
            if !self.had_gwbridge {
                docker(&["network", "rm", "docker_gwbridge"]);
            }
        }
    }
}

const RUN_ROUNDS: usize = 10;

/// Scheduled activation to effect in a `pfi run`, on a Swarm task, locally and through an
/// agent, beside the direct API pause measured in the same process.
async fn in_a_run(name: &str, pause_base: &Quantiles) -> Result<()> {
    let engine = DockerEngine::connect().await?;
    let made = docker(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        name,
        "--replicas",
        "1",
        "--stop-grace-period",
        "1s",
        "pfi-demo:local",
        "backend",
        "--host",
        "0.0.0.0",
        "--port",
        "7000",
    ]);
    if !made.status.success() {
        return Err(String::from_utf8_lossy(&made.stderr).into_owned().into());
    }
    pfi::targets::docker::SwarmService::new(&engine, name)
        .wait_converged(Duration::from_secs(60))
        .await?;
    let dir = std::env::temp_dir().join(format!("pfiswarm-bench-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let agent = Agent::bind(&AgentConfig {
        listen: "127.0.0.1:0".into(),
        token: TOKEN.into(),
        ledger: dir.join("agent-ledger.json"),
    })
    .await?;
    let address = agent.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(agent.serve(async {
        let _ = stopped.await;
    }));
    // The same task, as two resources: one paused through this engine, one through the agent;
    // 400 ms apart, each paused for 150 ms.
    let mut scenario = format!(
        "experiment \"activation to effect\" {{\n  duration {}ms\n  seed 1\n  baseline 500ms\n}}\n\n\
         resource local: service \"{name}\" {{\n  pick 1\n}}\n\n\
         resource remote: service \"{name}\" {{\n  pick 1\n  agent \"{address}\"\n}}\n\n",
        RUN_ROUNDS * 800 + 1000
    );
    for round in 0..RUN_ROUNDS {
        let at = 500 + round * 800;
        scenario.push_str(&format!(
            "fault l{round}: pause on local {{\n  at {at}ms\n  lasting 150ms\n}}\n\n\
             fault r{round}: pause on remote {{\n  at {}ms\n  lasting 150ms\n}}\n\n",
            at + 400
        ));
    }
    let file = dir.join("activation.pfi");
    std::fs::write(&file, scenario)?;
    let journal = dir.join("journal.json");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pfi"))
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--journal")
        .arg(&journal)
        .env("PFI_AGENT_TOKEN", TOKEN)
        .output()
        .await?;
    let _ = stop.send(());
    let _ = server.await;
    if output.status.code() != Some(0) {
        return Err(format!(
            "pfi run exited {:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&journal)?)?;
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for fault in report["faults"]
        .as_array()
        .ok_or("no faults in the journal")?
    {
        let (Some(planned), Some(applied)) =
            (fault["planned_ms"].as_f64(), fault["applied_ms"].as_f64())
        else {
            return Err(format!("a fault was not applied: {fault}").into());
        };
        let took = Duration::from_secs_f64((applied - planned).max(0.0) / 1000.0);
        match fault["fault"].as_str().unwrap_or_default().chars().next() {
            Some('l') => local.push(took),
            _ => remote.push(took),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "in a `pfi run` on a Swarm task: planned activation -> applied with its effect seen, {RUN_ROUNDS} each"
    );
    line("run, through this engine", &local, pause_base, "pause");
    line("run, through the agent", &remote, pause_base, "pause");
    Ok(())
}

async fn run(name: &str) -> Result<Quantiles> {
    let engine = DockerEngine::connect().await?;
    let spec = ContainerSpec::new("bench", "pfi-demo:local")
        .name(name)
        .cmd(&["backend", "--host", "0.0.0.0", "--port", "7000"]);
    let target = engine.create(&spec, "bench", None).await?;
    // Running before the first pause: right after the create the engine may still be starting
    // it (a release build got there first: "is not paused" / "already paused").
    let started = Instant::now();
    while !target.info().await?.running || started.elapsed() < Duration::from_millis(300) {
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the bench container did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = std::env::temp_dir().join(format!("pfiswarm-bench-{}", std::process::id()));
    let agent = Agent::bind(&AgentConfig {
        listen: "127.0.0.1:0".into(),
        token: TOKEN.into(),
        ledger: dir.join("ledger.json"),
    })
    .await?;
    let address = agent.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(agent.serve(async {
        let _ = stopped.await;
    }));
    let client = AgentClient::new(&address, TOKEN);
    client.faults().await?;

    let mut direct = Vec::new();
    let mut unpause = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        target.pause().await?;
        direct.push(started.elapsed());
        let started = Instant::now();
        target.unpause().await?;
        unpause.push(started.elapsed());
    }
    let mut local = Vec::new();
    for round in 0..ROUNDS {
        let ctx = FaultContext::new("bench", format!("l{round}"));
        let started = Instant::now();
        let applied = inject(&Pause {}, &target, &ctx, |_| Ok::<(), std::io::Error>(())).await?;
        local.push(started.elapsed());
        applied.revert().await?;
    }
    let mut remote = Vec::new();
    for round in 0..ROUNDS {
        let request = ApplyRequest {
            id: format!("bench/a{round}"),
            container: target.id().to_string(),
            kind: "pause".into(),
            params: Params::default(),
            lease_ms: 10_000,
        };
        let started = Instant::now();
        client.apply(&request).await?;
        remote.push(started.elapsed());
        if !paused(&target).await? {
            return Err("the agent's pause had no effect".into());
        }
        client.revert(&request.id).await?;
    }
    let mut lapse = Vec::new();
    for round in 0..LAPSE_ROUNDS {
        let request = ApplyRequest {
            id: format!("bench/lease{round}"),
            container: target.id().to_string(),
            kind: "pause".into(),
            params: Params::default(),
            lease_ms: 300,
        };
        let applied = client.apply(&request).await?;
        while paused(&target).await? {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lapse.push(Duration::from_millis(
            now_ms().saturating_sub(applied.lease_until_ms),
        ));
    }
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);

    let pause_base = ms(&direct);
    let unpause_base = ms(&unpause);
    println!(
        "pause on a container, {ROUNDS} rounds (lease lapse: {LAPSE_ROUNDS} rounds, 300 ms lease)"
    );
    line("direct API pause (baseline)", &direct, &pause_base, "pause");
    line("local inject (apply + check)", &local, &pause_base, "pause");
    line(
        "through the agent (HTTP, ledger)",
        &remote,
        &pause_base,
        "pause",
    );
    line(
        "lease end -> seen unpaused",
        &lapse,
        &unpause_base,
        "unpause",
    );
    Ok(pause_base)
}

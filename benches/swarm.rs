//! The pfi agent and its lease, against the real engine (runs with PFI_DOCKER=1; needs the
//! `pfi-demo:local` image: `docker/build-demo-image.sh`). On one container of that image:
//!
//! - activation to effect of a `pause`, applied locally (`inject`: prepare, ledger callback,
//!   apply, the effect check seeing it paused) and through an agent on loopback (the HTTP
//!   round trip with the token's proof, the agent's own ledger write and sync, apply, check);
//! - lease lapse to reverted: a pause applied through the agent under a 300 ms lease that
//!   nobody renews, from the lease's end to the container seen unpaused (polled every 5 ms);
//!
//! each next to a baseline measured in the same run: the direct Docker API call (pause, or
//! unpause) through the same engine connection.
//!
//! The target is a plain container, not a Swarm task: a task is a container, and the agent
//! acts on it the same way (the swarm itself is exercised by tests/integration/swarm.rs).

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

async fn run(name: &str) -> Result<()> {
    let engine = DockerEngine::connect().await?;
    let spec = ContainerSpec::new("bench", "pfi-demo:local")
        .name(name)
        .cmd(&["backend", "--host", "0.0.0.0", "--port", "7000"]);
    let target = engine.create(&spec, "bench", None).await?;
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
    Ok(())
}

//! Docker Swarm services as targets, the pfi agent and its dead-man's lease, against the real
//! engine. They run when `PFI_DOCKER=1` (else they print that they are skipped).
//!
//! The swarm tests make a one-node swarm when the engine is not in one and leave it as they
//! found it: a process-wide mutex serialises them within this binary, and an exclusive lock
//! on a file (`/tmp/pfiswarm-tests.lock`) across test binaries; the swarm is left only by the
//! test that made it. Every service they make is named `pfiswarm-...` and removed at the end,
//! passed or failed.

use super::docker::{Cleanup, docker, start_backend};
use super::support::{free_port, pfi};
use pfi::agent::{AgentClient, AgentError, ApplyRequest};
use pfi::faults::{Fault, FaultAction, FaultContext, RevertAction, RevertOutcome, inject};
use pfi::plan::{Arrival, FaultPlan, Location, Params, TargetFamily, Value};
use pfi::targets::DockerEngine;
use pfi::targets::docker::{NodeAvailability, SERVICE_NAME_LABEL, SwarmService};
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TOKEN: &str = "pfiswarm-test-token-0123456789";

// ------------------------------------------------------------------ the agent

/// A `pfi agent` process on a free loopback port; killed when dropped.
struct AgentProcess {
    child: Child,
    address: String,
}

impl AgentProcess {
    fn start(ledger: &std::path::Path) -> AgentProcess {
        let mut child = pfi()
            .args(["agent", "--listen", "127.0.0.1:0", "--ledger"])
            .arg(ledger)
            .env("PFI_AGENT_TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the agent exited before it listened")
                .unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep reading its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        AgentProcess { child, address }
    }

    fn client(&self) -> AgentClient {
        AgentClient::new(&self.address, TOKEN)
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}

fn apply_request(id: &str, container: &str, kind: &str, lease_ms: u64) -> ApplyRequest {
    ApplyRequest {
        id: id.to_string(),
        container: container.to_string(),
        kind: kind.to_string(),
        params: Params::default(),
        lease_ms,
    }
}

async fn paused(engine: &DockerEngine, name: &str) -> bool {
    engine
        .find(name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .paused
}

/// Polls until the container is no longer paused; how long that took.
async fn until_unpaused(engine: &DockerEngine, name: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while paused(engine, name).await {
        assert!(
            started.elapsed() < limit,
            "container {name} still paused after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn agent_refuses_a_bad_token_and_its_answers_prove_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&dir.path().join("ledger.json"));
    let wrong = AgentClient::new(&agent.address, "not-the-token-at-all-0000");
    assert_eq!(wrong.faults().await.unwrap_err(), AgentError::Unauthorized);
    let (status, _) = raw_get(&agent.address, "/v1/faults", None);
    assert_eq!(status, 401, "no token");
    let (status, _) = raw_get(&agent.address, "/v1/faults", Some("Bearer short"));
    assert_eq!(status, 401, "wrong token");
    assert!(agent.client().faults().await.unwrap().is_empty());
}

/// A GET with an optional Authorization header, over a plain socket; the status and body.
fn raw_get(address: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn a_lapsed_lease_is_reverted_by_the_agent_and_a_renewed_one_is_not() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let container = start_backend(&engine, &mut cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&dir.path().join("ledger.json"));
    let client = agent.client();

    // Renewed every 300 ms under a 1 s lease: it stays applied for 2.5 s.
    let applied = client
        .apply(&apply_request(
            "run1/pause",
            container.name(),
            "pause",
            1000,
        ))
        .await
        .unwrap();
    assert!(
        applied.revert["action"] == "unpause_container",
        "{applied:?}"
    );
    assert!(paused(&engine, container.name()).await);
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        client.renew("run1/pause").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            paused(&engine, container.name()).await,
            "reverted while renewed"
        );
    }
    // Reverted on request, and a second revert finds nothing to undo.
    client.revert("run1/pause").await.unwrap();
    assert!(!paused(&engine, container.name()).await);
    let again = client.revert("run1/pause").await.unwrap();
    assert!(again.contains("nothing to undo"), "{again}");

    // Not renewed: the agent reverts it by itself within the lease (plus its 100 ms check).
    let applied = client
        .apply(&apply_request(
            "run2/pause",
            container.name(),
            "pause",
            1000,
        ))
        .await
        .unwrap();
    let lapse_at = applied.lease_until_ms;
    let took = until_unpaused(&engine, container.name(), Duration::from_secs(5)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    println!(
        "lease 1000 ms: unpaused {} ms after the apply, {} ms after the lapse",
        took.as_millis(),
        now.saturating_sub(lapse_at)
    );
    assert!(
        took >= Duration::from_millis(900),
        "reverted before the lease lapsed: {took:?}"
    );
    assert!(client.faults().await.unwrap().is_empty());
    assert_eq!(
        client.renew("run2/pause").await.unwrap_err(),
        AgentError::Refused {
            status: 404,
            message: "fault `run2/pause` is not held (reverted, or never applied)".into()
        }
    );
}

#[tokio::test]
async fn a_sigkilled_agent_restarted_reverts_what_its_ledger_holds() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let container = start_backend(&engine, &mut cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.json");
    let mut agent = AgentProcess::start(&ledger);
    agent
        .client()
        .apply(&apply_request("run/pause", container.name(), "pause", 1500))
        .await
        .unwrap();
    agent.sigkill();
    assert!(
        paused(&engine, container.name()).await,
        "nobody reverted it yet"
    );
    // The restarted agent reads its ledger and reverts when the recorded lease lapses.
    let restarted = AgentProcess::start(&ledger);
    until_unpaused(&engine, container.name(), Duration::from_secs(5)).await;
    assert!(restarted.client().faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_sigkilled_run_leaves_its_faults_to_the_lease() {
    // The controller here is a `pfi` process that applies a fault through the agent, renews
    // it, and is SIGKILLed: the agent reverts within the lease.
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let container = start_backend(&engine, &mut cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&dir.path().join("ledger.json"));
    let client = agent.client();
    client
        .apply(&apply_request(
            "killed-run/pause",
            container.name(),
            "pause",
            2000,
        ))
        .await
        .unwrap();
    // A renewing controller: a task renewing every 200 ms, aborted (as a SIGKILL would).
    let renewing = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let _ = client.renew("killed-run/pause").await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        paused(&engine, container.name()).await,
        "renewed, still applied"
    );
    renewing.abort();
    let killed = Instant::now();
    until_unpaused(&engine, container.name(), Duration::from_secs(6)).await;
    let took = killed.elapsed();
    println!(
        "controller gone: reverted {} ms later (lease 2000 ms)",
        took.as_millis()
    );
    assert!(took <= Duration::from_millis(2000 + 1000), "{took:?}");
}

// ------------------------------------------------------------------ the swarm

static SWARM: Mutex<()> = Mutex::new(());

/// Holds the engine in swarm mode for one test; leaves the swarm when it made it.
struct SwarmGuard {
    _local: std::sync::MutexGuard<'static, ()>,
    lock: std::fs::File,
    created: bool,
    /// Whether the engine had a `docker_gwbridge` network before the swarm was made: `swarm
    /// init` creates it and `swarm leave` keeps it.
    had_gwbridge: bool,
    services: Vec<String>,
}

impl SwarmGuard {
    fn acquire() -> SwarmGuard {
        let local = SWARM.lock().unwrap_or_else(|p| p.into_inner());
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/tmp/pfiswarm-tests.lock")
            .unwrap();
        // SAFETY: flock on a file descriptor this process owns.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        let state = docker_out(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        let created = state.trim() != "active";
        let had_gwbridge = Command::new("docker")
            .args(["network", "inspect", "docker_gwbridge"])
            .output()
            .is_ok_and(|o| o.status.success());
        if created {
            let out = Command::new("docker")
                .args(["swarm", "init", "--advertise-addr", "127.0.0.1"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        SwarmGuard {
            _local: local,
            lock,
            created,
            had_gwbridge,
            services: Vec::new(),
        }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        for service in &self.services {
            let _ = Command::new("docker")
                .args(["service", "rm", service])
                .output();
        }
        if let Ok(node) = std::str::from_utf8(
            &Command::new("docker")
                .args(["info", "--format", "{{.Swarm.NodeID}}"])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default(),
        ) && !node.trim().is_empty()
        {
            // A failed test must not leave the node drained.
            let _ = Command::new("docker")
                .args(["node", "update", "--availability", "active", node.trim()])
                .output();
        }
        if self.created {
            let _ = Command::new("docker")
                .args(["swarm", "leave", "--force"])
                .output();
            if !self.had_gwbridge {
                let _ = Command::new("docker")
                    .args(["network", "rm", "docker_gwbridge"])
                    .output();
            }
        }
        // SAFETY: as above.
        unsafe { libc::flock(self.lock.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn docker_out(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A replicated service of `pfi-demo backend` with `replicas` tasks, running.
async fn backend_service(
    engine: &DockerEngine,
    guard: &mut SwarmGuard,
    what: &str,
    replicas: u64,
) -> SwarmService {
    let name = format!("pfiswarm-{what}-{}", std::process::id());
    guard.services.push(name.clone());
    docker_out(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        &name,
        "--replicas",
        &replicas.to_string(),
        "--stop-grace-period",
        "1s",
        "--label",
        "pfi.test=1",
        super::docker::IMAGE,
        "backend",
        "--host",
        "0.0.0.0",
        "--port",
        "7000",
    ]);
    let service = SwarmService::new(engine, &name);
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();
    service
}

fn plan(kind: &str, params: &[(&str, Value)]) -> FaultPlan {
    FaultPlan {
        name: kind.into(),
        kind: kind.into(),
        profile: None,
        target: "api".into(),
        target_family: TargetFamily::Container,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        arrival: Arrival::At {
            times_ms: vec![0.0],
        },
        lasting: None,
        probability: 1.0,
        at: Location {
            file: "t.pfi".into(),
            line: 1,
            column: 1,
            start: 0,
            end: 0,
        },
    }
}

fn fault(kind: &str, params: &[(&str, Value)]) -> Box<dyn Fault> {
    match FaultAction::build(&plan(kind, params), kind).unwrap() {
        FaultAction::Container(fault) => fault,
        other => panic!("{other:?}"),
    }
}

/// The running task containers of a service, as the run selects them.
async fn tasks(engine: &DockerEngine, service: &str) -> Vec<pfi::targets::ContainerTarget> {
    let selector = pfi::targets::docker::ContainerSelector::Label {
        key: SERVICE_NAME_LABEL.into(),
        value: Some(service.into()),
    };
    engine
        .select(&[selector], &pfi::plan::Pick::Count(1), 7, "t")
        .await
        .unwrap()
}

#[tokio::test]
async fn service_faults_are_applied_through_the_manager_and_reverted_from_the_ledger() {
    let Some(engine) = docker().await else { return };
    let mut guard = SwarmGuard::acquire();
    let service = backend_service(&engine, &mut guard, "api", 2).await;
    let ctx = FaultContext::new("swarm-test", "f");
    let record = |_: &RevertAction| Ok::<(), std::io::Error>(());

    // scale to 1, reverted to 2 (checked from the service's spec and its running tasks).
    let task = tasks(&engine, service.name()).await.remove(0);
    let applied = inject(
        fault("scale", &[("replicas", Value::Integer(1))]).as_ref(),
        &task,
        &ctx,
        record,
    )
    .await
    .unwrap();
    assert_eq!(service.replicas().await.unwrap(), Some(1));
    assert!(
        applied.effect().to_string().starts_with("observed"),
        "{}",
        applied.effect()
    );
    // A revert from the ledger, as `pfi recover` does it (no live target).
    let outcome = applied.revert_action().revert(None).await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    assert_eq!(service.replicas().await.unwrap(), Some(2));
    // The manager starts the second task again (the revert does not wait for it).
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(service.running_tasks().await.unwrap().len(), 2);
    let again = applied.revert_action().revert(None).await.unwrap();
    assert!(
        matches!(again, RevertOutcome::AlreadyReverted(_)),
        "{again:?}"
    );

    // kill a task: the manager replaces it; the effect is the time to the replacement.
    let task = tasks(&engine, service.name()).await.remove(0);
    let applied = inject(fault("kill", &[]).as_ref(), &task, &ctx, record)
        .await
        .unwrap();
    let effect = applied.effect().to_string();
    println!("kill: {effect}");
    assert!(effect.contains("replacement task"), "{effect}");
    assert!(matches!(
        applied.revert_action(),
        RevertAction::AwaitService { .. }
    ));
    applied.revert().await.unwrap();
    assert_eq!(service.running_tasks().await.unwrap().len(), 2);

    // update limits, restored.
    let before = service.limits().await.unwrap();
    let task = tasks(&engine, service.name()).await.remove(0);
    let applied = inject(
        fault(
            "update",
            &[
                ("cpus", Value::Number(0.25)),
                ("memory", Value::Size(64.0 * 1024.0 * 1024.0)),
            ],
        )
        .as_ref(),
        &task,
        &ctx,
        record,
    )
    .await
    .unwrap();
    let during = service.limits().await.unwrap();
    assert_eq!(during.nano_cpus, Some(250_000_000));
    assert_eq!(during.memory_bytes, Some(64 * 1024 * 1024));
    applied.revert_action().revert(None).await.unwrap();
    assert_eq!(service.limits().await.unwrap(), before);
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();

    // drain the node, restored to active.
    let node = engine.swarm_node_id().await.unwrap().unwrap();
    let task = tasks(&engine, service.name()).await.remove(0);
    let applied = inject(fault("drain", &[]).as_ref(), &task, &ctx, record)
        .await
        .unwrap();
    assert_eq!(
        engine.node_availability(&node).await.unwrap(),
        NodeAvailability::Drain
    );
    println!("drain: {}", applied.effect());
    applied.revert_action().revert(None).await.unwrap();
    assert_eq!(
        engine.node_availability(&node).await.unwrap(),
        NodeAvailability::Active
    );
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();
    drop(guard);
    let _ = free_port();
}

/// Starts `pfi run` on a scenario that pauses a task of `service` through the agent at
/// `agent` (from 500 ms, for 60 s); returns the child once the task is paused, and its name.
/// The caller SIGKILLs and waits for the child it gets back.
#[allow(clippy::zombie_processes)]
async fn run_until_paused(
    engine: &DockerEngine,
    dir: &std::path::Path,
    service: &str,
    agent: &str,
) -> (Child, String) {
    let scenario = dir.join("agent.pfi");
    std::fs::write(
        &scenario,
        format!(
            r#"experiment "a task frozen through the agent" {{
  duration 60s
  seed 1
}}

resource b: service "{service}" {{
  pick 1
  agent "{agent}"
}}

fault freeze: pause on b {{
  at 500ms
  lasting 60s
}}
"#
        ),
    )
    .unwrap();
    let mut child = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env("PFI_AGENT_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        for task in tasks(engine, service).await {
            if task.info().await.unwrap().paused {
                return (child, task.name().to_string());
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pfi run did not pause a task");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sigkilled_run_is_reverted_by_the_agent_within_the_lease_or_by_recover_at_once() {
    let Some(engine) = docker().await else { return };
    let mut guard = SwarmGuard::acquire();
    let service = backend_service(&engine, &mut guard, "leased", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&dir.path().join("agent-ledger.json"));

    // SIGKILL of `pfi run` mid-fault: nothing renews the lease; the agent reverts by itself.
    let (mut run, task) =
        run_until_paused(&engine, dir.path(), service.name(), &agent.address).await;
    run.kill().unwrap();
    let killed = Instant::now();
    run.wait().unwrap();
    let took = until_unpaused(&engine, &task, Duration::from_secs(20)).await;
    println!(
        "pfi run SIGKILLed: the agent unpaused {task} {} ms later (lease {} ms)",
        took.as_millis(),
        pfi::agent::DEFAULT_LEASE.as_millis()
    );
    assert!(
        took <= pfi::agent::DEFAULT_LEASE + Duration::from_secs(2),
        "{took:?}"
    );
    assert!(
        killed.elapsed() >= Duration::from_secs(5),
        "reverted long before the lease lapsed"
    );
    // `pfi recover` then finds the agent holds nothing and the ledger's fault undone.
    let out = pfi()
        .args(["recover", "--state-dir"])
        .arg(dir.path().join("state"))
        .env("PFI_AGENT_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Again, and this time `pfi recover` reaches the agent at once, before the lease lapses.
    let (mut run, task) =
        run_until_paused(&engine, dir.path(), service.name(), &agent.address).await;
    run.kill().unwrap();
    run.wait().unwrap();
    let recovering = Instant::now();
    let out = pfi()
        .args(["recover", "--state-dir"])
        .arg(dir.path().join("state"))
        .env("PFI_AGENT_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("agent"), "{stdout}");
    assert!(
        !paused(&engine, &task).await,
        "recover left {task} paused:\n{stdout}"
    );
    assert!(
        recovering.elapsed() < pfi::agent::DEFAULT_LEASE,
        "recover took {:?}",
        recovering.elapsed()
    );
    assert!(agent.client().faults().await.unwrap().is_empty());
    drop(guard);
}

#[tokio::test]
async fn the_swarm_experiment_runs_on_the_stack_and_reverts_every_fault() {
    let Some(engine) = docker().await else { return };
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/docker/build-agent-image.sh");
    let built = Command::new(&script)
        .env("PFI_DEMO_PROFILE", "dev")
        .env("PFI_DEMO_NO_BUILD", "1")
        .status()
        .unwrap();
    assert!(built.success(), "{script} failed");
    let mut guard = SwarmGuard::acquire();
    // The repository's stack and experiment, with this test's names and free ports.
    let stack = format!("pfiswarm{}", std::process::id());
    let (api_port, agent_port) = (free_port(), free_port());
    let rename = |text: &str| {
        text.replace("pfiswarm_", &format!("{stack}_"))
            .replace("17051", &api_port.to_string())
            .replace("7311", &agent_port.to_string())
    };
    let dir = tempfile::tempdir().unwrap();
    let stack_file = dir.path().join("stack.yml");
    let stack_text = std::fs::read_to_string(format!("{root}/docker/swarm/stack.yml")).unwrap();
    std::fs::write(&stack_file, rename(&stack_text)).unwrap();
    let scenario = dir.path().join("swarm.pfi");
    let scenario_text = std::fs::read_to_string(format!("{root}/experiments/swarm.pfi")).unwrap();
    std::fs::write(&scenario, rename(&scenario_text)).unwrap();
    let secret = format!("{stack}_agent_token");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    docker_out(&["secret", "create", &secret, token_file.to_str().unwrap()]);
    struct Stack(String, String);
    impl Drop for Stack {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["stack", "rm", &self.0])
                .output();
            // The secret and volume stay in use until the tasks are gone.
            for _ in 0..50 {
                let listed = Command::new("docker")
                    .args([
                        "ps",
                        "-aq",
                        "--filter",
                        &format!("label=com.docker.stack.namespace={}", self.0),
                    ])
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                if listed.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = Command::new("docker")
                .args(["secret", "rm", &self.1])
                .output();
            let _ = Command::new("docker")
                .args(["volume", "rm", &format!("{}_pfi_agent_state", self.0)])
                .output();
        }
    }
    let _stack = Stack(stack.clone(), secret.clone());
    docker_out(&[
        "stack",
        "deploy",
        "-c",
        stack_file.to_str().unwrap(),
        &stack,
    ]);
    for service in ["backend", "api", "agent"] {
        SwarmService::new(&engine, &format!("{stack}_{service}"))
            .wait_converged(Duration::from_secs(90))
            .await
            .unwrap();
    }
    // The agent is up when it answers with the proof of the token.
    let agent = AgentClient::new(&format!("127.0.0.1:{agent_port}"), TOKEN);
    let started = Instant::now();
    while agent.faults().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the agent never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let journal = dir.path().join("journal.json");
    let output = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--journal")
        .arg(&journal)
        .env("PFI_AGENT_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    // Thresholds may fail on a slow machine (exit 1); the run itself must complete.
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let faults = report["faults"].as_array().unwrap();
    let kinds: Vec<&str> = faults.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["kill", "scale", "pause", "update", "drain"],
        "{report:#}"
    );
    for fault in faults {
        assert!(fault["error"].is_null(), "{fault:#}");
        assert!(fault["applied_ms"].is_number(), "{fault:#}");
        assert!(fault["reverted_ms"].is_number(), "{fault:#}");
    }
    // Every fault reverted, in the real state: replicas, limits, the node, no paused task,
    // nothing left with the agent.
    let backend = SwarmService::new(&engine, &format!("{stack}_backend"));
    assert_eq!(backend.replicas().await.unwrap(), Some(2));
    assert_eq!(backend.limits().await.unwrap(), Default::default());
    let node = engine.swarm_node_id().await.unwrap().unwrap();
    assert_eq!(
        engine.node_availability(&node).await.unwrap(),
        NodeAvailability::Active
    );
    for service in ["backend", "api", "agent"] {
        SwarmService::new(&engine, &format!("{stack}_{service}"))
            .wait_converged(Duration::from_secs(90))
            .await
            .unwrap();
    }
    let paused = docker_out(&[
        "ps",
        "-q",
        "--filter",
        "status=paused",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
    ]);
    assert!(paused.trim().is_empty(), "paused tasks left: {paused}");
    let started = Instant::now();
    loop {
        match agent.faults().await {
            Ok(held) if held.is_empty() => break,
            other => assert!(started.elapsed() < Duration::from_secs(30), "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(_stack);
    guard.services.clear();
}

#[tokio::test]
async fn a_task_is_partitioned_from_its_overlay_network_and_reconnected() {
    let Some(engine) = docker().await else { return };
    let mut guard = SwarmGuard::acquire();
    let network = format!("pfiswarm-net-{}", std::process::id());
    docker_out(&["network", "create", "--driver", "overlay", &network]);
    struct Network(String);
    impl Drop for Network {
        fn drop(&mut self) {
            for _ in 0..50 {
                let out = Command::new("docker")
                    .args(["network", "rm", &self.0])
                    .output();
                if out.is_ok_and(|o| o.status.success()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let name = format!("pfiswarm-part-{}", std::process::id());
    guard.services.push(name.clone());
    docker_out(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        &name,
        "--network",
        &network,
        "--stop-grace-period",
        "1s",
        super::docker::IMAGE,
        "backend",
        "--host",
        "0.0.0.0",
        "--port",
        "7000",
    ]);
    let service = SwarmService::new(&engine, &name);
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();
    let task = tasks(&engine, &name).await.remove(0);
    assert!(task.info().await.unwrap().network(&network).is_some());
    let applied = inject(
        fault("partition", &[("network", Value::Text(network.clone()))]).as_ref(),
        &task,
        &FaultContext::new("swarm-test", "p"),
        |_| Ok::<(), std::io::Error>(()),
    )
    .await
    .unwrap();
    println!("partition: {}", applied.effect());
    assert!(task.info().await.unwrap().network(&network).is_none());
    assert!(
        task.info().await.unwrap().running,
        "the task keeps running, cut off"
    );
    let outcome = applied.revert_action().revert(None).await.unwrap();
    println!("revert: {outcome}");
    assert!(task.info().await.unwrap().network(&network).is_some());
    let again = applied.revert_action().revert(None).await.unwrap();
    assert!(
        matches!(again, RevertOutcome::AlreadyReverted(_)),
        "{again:?}"
    );
    docker_out(&["service", "rm", &name]);
    guard.services.clear();
    // The network goes once the task's container is gone.
    for _ in 0..100 {
        let left = docker_out(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label={SERVICE_NAME_LABEL}={name}"),
        ]);
        if left.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _network = Network(network);
    drop(_network);
    drop(guard);
}

#[test]
fn bad_service_resources_and_swarm_kinds_on_processes_are_refused_at_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.pfi");
    std::fs::write(
        &file,
        r#"experiment "x" { duration 5s }
resource api: service "shop api" { pick 1 }
resource p: process ["pfi-demo", "backend", "--port", "0"]
fault s: scale on p { replicas 1 }
"#,
    )
    .unwrap();
    let out = pfi().arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot name a service"), "{text}");
    assert!(text.contains("bad.pfi:2:"), "{text}");
    assert!(text.contains("scale"), "{text}");
}

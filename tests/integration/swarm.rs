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

#[tokio::test]
async fn the_agent_serves_its_openapi_document_and_every_route_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProcess::start(&dir.path().join("ledger.json"));
    // Served without the token, and the same document as the one in the source.
    let (status, answer) = raw_get(&agent.address, "/v1/openapi.json", None);
    assert_eq!(status, 200, "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let document: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        document,
        serde_json::from_str::<serde_json::Value>(pfi::agent::AGENT_OPENAPI).unwrap()
    );
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    // Exactly the routes `Agent::serve` declares.
    assert_eq!(
        documented,
        [
            "DELETE /v1/faults/{id}",
            "GET /healthz",
            "GET /v1/faults",
            "GET /v1/openapi.json",
            "POST /v1/faults",
            "POST /v1/faults/{id}/renew",
            "POST /v1/revert-all",
        ]
    );
    // Each is served: with the token, none answers 404 for the route or 405 for the method
    // (a fault id nobody holds: renew answers the agent's own 404 with a JSON error).
    let bearer = format!("Bearer {TOKEN}");
    for route in &documented {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", "nobody%2Fholds");
        let body = (method == "POST" && path == "/v1/faults").then_some("{}");
        let (status, answer) = raw(&agent.address, method, &path, Some(&bearer), body);
        assert_ne!(status, 405, "{route}: {answer}");
        if status == 404 {
            assert!(
                answer.contains("is not held"),
                "{route} is not served: {answer}"
            );
        }
        // The documented statuses include the one it answered.
        let item =
            &document["paths"][route.split_once(' ').unwrap().1][method.to_lowercase().as_str()];
        assert!(
            item["responses"].get(status.to_string()).is_some(),
            "{route} answered {status}, not documented: {answer}"
        );
    }
}

/// A GET with an optional Authorization header, over a plain socket; the status and body.
fn raw_get(address: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    raw(address, "GET", path, auth, None)
}

/// A request over a plain socket; the status and the whole answer.
fn raw(
    address: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let body = body.map_or(String::new(), |b| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    });
    let end = if body.is_empty() { "\r\n" } else { "" };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n{body}{end}"
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
async fn a_restarted_agent_keeps_a_lease_the_run_renewed_past_its_first_term() {
    // Renewals are in the agent's ledger: an agent SIGKILLed and restarted while a run keeps
    // renewing holds the fault on (it would otherwise read the lease of the apply, lapsed
    // long ago, and revert at once), and reverts it when the renewals stop.
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let container = start_backend(&engine, &mut cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.json");
    let mut agent = AgentProcess::start(&ledger);
    let applied = agent
        .client()
        .apply(&apply_request(
            "alive/pause",
            container.name(),
            "pause",
            1500,
        ))
        .await
        .unwrap();
    // Renewed every 300 ms for 3 s: twice the lease it was applied with.
    let until = Instant::now() + Duration::from_millis(3000);
    while Instant::now() < until {
        agent.client().renew("alive/pause").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    agent.client().renew("alive/pause").await.unwrap();
    agent.sigkill();
    let restarted = AgentProcess::start(&ledger);
    let held = restarted.client().faults().await.unwrap();
    assert_eq!(
        held.len(),
        1,
        "the restarted agent holds the fault: {held:?}"
    );
    assert!(
        held[0].lease_until_ms >= applied.lease_until_ms + 2500,
        "the renewed lease was read back: {} vs applied {}",
        held[0].lease_until_ms,
        applied.lease_until_ms
    );
    // The run renews the restarted agent: still applied after another lease.
    let until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < until {
        restarted.client().renew("alive/pause").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            paused(&engine, container.name()).await,
            "the restarted agent reverted a renewed fault"
        );
    }
    // The renewals stop: reverted within the lease.
    let stopped = Instant::now();
    until_unpaused(&engine, container.name(), Duration::from_secs(5)).await;
    assert!(stopped.elapsed() <= Duration::from_millis(1500 + 600));
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
    // The freeze selected a backend task by the service's label and went to the agent the
    // run found for the task's node (the agents' service, the node's address, its port).
    let freeze = faults.iter().find(|f| f["kind"] == "pause").unwrap();
    let detail = freeze["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("agent http://127.0.0.1:{agent_port},")),
        "{freeze:#}"
    );
    assert!(detail.contains(&format!("{stack}_backend.")), "{freeze:#}");
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
resource tier: service label "shop tier=web" { pick 1 }
resource none: service label "" { agent_service "agents" }
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
    // A malformed service label, located.
    assert!(
        text.contains("`shop tier=web` is not a label selector"),
        "{text}"
    );
    assert!(text.contains("bad.pfi:5:"), "{text}");
    assert!(text.contains("the label selector is empty"), "{text}");
    assert!(text.contains("bad.pfi:6:"), "{text}");
}

// ------------------------------------------------------------------ interrupts

/// How a swarm run is interrupted once its faults are applied.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Sigint,
    Sigterm,
    SigkillThenRecover,
}

#[tokio::test]
async fn an_interrupted_run_restores_replicas_limits_and_the_node_exactly() {
    // `scale`, `update` and `drain` in effect at once, then SIGINT, SIGTERM, or SIGKILL and
    // `pfi recover`: the replicas, the service's own limits and the node's availability are
    // exactly as before.
    let Some(engine) = docker().await else { return };
    let mut guard = SwarmGuard::acquire();
    let shop = backend_service(&engine, &mut guard, "intr-shop", 2).await;
    let other = backend_service(&engine, &mut guard, "intr-other", 1).await;
    let own = pfi::targets::docker::ServiceLimits {
        nano_cpus: Some(900_000_000),
        memory_bytes: Some(200 * 1024 * 1024),
    };
    shop.set_limits(&own).await.unwrap();
    shop.wait_converged(Duration::from_secs(60)).await.unwrap();
    let node = engine.swarm_node_id().await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("interrupted.pfi");
    std::fs::write(
        &scenario,
        format!(
            r#"experiment "scale, update and drain, interrupted" {{
  duration 120s
  seed 3
}}

resource shop: service "{shop}" {{
  pick 1
}}

resource other: service "{other}" {{
  pick 1
}}

fault shrink: scale on shop {{
  replicas 1
  at 200ms
  lasting 100s
}}

fault squeeze: update on shop {{
  cpus 0.5
  memory 64MiB
  at 1s
  lasting 100s
}}

fault cordon: drain on other {{
  at 4s
  lasting 100s
}}
"#,
            shop = shop.name(),
            other = other.name()
        ),
    )
    .unwrap();
    for stop in [Stop::Sigint, Stop::Sigterm, Stop::SigkillThenRecover] {
        let state = dir.path().join(format!("state-{stop:?}"));
        let mut child = pfi()
            .arg("run")
            .arg(&scenario)
            .arg("--state-dir")
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // All three in effect: one replica, the squeezed limits, the node drained.
        let started = Instant::now();
        loop {
            let drained = engine.node_availability(&node).await.unwrap() == NodeAvailability::Drain;
            let scaled = shop.replicas().await.unwrap() == Some(1);
            let squeezed = shop.limits().await.unwrap().memory_bytes == Some(64 * 1024 * 1024);
            if drained && scaled && squeezed {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{stop:?}: the faults were not all applied (drained {drained}, scaled {scaled}, squeezed {squeezed}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid = child.id() as i32;
        match stop {
            // SAFETY: signalling the child this test spawned.
            Stop::Sigint => unsafe {
                libc::kill(pid, libc::SIGINT);
            },
            Stop::Sigterm => unsafe {
                libc::kill(pid, libc::SIGTERM);
            },
            Stop::SigkillThenRecover => child.kill().unwrap(),
        }
        let out = child.wait_with_output().unwrap();
        if let Stop::SigkillThenRecover = stop {
            let recovered = pfi()
                .args(["recover", "--state-dir"])
                .arg(&state)
                .output()
                .unwrap();
            assert!(
                recovered.status.success(),
                "{}",
                String::from_utf8_lossy(&recovered.stderr)
            );
        } else {
            assert!(
                out.status.code().is_some(),
                "{stop:?}: the run died of the signal instead of reverting: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(shop.replicas().await.unwrap(), Some(2), "{stop:?}");
        assert_eq!(shop.limits().await.unwrap(), own, "{stop:?}");
        assert_eq!(other.replicas().await.unwrap(), Some(1), "{stop:?}");
        assert_eq!(
            engine.node_availability(&node).await.unwrap(),
            NodeAvailability::Active,
            "{stop:?}"
        );
        // A second recover has nothing to do.
        let again = pfi()
            .args(["recover", "--state-dir"])
            .arg(&state)
            .output()
            .unwrap();
        assert!(again.status.success(), "{stop:?}");
        for service in [&shop, &other] {
            service
                .wait_converged(Duration::from_secs(60))
                .await
                .unwrap();
        }
    }
    drop(guard);
}

// ------------------------------------------------------------------ readiness, labels

#[tokio::test]
async fn a_service_is_ready_when_its_healthcheck_passes_and_labels_select_services() {
    // A stack of two services of the demo image with exec-form healthchecks (the image has no
    // shell: `pfi-demo probe` is the check): `ok` probes its own backend, `never` a port
    // nobody listens on (so its task stays `starting`). A run on `ok`, selected by name and
    // by its label, is ready and pauses a task; a run on `never` fails its readiness, saying
    // the healthcheck has not passed.
    let Some(engine) = docker().await else { return };
    let guard = SwarmGuard::acquire();
    let stack = format!("pfiswarmhealth{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("stack.yml");
    let service = |name: &str, probe: &str, retries: u32| {
        format!(
            r#"  {name}:
    image: {image}
    command: ["backend", "--host", "0.0.0.0", "--port", "7000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "/pfi-demo", "probe", "{probe}", "--timeout", "500ms"]
      interval: 500ms
      timeout: 1s
      retries: {retries}
    deploy:
      replicas: 1
      labels:
        {stack}_role: {name}
"#,
            image = super::docker::IMAGE
        )
    };
    std::fs::write(
        &compose,
        format!(
            "version: \"3.8\"\nservices:\n{}{}",
            service("ok", "127.0.0.1:7000", 3),
            service("never", "127.0.0.1:7999", 10000)
        ),
    )
    .unwrap();
    struct Stack(String);
    impl Drop for Stack {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["stack", "rm", &self.0])
                .output();
        }
    }
    docker_out(&["stack", "deploy", "-c", compose.to_str().unwrap(), &stack]);
    let _stack = Stack(stack.clone());
    let ok = format!("{stack}_ok");
    SwarmService::new(&engine, &ok)
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();

    let scenario = dir.path().join("ok.pfi");
    std::fs::write(
        &scenario,
        format!(
            r#"experiment "ready when healthy" {{
  duration 3s
  seed 5
}}

resource by_name: service "{ok}" {{
  pick 1
}}

resource by_label: service label "{stack}_role=ok" {{
  pick 1
}}

fault freeze: pause on by_label {{
  at 500ms
  lasting 1s
}}
"#
        ),
    )
    .unwrap();
    let journal = dir.path().join("journal.json");
    let out = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let fault = &report["faults"][0];
    assert!(fault["error"].is_null(), "{fault:#}");
    assert!(
        fault["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{ok}.1.")),
        "the label selected a task of `{ok}`: {fault:#}"
    );
    let health = docker_out(&[
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={ok}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(health.contains("(healthy)"), "{health}");

    // `never`: its task runs its container but stays `starting`; the run is not ready.
    let never = format!("{stack}_never");
    let scenario = dir.path().join("never.pfi");
    std::fs::write(
        &scenario,
        format!(
            "experiment \"never healthy\" {{\n  duration 2s\n}}\n\nresource n: service \"{never}\" {{\n  pick 1\n}}\n"
        ),
    )
    .unwrap();
    let out = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(dir.path().join("state-never"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("starting: a task stays `starting` until its healthcheck passes"),
        "{text}"
    );
    drop(_stack);
    drop(guard);
}

#[tokio::test]
async fn a_manager_fault_on_a_task_this_engine_does_not_hold_finds_it_through_the_manager() {
    // A task of another node is known only by the manager: its container is not in this
    // engine. Made here from a real task with a container id this engine does not have, the
    // task listing (with node ids) and `scale`/`drain` still find its service and node
    // through the manager, by the task id in the container's name.
    let Some(engine) = docker().await else { return };
    let mut guard = SwarmGuard::acquire();
    let service = backend_service(&engine, &mut guard, "remote", 2).await;
    let node = engine.swarm_node_id().await.unwrap().unwrap();
    let placed = pfi::targets::docker::SwarmTasks::Named(service.name().to_string())
        .running(&engine)
        .await
        .unwrap();
    assert_eq!(placed.len(), 2, "{placed:?}");
    assert!(placed.iter().all(|t| t.node_id == node), "{placed:?}");
    // The names are the engine's names of the task containers.
    let local = engine.local_task(&placed[0]).await.unwrap();
    assert_eq!(local.name(), placed[0].name);
    let elsewhere = pfi::targets::docker::PlacedTask {
        container_id: "0".repeat(64),
        ..placed[0].clone()
    };
    let remote = engine.remote_task(&elsewhere);
    assert!(remote.info().await.is_err(), "not in this engine");
    let ctx = FaultContext::new("swarm-test", "remote");
    let record = |_: &RevertAction| Ok::<(), std::io::Error>(());
    let scale = fault("scale", &[("replicas", Value::Integer(1))]);
    assert!(scale.through_manager());
    let applied = inject(scale.as_ref(), &remote, &ctx, record).await.unwrap();
    assert_eq!(service.replicas().await.unwrap(), Some(1));
    applied.revert().await.unwrap();
    assert_eq!(service.replicas().await.unwrap(), Some(2));
    // A node-local kind is not a manager fault: it is routed to the task's node's agent.
    assert!(!fault("pause", &[]).through_manager());
    service
        .wait_converged(Duration::from_secs(60))
        .await
        .unwrap();
    drop(guard);
}

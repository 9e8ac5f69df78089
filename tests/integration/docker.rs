//! Docker containers as targets, against the real engine: selection with a seeded blast
//! radius, containers pfi creates, every container fault applied and reverted (checked
//! through inspect), telemetry from the stats stream, and recover after a simulated crash.
//!
//! They run when `PFI_DOCKER=1`; each builds the `pfi-demo:local` image first (once per test
//! binary) with `docker/build-demo-image.sh`. Every container and network they make is named
//! `pfi-test-...`, labelled `pfi.test=1`, and removed at the end even when a test fails.

use pfi::faults::{
    CpuLimit, Fault, FaultContext, FaultError, FaultTarget, IoLimit, Kill, MemoryLimit, Partition,
    Pause, Restart, RevertAction, RevertOutcome, Stop, inject,
};
use pfi::monitor::{DockerTelemetry, MetricsStore, Selection};
use pfi::plan::Pick;
use pfi::run::ledger::{Ledger, LedgerEntry, RecoverOptions, new_run_id, recover};
use pfi::targets::docker::{
    ContainerInfo, ContainerLimits, ContainerSelector, ContainerSpec, ContainerStatus, Removal,
    UNLIMITED_MEMORY,
};
use pfi::targets::{ContainerTarget, DockerEngine, DockerError, Signal};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub(super) const IMAGE: &str = "pfi-demo:local";

static BUILD_IMAGE: Once = Once::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The engine, with the demo image built; `None` (the test is skipped) unless PFI_DOCKER=1.
pub(super) async fn docker() -> Option<DockerEngine> {
    if std::env::var("PFI_DOCKER").as_deref() != Ok("1") {
        println!("skipped: set PFI_DOCKER=1 to run Docker tests");
        return None;
    }
    BUILD_IMAGE.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build-demo-image.sh");
        // From the debug build `cargo test` has just made: the image is ready in seconds.
        let status = Command::new(script)
            .env("PFI_DEMO_PROFILE", "dev")
            .env("PFI_DEMO_NO_BUILD", "1")
            .status()
            .unwrap();
        assert!(status.success(), "{script} failed");
    });
    Some(DockerEngine::connect().await.unwrap())
}

/// A name unique to this test process: `pfi-test-<what>-<pid>-<n>`.
pub(super) fn unique(what: &str) -> String {
    format!(
        "pfi-test-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Removes the containers and networks a test made when it ends, passed or failed.
#[derive(Default)]
pub(super) struct Cleanup {
    pub(super) containers: Vec<String>,
    pub(super) networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&self.containers)
                .output();
        }
        for network in &self.networks {
            let _ = Command::new("docker")
                .args(["network", "rm", network])
                .output();
        }
    }
}

/// A `pfi-demo backend` container on port 7000, published on a free loopback port.
pub(super) fn backend_spec(name: &str) -> ContainerSpec {
    ContainerSpec::new("backend", IMAGE)
        .name(name)
        .cmd(&["backend", "--host", "0.0.0.0", "--port", "7000"])
        .port("127.0.0.1::7000")
        .label("pfi.test", "1")
}

pub(super) async fn start_backend(engine: &DockerEngine, cleanup: &mut Cleanup) -> ContainerTarget {
    let name = unique("backend");
    cleanup.containers.push(name.clone());
    engine
        .create(&backend_spec(&name), "test", None)
        .await
        .unwrap()
}

fn ctx(id: &str) -> FaultContext {
    FaultContext::new(format!("it-{}", std::process::id()), id)
}

/// Applies a fault with no ledger (recording is tested with recover).
async fn apply(fault: &dyn Fault, target: &ContainerTarget) -> pfi::faults::AppliedFault {
    inject(fault, target, &ctx(fault.keyword()), |_| {
        Ok::<(), std::io::Error>(())
    })
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

/// Polls the container's state every 50 ms until `condition` holds; panics after 30 s.
async fn wait_for(
    target: &ContainerTarget,
    what: &str,
    condition: impl Fn(&ContainerInfo) -> bool,
) -> ContainerInfo {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = target.info().await.unwrap();
        if condition(&info) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `PING` to the backend through its published port until it answers `PONG`.
async fn ping(target: &ContainerTarget) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = target.info().await.unwrap();
        if let Some(address) = info.host_address("7000")
            && let Ok(Ok(answer)) =
                tokio::time::timeout(Duration::from_secs(2), ping_once(address)).await
        {
            assert_eq!(answer, "PONG");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backend never answered: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ping_once(address: std::net::SocketAddr) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(b"PING\n").await?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await?;
    if line.is_empty() {
        return Err(std::io::Error::other("closed"));
    }
    Ok(line.trim().to_string())
}

pub(super) fn docker_cli(args: &[&str]) {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn an_unreachable_engine_is_an_environment_error_that_says_what_to_do() {
    // Needs no engine: it is the case of a machine without one.
    let err = DockerEngine::connect_to("unix:///nonexistent/docker.sock")
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::Unreachable { .. }), "{err}");
    assert!(!err.is_input());
    let text = err.to_string();
    assert!(text.contains("/nonexistent/docker.sock"), "{text}");
    assert!(text.contains("is Docker running"), "{text}");
    let refused = DockerEngine::connect_to("tcp://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DockerError::Unreachable { .. }),
        "{refused}"
    );
}

#[tokio::test]
async fn creates_a_container_from_an_image_records_it_and_removes_it() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let state = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::create(state.path(), "r1").unwrap());
    let name = unique("created");
    cleanup.containers.push(name.clone());
    let spec = backend_spec(&name).env("RUST_LOG", "debug");
    let target = engine
        .create(&spec, "r1", Some(ledger.clone()))
        .await
        .unwrap();
    assert!(target.is_created_by_pfi());
    let info = target.info().await.unwrap();
    assert_eq!(info.name, name);
    assert_eq!(info.status, ContainerStatus::Running);
    assert_eq!(info.labels["pfi.run"], "r1");
    assert_eq!(info.labels["pfi.resource"], "backend");
    assert_eq!(info.image, IMAGE);
    ping(&target).await;

    target.remove().await.unwrap();
    let gone = target.info().await.unwrap_err();
    assert!(gone.is_gone(), "{gone}");
    assert!(gone.to_string().contains(&name));
    // Removing twice is fine, and the ledger holds the creation and the removal.
    target.remove().await.unwrap();
    let entries = ledger.contents().unwrap().entries;
    let created = entries
        .iter()
        .filter(|e| matches!(e, LedgerEntry::ContainerCreating { name: n, .. } if *n == name))
        .count();
    let removed = entries
        .iter()
        .filter(|e| matches!(e, LedgerEntry::ContainerRemoved { name: n, .. } if *n == name))
        .count();
    assert_eq!((created, removed), (1, 1));
    assert!(ledger.contents().unwrap().outstanding().is_empty());

    let missing = ContainerSpec::new("ghost", "pfi-test-no-such-image:0").name(unique("ghost"));
    let err = engine
        .create(&missing, "r1", Some(ledger.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::NoSuchImage { .. }), "{err}");
    assert!(err.to_string().contains("pfi does not pull images"));
    assert!(ledger.contents().unwrap().outstanding().is_empty());
    let bad = backend_spec("x").port("7000/icmp");
    assert!(
        engine
            .create(&bad, "r1", None)
            .await
            .unwrap_err()
            .is_input()
    );
}

#[tokio::test]
async fn selects_by_name_id_and_label_with_a_reproducible_pick() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let group = unique("group");
    let mut names = Vec::new();
    for _ in 0..5 {
        let name = unique("pick");
        cleanup.containers.push(name.clone());
        let spec = backend_spec(&name).label("pfi.test.group", &group);
        engine.create(&spec, "test", None).await.unwrap();
        names.push(name);
    }
    let label = ContainerSelector::label(&format!("pfi.test.group={group}")).unwrap();
    let select = |pick: Pick, seed: u64| {
        let engine = engine.clone();
        let label = label.clone();
        async move {
            engine
                .select(&[label], &pick, seed, "resource:web")
                .await
                .unwrap()
                .iter()
                .map(|t| t.name().to_string())
                .collect::<Vec<_>>()
        }
    };
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(select(Pick::All, 1).await, sorted);
    let first = select(Pick::Count(2), 7).await;
    assert_eq!(first.len(), 2);
    assert_eq!(
        select(Pick::Count(2), 7).await,
        first,
        "same seed, same pick"
    );
    let mut picks = BTreeSet::new();
    for seed in 0..10 {
        picks.insert(select(Pick::Count(2), seed).await);
    }
    assert!(picks.len() > 1, "seeds never changed the pick: {picks:?}");
    assert_eq!(select(Pick::Fraction(0.4), 3).await.len(), 2);

    // Several selectors at once: a name, an id and the label, without duplicates.
    let by_id = engine.find(&names[1]).await.unwrap();
    let selectors = [
        ContainerSelector::Name(names[0].clone()),
        ContainerSelector::Id(by_id.id().to_string()),
        label.clone(),
    ];
    let all = engine
        .select(&selectors, &Pick::All, 1, "resource:web")
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    // A container pfi found, not created, is never removed.
    let err = by_id.remove().await.unwrap_err();
    assert!(matches!(err, DockerError::NotCreatedByPfi { .. }), "{err}");
    assert!(by_id.info().await.unwrap().running);

    let missing = engine
        .select(
            &[ContainerSelector::Name(unique("missing"))],
            &Pick::All,
            1,
            "r",
        )
        .await
        .unwrap_err();
    assert!(missing.is_gone() && !missing.is_input(), "{missing}");
    let nothing = ContainerSelector::label(&format!("pfi.test.group={group}-none")).unwrap();
    let err = engine
        .select(&[nothing], &Pick::All, 1, "r")
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::NoMatch { .. }), "{err}");
    let bad = engine
        .select(std::slice::from_ref(&label), &Pick::Fraction(1.5), 1, "r")
        .await
        .unwrap_err();
    assert!(bad.is_input(), "{bad}");
    let bad = engine
        .select(
            &[ContainerSelector::Name("no spaces allowed".into())],
            &Pick::All,
            1,
            "r",
        )
        .await
        .unwrap_err();
    assert!(bad.is_input(), "{bad}");
}

#[tokio::test]
async fn pause_freezes_the_container_until_reverted() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    ping(&target).await;
    let applied = apply(&Pause {}, &target).await;
    assert!(matches!(
        applied.revert_action(),
        RevertAction::UnpauseContainer { .. }
    ));
    let info = target.info().await.unwrap();
    assert!(info.paused, "{info:?}");
    assert_eq!(info.status, ContainerStatus::Paused);
    // Pausing a paused container is refused before anything is recorded.
    let err = inject(
        &Pause {},
        &target,
        &ctx("again"),
        |_| -> Result<(), std::io::Error> { panic!("recorded a fault that cannot apply") },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("it is paused"), "{err}");

    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    assert!(!target.info().await.unwrap().paused);
    ping(&target).await;
    let again = applied.revert().await.unwrap();
    assert!(
        matches!(again, RevertOutcome::AlreadyReverted(_)),
        "{again:?}"
    );
}

#[tokio::test]
async fn kill_with_any_signal_then_start_again() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let started = target.info().await.unwrap().started_at;

    let applied = apply(
        &Kill {
            signal: Signal::KILL,
        },
        &target,
    )
    .await;
    // The kill verifies its effect: the container stopped running.
    let seen = applied.effect().to_string();
    assert!(seen.starts_with("observed: container"), "{seen}");
    let info = wait_for(&target, "the container to die", |info| !info.running).await;
    assert_eq!(info.exit_code, Some(137));
    assert!(matches!(
        applied.revert().await.unwrap(),
        RevertOutcome::Reverted(_)
    ));
    let info = target.info().await.unwrap();
    assert!(info.running);
    assert_ne!(info.started_at, started);
    ping(&target).await;

    // SIGTERM: the demo service exits cleanly.
    let applied = apply(
        &Kill {
            signal: Signal::TERM,
        },
        &target,
    )
    .await;
    let info = wait_for(&target, "a clean exit", |info| !info.running).await;
    assert_eq!(info.exit_code, Some(0));
    // The clean exit is observed too.
    assert!(
        applied.effect().no_effect().is_none(),
        "{}",
        applied.effect()
    );
    applied.revert().await.unwrap();
    assert!(target.info().await.unwrap().running);
    assert!(matches!(
        applied.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));
}

#[tokio::test]
async fn stop_and_restart() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let applied = apply(&Stop::default(), &target).await;
    let info = target.info().await.unwrap();
    assert!(!info.running);
    assert_eq!(info.status, ContainerStatus::Exited);
    // Stopping a stopped container is refused.
    let err = inject(&Stop::default(), &target, &ctx("again"), |_| {
        Ok::<(), std::io::Error>(())
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, FaultError::ContainerNotRunning { .. }),
        "{err}"
    );
    applied.revert().await.unwrap();
    ping(&target).await;

    let before = target.info().await.unwrap().started_at;
    let applied = apply(&Restart::default(), &target).await;
    assert!(matches!(
        applied.revert_action(),
        RevertAction::Nothing { .. }
    ));
    let seen = applied.effect().to_string();
    assert!(seen.contains("runs again, started"), "{seen}");
    let info = target.info().await.unwrap();
    assert!(info.running);
    assert_ne!(info.started_at, before);
    ping(&target).await;
}

#[tokio::test]
async fn cpu_and_memory_limits_restore_the_exact_previous_values() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    // Limits set before the fault, through NanoCpus.
    target
        .update_limits(&ContainerLimits {
            nano_cpus: Some(1_500_000_000),
            memory: Some(256 << 20),
            memory_swap: Some(512 << 20),
            ..ContainerLimits::default()
        })
        .await
        .unwrap();
    let before = target.info().await.unwrap().limits;

    let cpu = apply(&CpuLimit { cores: 0.25 }, &target).await;
    assert_eq!(
        target.info().await.unwrap().limits.nano_cpus,
        Some(250_000_000)
    );
    let memory = apply(&MemoryLimit { bytes: 64 << 20 }, &target).await;
    let limited = target.info().await.unwrap().limits;
    assert_eq!(limited.memory, Some(64 << 20));
    assert_eq!(limited.memory_swap, Some(64 << 20));
    ping(&target).await;

    memory.revert().await.unwrap();
    cpu.revert().await.unwrap();
    assert_eq!(
        target.info().await.unwrap().limits,
        before,
        "exactly as before"
    );
    assert!(matches!(
        cpu.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));

    // Limits set through the CFS quota and period.
    target
        .update_limits(&ContainerLimits {
            cpu_quota: Some(150_000),
            cpu_period: Some(100_000),
            ..ContainerLimits::default()
        })
        .await
        .unwrap_err(); // the engine forbids mixing a quota with NanoCpus...
    let quota = start_backend(&engine, &mut cleanup).await;
    quota
        .update_limits(&ContainerLimits {
            cpu_quota: Some(150_000),
            cpu_period: Some(50_000),
            ..ContainerLimits::default()
        })
        .await
        .unwrap();
    let before = quota.info().await.unwrap().limits;
    let cpu = apply(&CpuLimit { cores: 0.5 }, &quota).await;
    let limited = quota.info().await.unwrap().limits;
    assert_eq!(
        limited.cpu_quota,
        Some(25_000),
        "half a core of a 50 ms period"
    );
    cpu.revert().await.unwrap();
    assert_eq!(quota.info().await.unwrap().limits, before);
}

#[tokio::test]
async fn limits_of_an_unlimited_container_come_back_unlimited() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let before = target.info().await.unwrap().limits;
    assert_eq!(before.nano_cpus, Some(0));
    assert_eq!(before.memory, Some(0));

    let cpu = apply(&CpuLimit { cores: 0.5 }, &target).await;
    // The CPU limit is read back from the engine.
    let seen = cpu.effect().to_string();
    assert!(seen.contains("CpuQuota=50000"), "{seen}");
    let memory = apply(&MemoryLimit { bytes: 32 << 20 }, &target).await;
    let limited = target.info().await.unwrap().limits;
    assert_eq!(limited.cpu_quota, Some(50_000));
    assert_eq!(limited.memory, Some(32 << 20));
    memory.revert().await.unwrap();
    cpu.revert().await.unwrap();

    // The engine cannot write 0 back: it shows its explicit "no limit" instead.
    let after = target.info().await.unwrap().limits;
    assert_eq!(after.nano_cpus, Some(0));
    assert_eq!(after.cpu_period, Some(0));
    assert_eq!(after.cpu_quota, Some(-1));
    assert_eq!(after.memory, Some(UNLIMITED_MEMORY));
    assert_eq!(after.memory_swap, Some(-1));
    assert!(
        ContainerLimits::cpu_change(0.5, &before)
            .previous_in(&before)
            .holds_in(&after)
    );
    assert!(matches!(
        memory.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));
    // pfi killed between the two restore steps: memory and swap read the kernel's unlimited
    // value; the next revert (the one `pfi recover` runs) writes swap back as -1.
    let memory = apply(&MemoryLimit { bytes: 32 << 20 }, &target).await;
    let RevertAction::RestoreContainerLimits { previous, .. } = memory.revert_action() else {
        panic!("{:?}", memory.revert_action());
    };
    let steps = previous.restore_steps();
    assert_eq!(steps.len(), 2, "{steps:?}");
    target.update_limits(&steps[0]).await.unwrap();
    let cut = target.info().await.unwrap().limits;
    assert_eq!(cut.memory_swap, Some(UNLIMITED_MEMORY));
    assert!(matches!(
        memory.revert().await.unwrap(),
        RevertOutcome::Reverted(_)
    ));
    assert_eq!(target.info().await.unwrap().limits, after);
    assert!(matches!(
        memory.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));
    // A second fault on the reverted container reverts the same way.
    let cpu = apply(&CpuLimit { cores: 0.2 }, &target).await;
    assert_eq!(target.info().await.unwrap().limits.cpu_quota, Some(20_000));
    cpu.revert().await.unwrap();
    assert_eq!(target.info().await.unwrap().limits, after);
    ping(&target).await;
}

#[tokio::test]
async fn io_weight_is_applied_and_reverted_or_refused_with_the_reason() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let before = target.info().await.unwrap().limits;
    let weight = IoLimit {
        read_bps: None,
        write_bps: None,
        weight: Some(200),
        device: None,
    };
    match inject(&weight, &target, &ctx("io"), |_| {
        Ok::<(), std::io::Error>(())
    })
    .await
    {
        Ok(applied) => {
            assert_eq!(target.info().await.unwrap().limits.blkio_weight, Some(200));
            applied.revert().await.unwrap();
            let after = target.info().await.unwrap().limits;
            assert!(
                ContainerLimits::blkio_change(200)
                    .previous_in(&before)
                    .holds_in(&after)
            );
        }
        // Kernels without block IO weights (no BFQ): the engine drops the weight with a
        // warning only; pfi notices and says so.
        Err(err) => {
            let text = err.to_string();
            assert!(text.contains("discarded BlkioWeight=200"), "{text}");
            assert!(text.contains("cleaned up"), "{text}");
        }
    }
    let throttle = IoLimit {
        read_bps: Some(1 << 20),
        write_bps: None,
        weight: None,
        device: None,
    };
    let err = inject(&throttle, &target, &ctx("io2"), |_| {
        Ok::<(), std::io::Error>(())
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("give only `weight`"), "{err}");
}

#[tokio::test]
async fn partition_disconnects_and_reconnects_with_aliases_and_addresses() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let network = unique("net");
    docker_cli(&[
        "network",
        "create",
        "--label",
        "pfi.test=1",
        "--subnet",
        "10.231.7.0/24",
        &network,
    ]);
    cleanup.networks.push(network.clone());
    let target = start_backend(&engine, &mut cleanup).await;
    docker_cli(&[
        "network",
        "connect",
        "--alias",
        "db-alias",
        "--ip",
        "10.231.7.7",
        &network,
        target.id(),
    ]);
    ping(&target).await;

    let applied = apply(&Partition { network: None }, &target).await;
    let info = target.info().await.unwrap();
    assert!(info.networks.is_empty(), "{:?}", info.networks);
    applied.revert().await.unwrap();

    let info = target.info().await.unwrap();
    let names: Vec<&str> = info.networks.iter().map(|n| n.network.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"bridge"));
    let custom = info.network(&network).unwrap();
    assert_eq!(custom.aliases, vec!["db-alias".to_string()]);
    assert_eq!(custom.ipv4_address.as_deref(), Some("10.231.7.7"));
    assert_eq!(custom.ip_address, "10.231.7.7");
    ping(&target).await;
    assert!(matches!(
        applied.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));

    // One network only.
    let applied = apply(
        &Partition {
            network: Some(network.clone()),
        },
        &target,
    )
    .await;
    let info = target.info().await.unwrap();
    assert!(info.network(&network).is_none());
    assert!(info.network("bridge").is_some());
    applied.revert().await.unwrap();
    assert!(target.info().await.unwrap().network(&network).is_some());
    let err = inject(
        &Partition {
            network: Some("pfi-test-not-there".into()),
        },
        &target,
        &ctx("p3"),
        |_| Ok::<(), std::io::Error>(()),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not on network `pfi-test-not-there`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_container_removed_mid_fault_is_reported_not_a_panic() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let pause = apply(&Pause {}, &target).await;
    let cpu = apply(&CpuLimit { cores: 0.3 }, &target).await;
    target.remove().await.unwrap();
    for applied in [&pause, &cpu] {
        let outcome = applied.revert().await.unwrap();
        assert!(
            matches!(&outcome, RevertOutcome::AlreadyReverted(text) if text.contains("no longer exists")),
            "{outcome:?}"
        );
    }
    let err = inject(&Pause {}, &target, &ctx("late"), |_| {
        Ok::<(), std::io::Error>(())
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&err, FaultError::Docker(e) if e.is_gone()),
        "{err}"
    );
    assert!(err.to_string().contains(target.name()), "{err}");
}

#[tokio::test]
async fn recover_undoes_a_crashed_run() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let state = tempfile::tempdir().unwrap();
    let run_id = new_run_id();
    let ledger = Arc::new(Ledger::create(state.path(), &run_id).unwrap());

    // A container the run found (not its own) and one it created.
    let found = start_backend(&engine, &mut cleanup).await;
    let before = found.info().await.unwrap();
    let created_name = unique("run-owned");
    cleanup.containers.push(created_name.clone());
    let created = engine
        .create(&backend_spec(&created_name), &run_id, Some(ledger.clone()))
        .await
        .unwrap();

    let faults: [(&str, &dyn Fault, &ContainerTarget); 4] = [
        ("f1", &CpuLimit { cores: 0.2 }, &found),
        ("f2", &MemoryLimit { bytes: 48 << 20 }, &found),
        ("f3", &Partition { network: None }, &found),
        ("f4", &Pause {}, &found),
    ];
    for (id, fault, target) in faults {
        let target: FaultTarget = target.into();
        let name = target.name().to_string();
        inject(fault, target, &FaultContext::new(&run_id, id), |revert| {
            ledger.applying(id, fault.keyword(), &name, revert)
        })
        .await
        .unwrap();
    }
    apply(&Stop::default(), &created).await;
    let info = found.info().await.unwrap();
    assert!(info.paused && info.networks.is_empty());

    // "Crash": nothing reverted, the ledger left as it is.
    drop(ledger);
    let forced = RecoverOptions {
        grace: Duration::from_secs(5),
        force: true,
    };
    let report = recover(state.path(), &forced).await.unwrap();
    assert_eq!(report.failures(), 0, "{report:?}");
    let run = &report.runs[0];
    assert_eq!(run.faults.len(), 4);
    assert!(
        run.faults
            .iter()
            .all(|f| matches!(f.outcome, Ok(RevertOutcome::Reverted(_)))),
        "{run:?}"
    );
    assert_eq!(run.containers.len(), 1);
    assert_eq!(run.containers[0].name, created_name);
    assert_eq!(run.containers[0].outcome, Ok(Removal::Removed));

    let after = found.info().await.unwrap();
    assert!(after.running && !after.paused);
    assert_eq!(after.networks.len(), before.networks.len());
    assert!(after.network("bridge").is_some());
    assert_eq!(after.limits.nano_cpus, before.limits.nano_cpus);
    assert_eq!(after.limits.cpu_quota, Some(-1));
    assert_eq!(after.limits.memory, Some(UNLIMITED_MEMORY));
    ping(&found).await;
    assert!(created.info().await.unwrap_err().is_gone());

    let again = recover(state.path(), &forced).await.unwrap();
    assert!(again.nothing_to_do(), "{again:?}");
}

#[tokio::test]
async fn telemetry_follows_the_stats_stream() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let store = MetricsStore::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(DockerTelemetry::new("db").run(
        target.clone(),
        store.clone(),
        Duration::from_millis(200),
        async {
            let _ = stopped.await;
        },
    ));
    for _ in 0..3 {
        ping(&target).await;
    }
    let samples = |name: &str| {
        store
            .series_summary(name, &Selection::all())
            .map_or(0, |summary| summary.count)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while samples("db.cpu") < 2 || samples("db.net_rx") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "too few samples: {:?}",
            store.series_names()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    task.await.unwrap();
    let memory = store
        .series_summary("db.memory", &Selection::all())
        .unwrap();
    assert!(
        memory.last > 0.0 && memory.last < (256 << 20) as f64,
        "{memory:?}"
    );
    let cpu = store.series_summary("db.cpu", &Selection::all()).unwrap();
    assert!(cpu.min >= 0.0 && cpu.max <= 2.05, "{cpu:?}");
    assert!(samples("db.memory_limit") >= 2);
    assert!(samples("db.io_write") >= 1);
}

/// Several removals of one created container at once (a run killed while it removed its
/// container, then `pfi recover`): the engine answers all but one with 409 "removal already
/// in progress"; each must wait for the container to be gone (a 404) and report success.
#[tokio::test]
async fn concurrent_removals_of_a_created_container_all_succeed() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let name = unique("removed-at-once");
    cleanup.containers.push(name.clone());
    let target = engine
        .create(&backend_spec(&name), "r409", None)
        .await
        .unwrap();
    let removals: Vec<_> = (0..6)
        .map(|_| {
            let engine = engine.clone();
            let name = name.clone();
            tokio::spawn(async move { engine.remove_created(&name, "r409").await })
        })
        .collect();
    let mut removed = 0;
    for removal in removals {
        match removal.await.unwrap() {
            Ok(Removal::Removed) => removed += 1,
            Ok(Removal::AlreadyGone) => {}
            other => panic!("a removal failed: {other:?}"),
        }
    }
    assert!(removed >= 1);
    let gone = target.info().await.unwrap_err();
    assert!(gone.is_gone(), "{gone}");
}

/// Ctrl-C while a container is being created: the `create` future is dropped mid-call, but
/// the engine finishes the creation. The teardown's order (wait for creations in flight, then
/// remove what the ledger recorded) must leave no container behind, not even in `Created`.
#[tokio::test]
async fn an_interrupted_creation_leaves_no_container_behind() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let state = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::create(state.path(), "rint").unwrap());
    for attempt in 0..4 {
        let name = unique("interrupted");
        cleanup.containers.push(name.clone());
        let spec = backend_spec(&name);
        // Dropped after 0, 2, 4 and 6 ms: before, during and after the create call.
        let interrupted = tokio::time::timeout(
            Duration::from_millis(2 * attempt),
            engine.create(&spec, "rint", Some(ledger.clone())),
        )
        .await;
        engine.settle_creations().await;
        let recorded = spec.container_name("rint");
        match engine.remove_created(&recorded, "rint").await.unwrap() {
            Removal::Removed | Removal::AlreadyGone => {}
            Removal::NotOwned => panic!("{recorded} is not this run's"),
        }
        // Had the creation been abandoned mid-call, the container would appear now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let left = Command::new("docker")
            .args(["ps", "-a", "-q", "--filter", &format!("name=^/{recorded}$")])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&left.stdout).trim().is_empty(),
            "attempt {attempt} ({}): {recorded} was left behind",
            if interrupted.is_err() {
                "interrupted"
            } else {
                "completed"
            }
        );
    }
}

//! Process targets and process faults against real processes, checked through `/proc`.

use crate::support::{argv, demo_bin, demo_spec, http_get, start_api, start_backend, wait_until};
use pfi::faults::cgroup::{CgroupPlacement, CgroupVersion};
use pfi::faults::{
    CpuLimit, Fault, FaultContext, FaultError, IoLimit, Kill, MemoryLimit, Pause, Restart,
    RevertAction, RevertOutcome, Stop, inject,
};
use pfi::targets::{
    Exit, ProcStat, ProcessSpec, ProcessState, ProcessTarget, Readiness, Signal, StopOutcome,
    TargetError, clock_ticks_per_second,
};
use std::path::Path;
use std::time::{Duration, Instant};

fn state_of(pid: u32) -> Option<ProcessState> {
    ProcStat::read(pid).unwrap().map(|stat| stat.state)
}

fn gone_or_zombie(pid: u32) -> bool {
    state_of(pid).is_none_or(ProcessState::has_exited)
}

/// Applies a fault with no ledger (recording is tested in the ledger module).
async fn apply(fault: &dyn Fault, target: &ProcessTarget, id: &str) -> pfi::faults::AppliedFault {
    let ctx = FaultContext::new(format!("it-{}", std::process::id()), id);
    inject(fault, target, &ctx, |_| Ok::<(), std::io::Error>(()))
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

async fn sleeper(logs: &Path, name: &str, program: &[&str]) -> ProcessTarget {
    let target = ProcessTarget::new(ProcessSpec::new(name, argv(program), logs)).unwrap();
    target.start().await.unwrap();
    target
}

#[tokio::test]
async fn starts_announces_logs_and_stops_gracefully() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let identity = backend.identity().unwrap();
    assert_eq!(identity.pgid, identity.pid, "own process group");
    let stat = ProcStat::read(identity.pid).unwrap().unwrap();
    assert_eq!(stat.start_time, identity.start_time);
    assert!(stat.state.is_live());
    let address = backend.listen_addr().unwrap();
    let stdout = std::fs::read_to_string(backend.stdout_log()).unwrap();
    assert_eq!(stdout, format!("listening on {address}\n"));
    assert!(backend.stderr_log().exists());

    let err = backend.start().await.unwrap_err();
    assert!(matches!(err, TargetError::AlreadyRunning { .. }), "{err}");

    let outcome = backend.stop().await.unwrap();
    assert_eq!(
        outcome,
        StopOutcome::Stopped {
            pid: identity.pid,
            exit: Exit::Code(0),
            forced: false
        }
    );
    assert!(gone_or_zombie(identity.pid));
    assert!(!backend.is_running());
    assert_eq!(backend.stop().await.unwrap(), StopOutcome::NotRunning);
}

#[tokio::test]
async fn env_and_cwd_reach_the_process() {
    let logs = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let spec = ProcessSpec::new("env", argv(&["sleep", "30"]), logs.path())
        .env("PFI_TEST_MARK", "42")
        .cwd(work.path());
    let target = ProcessTarget::new(spec).unwrap();
    let identity = target.start().await.unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", identity.pid)).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|var| var == b"PFI_TEST_MARK=42")
    );
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", identity.pid)).unwrap();
    assert_eq!(cwd, work.path().canonicalize().unwrap());
    target.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_that_dies_at_start_is_reported_with_its_log() {
    let logs = tempfile::tempdir().unwrap();
    // `api` without `--backend`: clap prints an error and exits with status 2.
    let spec = demo_spec("api", logs.path(), &["api", "--port", "0"]);
    let target = ProcessTarget::new(spec).unwrap();
    let err = target.start().await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("process `api` exited with status 2 during start; last log lines:"),
        "{message}"
    );
    assert!(message.contains("--backend"), "{message}");
    assert!(!target.is_running());
}

#[tokio::test]
async fn readiness_times_out_and_the_process_is_killed() {
    let logs = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let spec = ProcessSpec::new("sleepy", argv(&["sleep", "30"]), logs.path())
        .readiness(Readiness::Tcp {
            address: address.clone(),
        })
        .start_timeout(Duration::from_millis(600));
    let target = ProcessTarget::new(spec).unwrap();
    let started = Instant::now();
    let err = target.start().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let message = err.to_string();
    assert!(
        message.starts_with("process `sleepy` was not ready after"),
        "{message}"
    );
    assert!(
        message.contains(&format!("a TCP connection to {address}")),
        "{message}"
    );
    assert!(message.contains("refused"), "{message}");
    assert!(!target.is_running());
    // Whatever pid it had is gone: nothing named `sleep 30` of ours remains.
    assert!(target.pid().is_none());
}

#[tokio::test]
async fn http_readiness_waits_for_a_2xx() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let probe_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend_address = backend.listen_addr().unwrap().to_string();
    let port = probe_port.to_string();
    let spec = ProcessSpec::new(
        "api",
        argv(&[
            demo_bin(),
            "api",
            "--port",
            &port,
            "--backend",
            &backend_address,
        ]),
        logs.path(),
    )
    .readiness(Readiness::Http {
        url: format!("http://127.0.0.1:{port}/health"),
    });
    let api = ProcessTarget::new(spec).unwrap();
    api.start().await.unwrap();
    assert_eq!(
        http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/health")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let logs = tempfile::tempdir().unwrap();
    let target = ProcessTarget::new(ProcessSpec::new(
        "ghost",
        argv(&["pfi-no-such-program"]),
        logs.path(),
    ))
    .unwrap();
    let message = target.start().await.unwrap_err().to_string();
    assert!(
        message.starts_with("cannot start process `ghost`: `pfi-no-such-program`"),
        "{message}"
    );
    assert!(message.contains("give its full path"), "{message}");
    let err = ProcessTarget::new(ProcessSpec::new("empty", Vec::new(), logs.path())).unwrap_err();
    assert_eq!(err.to_string(), "process `empty` has no command to run");
}

#[tokio::test]
async fn stop_escalates_to_sigkill_when_sigterm_is_ignored() {
    let logs = tempfile::tempdir().unwrap();
    // A fixture that ignores SIGTERM (the ignore survives `exec`).
    let spec = ProcessSpec::new(
        "stubborn",
        argv(&["sh", "-c", "trap '' TERM; exec sleep 30"]),
        logs.path(),
    )
    .stop_grace(Duration::from_millis(300));
    let target = ProcessTarget::new(spec).unwrap();
    let identity = target.start().await.unwrap();
    let outcome = target.stop().await.unwrap();
    assert_eq!(
        outcome,
        StopOutcome::Stopped {
            pid: identity.pid,
            exit: Exit::Signal(Signal::KILL),
            forced: true
        }
    );
}

#[tokio::test]
async fn dropping_a_target_kills_its_process_group() {
    let logs = tempfile::tempdir().unwrap();
    let target = sleeper(logs.path(), "dropped", &["sleep", "30"]).await;
    let pid = target.pid().unwrap();
    drop(target);
    wait_until("the dropped process to die", Duration::from_secs(5), || {
        gone_or_zombie(pid)
    })
    .await;
}

#[tokio::test]
async fn pause_stops_the_process_and_revert_resumes_it() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let pid = backend.pid().unwrap();
    let applied = apply(&Pause {}, &backend, "pause").await;
    assert!(matches!(applied.revert_action(), RevertAction::Resume { pid: p, .. } if *p == pid));
    wait_until("state T", Duration::from_secs(5), || {
        state_of(pid) == Some(ProcessState::Stopped)
    })
    .await;
    assert_eq!(backend.state(), Some(ProcessState::Stopped));

    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    wait_until("the process to run again", Duration::from_secs(5), || {
        state_of(pid).is_some_and(ProcessState::is_live)
    })
    .await;
    // Reverting twice is harmless.
    applied.revert().await.unwrap();
    assert!(state_of(pid).is_some_and(ProcessState::is_live));
    let stream = tokio::net::TcpStream::connect(backend.listen_addr().unwrap()).await;
    assert!(stream.is_ok());
}

#[tokio::test]
async fn kill_ends_the_process_and_revert_starts_it_again() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let old = backend.pid().unwrap();
    let applied = apply(
        &Kill {
            signal: Signal::KILL,
        },
        &backend,
        "kill",
    )
    .await;
    let seen = applied.effect().to_string();
    assert!(
        seen.contains(&format!("process {old} is gone after SIGKILL")),
        "{seen}"
    );
    assert_eq!(
        backend.wait_exit(Duration::from_secs(5)).await,
        Some(Exit::Signal(Signal::KILL))
    );
    assert_eq!(state_of(old), None, "the killed process is reaped and gone");
    assert!(!backend.is_running());

    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    let new = backend.pid().unwrap();
    assert_ne!(new, old);
    let again = applied.revert().await.unwrap();
    assert!(
        matches!(again, RevertOutcome::AlreadyReverted(_)),
        "{again:?}"
    );
    assert_eq!(backend.pid(), Some(new));
}

#[tokio::test]
async fn kill_with_sigterm_lets_the_demo_exit_cleanly() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let kill = Kill {
        signal: "15".parse().unwrap(),
    };
    apply(&kill, &backend, "term").await;
    assert_eq!(
        backend.wait_exit(Duration::from_secs(5)).await,
        Some(Exit::Code(0))
    );
}

#[tokio::test]
async fn a_kill_signal_the_process_survives_has_no_observable_effect() {
    let logs = tempfile::tempdir().unwrap();
    // Ignores SIGUSR1 (the ignore survives `exec`).
    let target = sleeper(
        logs.path(),
        "deaf",
        &["sh", "-c", "trap '' USR1; exec sleep 30"],
    )
    .await;
    let pid = target.pid().unwrap();
    let kill = Kill {
        signal: "SIGUSR1".parse().unwrap(),
    };
    let applied = apply(&kill, &target, "usr1").await;
    let reason = applied.effect().no_effect().expect("no observable effect");
    assert!(
        reason.contains(&format!("process {pid} still runs 1000 ms after SIGUSR1")),
        "{reason}"
    );
    assert!(target.is_running());
}

#[tokio::test]
async fn stop_is_graceful_and_revert_starts_again() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let old = backend.pid().unwrap();
    let applied = apply(&Stop::default(), &backend, "stop").await;
    assert!(
        applied.detail().contains("status 0"),
        "{}",
        applied.detail()
    );
    assert!(!backend.is_running());
    assert_eq!(state_of(old), None);
    applied.revert().await.unwrap();
    let new = backend.pid().unwrap();
    assert_ne!(new, old);
    assert!(
        tokio::net::TcpStream::connect(backend.listen_addr().unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn restart_gives_a_new_pid_and_a_working_service() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(logs.path(), backend.listen_addr().unwrap(), &[]).await;
    let old = api.pid().unwrap();
    let applied = apply(&Restart::default(), &api, "restart").await;
    let new = api.pid().unwrap();
    assert_ne!(new, old);
    assert!(
        applied.detail().contains(&format!("pid {old} → pid {new}")),
        "{}",
        applied.detail()
    );
    assert_eq!(state_of(old), None);
    let seen = applied.effect().to_string();
    assert!(
        seen.contains(&format!("runs as a new process (pid {new}, was {old})")),
        "{seen}"
    );
    assert_eq!(http_get(api.listen_addr().unwrap(), "/health").await.0, 200);
    assert!(matches!(
        applied.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));
}

#[tokio::test]
async fn faults_on_a_stopped_target_say_it_is_not_running() {
    let logs = tempfile::tempdir().unwrap();
    let target = ProcessTarget::new(ProcessSpec::new(
        "idle",
        argv(&["sleep", "30"]),
        logs.path(),
    ))
    .unwrap();
    let ctx = FaultContext::new("it", "f");
    let err = inject(&Pause {}, &target, &ctx, |_| Ok::<(), std::io::Error>(()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot apply `pause` to `idle`: the process is not running"
    );
}

#[tokio::test]
async fn a_fault_whose_revert_cannot_be_recorded_is_not_applied() {
    let logs = tempfile::tempdir().unwrap();
    let target = sleeper(logs.path(), "sleeper", &["sleep", "30"]).await;
    let pid = target.pid().unwrap();
    let ctx = FaultContext::new("it", "f");
    let err = inject(&Pause {}, &target, &ctx, |_| {
        Err(std::io::Error::other("disk full"))
    })
    .await
    .unwrap_err();
    assert!(matches!(err, FaultError::Record { .. }));
    assert!(err.to_string().contains("disk full"), "{err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_ne!(state_of(pid), Some(ProcessState::Stopped));
}

/// The cgroup a process is in for a v1 controller, from `/proc/<pid>/cgroup`; on a cgroup
/// v2 machine (no v1 line for the controller), its unified cgroup.
fn v1_cgroup(pid: u32, controller: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line_of = |wanted: &dyn Fn(&str) -> bool| {
        text.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _ = parts.next();
            let names = parts.next()?;
            wanted(names).then(|| parts.next().unwrap().to_string())
        })
    };
    line_of(&|names| names.split(',').any(|n| n == controller))
        .or_else(|| line_of(&|names| names.is_empty()))
        .unwrap()
}

fn placement(action: &RevertAction) -> CgroupPlacement {
    match action {
        RevertAction::RemoveCgroup { placement } => placement.clone(),
        other => panic!("not a cgroup revert: {other:?}"),
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = ProcStat::read(pid).unwrap().unwrap();
    stat.cpu_ticks() as f64 / clock_ticks_per_second() as f64
}

#[tokio::test]
async fn cpu_limit_throttles_a_busy_process_and_revert_restores_it() {
    let logs = tempfile::tempdir().unwrap();
    let busy = sleeper(logs.path(), "busy", &["sha256sum", "/dev/zero"]).await;
    let pid = busy.pid().unwrap();
    let origin = v1_cgroup(pid, "cpu");
    let applied = apply(&CpuLimit { cores: 0.2 }, &busy, "cpu").await;
    let placement = placement(applied.revert_action());
    let path = placement.path.clone();
    assert!(
        path.ends_with(format!("pfi/it-{}-cpu", std::process::id())),
        "{}",
        path.display()
    );
    let quota_file = match placement.version {
        CgroupVersion::V1 => "cpu.cfs_quota_us",
        CgroupVersion::V2 => "cpu.max",
    };
    let quota = std::fs::read_to_string(path.join(quota_file)).unwrap();
    assert!(quota.starts_with("20000"), "{quota}");
    // The fault read its quota back from the kernel, with the process in the cgroup.
    let seen = applied.effect().to_string();
    assert!(seen.starts_with("observed: "), "{seen}");
    assert!(
        seen.contains(&format!("{quota_file}=20000"))
            && seen.contains(&format!("process {pid} in it")),
        "{seen}"
    );
    let procs = std::fs::read_to_string(path.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|line| line == pid.to_string()), "{procs}");

    // Measure CPU time over two seconds of wall time: at most 0.2 cores plus tolerance.
    let (cpu0, wall0) = (cpu_seconds(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cores = (cpu_seconds(pid) - cpu0) / wall0.elapsed().as_secs_f64();
    assert!(
        cores < 0.35,
        "a 0.2-core limit let {cores:.2} cores through"
    );
    assert!(cores > 0.0, "the busy process made no progress at all");
    let stat = std::fs::read_to_string(path.join("cpu.stat")).unwrap();
    let throttled: u64 = stat
        .lines()
        .find_map(|line| line.strip_prefix("nr_throttled ")?.parse().ok())
        .unwrap();
    assert!(throttled > 0, "{stat}");

    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    assert!(!path.exists());
    assert_eq!(v1_cgroup(pid, "cpu"), origin);
    assert!(matches!(
        applied.revert().await.unwrap(),
        RevertOutcome::AlreadyReverted(_)
    ));
    busy.stop().await.unwrap();
}

#[tokio::test]
async fn memory_limit_constrains_a_leaking_process_until_the_oom_killer_ends_it() {
    let logs = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let api = start_api(
        logs.path(),
        backend.listen_addr().unwrap(),
        &["--leak-rate", "64MiB/s", "--memory-limit", "1GiB"],
    )
    .await;
    let pid = api.pid().unwrap();
    let origin = v1_cgroup(pid, "memory");
    let applied = apply(&MemoryLimit { bytes: 32 << 20 }, &api, "mem").await;
    let placement = placement(applied.revert_action());
    let path = placement.path.clone();
    let limit_file = match placement.version {
        CgroupVersion::V1 => {
            // Nested under the process's own memory cgroup, so its limits still apply.
            assert!(path.starts_with(placement.mount_point.join(origin.trim_start_matches('/'))));
            "memory.limit_in_bytes"
        }
        CgroupVersion::V2 => "memory.max",
    };
    let limit = std::fs::read_to_string(path.join(limit_file)).unwrap();
    assert_eq!(limit.trim(), (32u64 << 20).to_string());

    // The leak passes 32 MiB of new memory within a second; the kernel kills it.
    let exit = api.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(exit, Some(Exit::Signal(Signal::KILL)));
    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    assert!(!path.exists());
}

#[tokio::test]
async fn io_limit_throttles_direct_reads() {
    let logs = tempfile::tempdir().unwrap();
    // On the target folder's disk: direct I/O needs a real block device (not tmpfs).
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let file = data.path().join("blob");
    std::fs::write(&file, vec![7u8; 32 << 20]).unwrap();
    let command = format!(
        "sleep 1; exec dd if={} of=/dev/null bs=64k iflag=direct",
        file.display()
    );
    // The fixture waits a second before reading, so the limit is in place from the first
    // byte; `exec` keeps the pid (and so the cgroup).
    let reader = sleeper(logs.path(), "reader", &["sh", "-c", &command]).await;
    let pid = reader.pid().unwrap();
    let limit = IoLimit {
        read_bps: Some(1 << 20),
        write_bps: None,
        weight: None,
        device: None,
    };
    let applied = apply(&limit, &reader, "io").await;
    let placement = placement(applied.revert_action());
    let (file_name, expected) = match placement.version {
        CgroupVersion::V1 => ("blkio.throttle.read_bps_device", " 1048576"),
        CgroupVersion::V2 => ("io.max", "rbps=1048576"),
    };
    let throttle = std::fs::read_to_string(placement.path.join(file_name)).unwrap();
    assert!(throttle.contains(expected), "{throttle}");
    let seen = applied.effect().to_string();
    assert!(
        seen.starts_with(&format!("observed: {file_name}=")) && seen.contains("in place"),
        "{seen}"
    );

    let read_bytes = || -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
        io.lines()
            .find_map(|line| line.strip_prefix("read_bytes: ")?.parse().ok())
            .unwrap()
    };
    let started = Instant::now();
    let before = read_bytes();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rate = (read_bytes() - before) as f64 / started.elapsed().as_secs_f64();
    // Unthrottled, 32 MiB of direct reads take well under a second.
    assert!(
        rate < 1.5 * (1 << 20) as f64,
        "read {rate:.0} B/s under a 1 MiB/s limit"
    );
    assert!(reader.is_running(), "dd read 32 MiB despite the limit");

    let outcome = applied.revert().await.unwrap();
    assert!(matches!(outcome, RevertOutcome::Reverted(_)), "{outcome:?}");
    assert!(!placement.path.exists());
    // Unthrottled again, dd finishes quickly.
    assert_eq!(
        reader.wait_exit(Duration::from_secs(30)).await,
        Some(Exit::Code(0))
    );
}

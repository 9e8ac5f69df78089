//! The run ledger and `recover` against real processes: a fault recorded before it is
//! applied, a simulated crash, recover, and a second recover that finds nothing.

use crate::support::{demo_spec, start_backend};
use pfi::faults::{FaultContext, Pause, RevertAction, inject};
use pfi::run::ledger::{Ledger, LedgerContents, LedgerEntry, RecoverOptions, new_run_id, recover};
use pfi::targets::{ProcStat, ProcessState, ProcessTarget};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

fn state_of(pid: u32) -> Option<ProcessState> {
    ProcStat::read(pid).unwrap().map(|stat| stat.state)
}

/// The test process owns the ledgers it creates and is alive, so recover must be forced:
/// that is exactly the check that protects a run still in progress.
fn forced() -> RecoverOptions {
    RecoverOptions {
        grace: Duration::from_secs(5),
        force: true,
    }
}

#[tokio::test]
async fn recover_resumes_a_process_paused_by_a_crashed_run() {
    let logs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let pid = backend.pid().unwrap();

    let run_id = new_run_id();
    let ledger = Ledger::create(state.path(), &run_id).unwrap();
    let ctx = FaultContext::new(&run_id, "f1");
    let applied = inject(&Pause {}, &backend, &ctx, |revert| {
        // The entry is on disk before the fault is applied.
        ledger.applying("f1", "pause", backend.name(), revert)?;
        assert_ne!(state_of(pid), Some(ProcessState::Stopped));
        Ok::<(), pfi::run::ledger::LedgerError>(())
    })
    .await
    .unwrap();
    assert!(matches!(
        applied.revert_action(),
        RevertAction::Resume { .. }
    ));
    crate::support::wait_until("state T", Duration::from_secs(5), || {
        state_of(pid) == Some(ProcessState::Stopped)
    })
    .await;

    // "Crash": nothing reverted, the ledger and the process left as they are.
    drop(applied);
    drop(ledger);

    let report = recover(state.path(), &forced()).await.unwrap();
    assert_eq!(report.runs.len(), 1);
    assert_eq!(report.failures(), 0);
    let run = &report.runs[0];
    assert_eq!(run.run_id, run_id);
    assert_eq!(run.faults.len(), 1);
    assert!(run.faults[0].outcome.is_ok());
    crate::support::wait_until("the process to run again", Duration::from_secs(5), || {
        state_of(pid).is_some_and(ProcessState::is_live)
    })
    .await;

    let again = recover(state.path(), &forced()).await.unwrap();
    assert!(again.nothing_to_do(), "{again:?}");
    assert!(again.runs.is_empty());
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn recover_stops_the_processes_a_crashed_run_started() {
    let logs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let run_id = new_run_id();
    let ledger = Arc::new(Ledger::create(state.path(), &run_id).unwrap());
    let spec = demo_spec("backend", logs.path(), &["backend", "--port", "0"]);
    let backend = ProcessTarget::recorded(spec, ledger.clone()).unwrap();
    let identity = backend.start().await.unwrap();
    let contents = ledger.contents().unwrap();
    assert!(contents.entries.iter().any(|entry| matches!(entry,
        LedgerEntry::ProcessStarted { resource, pid, start_time, .. }
            if resource == "backend" && *pid == identity.pid && *start_time == identity.start_time)));

    // Pause it too, then "crash": the target is detached so dropping it leaves the process.
    let ctx = FaultContext::new(&run_id, "f1");
    inject(&Pause {}, &backend, &ctx, |revert| {
        ledger.applying("f1", "pause", "backend", revert)
    })
    .await
    .unwrap();
    backend.detach();
    drop(backend);
    drop(ledger);
    assert!(state_of(identity.pid).is_some());

    let report = recover(state.path(), &forced()).await.unwrap();
    let run = &report.runs[0];
    assert_eq!(run.processes.len(), 1);
    assert_eq!(run.processes[0].pid, identity.pid);
    // The paused process was resumed, then took SIGTERM and exited on its own.
    assert_eq!(
        run.processes[0].outcome.as_ref().unwrap().to_string(),
        "exited after SIGTERM"
    );
    crate::support::wait_until("the process to be gone", Duration::from_secs(5), || {
        state_of(identity.pid).is_none_or(ProcessState::has_exited)
    })
    .await;

    let again = recover(state.path(), &forced()).await.unwrap();
    assert!(again.runs.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_torn_last_line_is_ignored_by_recover() {
    let logs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let backend = start_backend(logs.path()).await;
    let pid = backend.pid().unwrap();
    let run_id = new_run_id();
    let ledger = Ledger::create(state.path(), &run_id).unwrap();
    let path = ledger.path().to_path_buf();
    drop(ledger);
    // The run died while writing its first fault: the fault was never applied.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    write!(file, r#"{{"event":"applying","id":"f1","fault":"pause","target":"backend","revert":{{"action":"res"#).unwrap();
    drop(file);
    let contents = LedgerContents::read(&path).unwrap();
    assert!(contents.torn_tail);
    assert!(contents.outstanding().is_empty());

    let report = recover(state.path(), &forced()).await.unwrap();
    assert!(report.runs.is_empty());
    assert!(state_of(pid).is_some_and(ProcessState::is_live));
    backend.stop().await.unwrap();
}

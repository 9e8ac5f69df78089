//! `pfi run` and `pfi recover` with container resources, through the real binary and the real
//! Docker engine: the shipped container experiment, selection by label with a blast radius
//! and every container fault reverted to the exact previous state, Ctrl-C, SIGKILL then
//! recover, a container removed mid-run; and the environment failures (Docker unreachable,
//! a container that does not exist, a bad selector).
//!
//! The tests that need the engine run when `PFI_DOCKER=1` (and build `pfi-demo:local` first);
//! the others run everywhere.

use super::docker::{Cleanup, IMAGE, docker, docker_cli, start_backend, unique};
use super::support::pfi;
use pfi::targets::ContainerTarget;
use pfi::targets::docker::{ContainerInfo, ContainerSpec};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A scenario file in a temporary folder, with a state folder beside it.
struct Scenario {
    dir: tempfile::TempDir,
}

impl Scenario {
    fn new(text: &str) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test.pfi"), text).unwrap();
        Scenario { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("test.pfi")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("journal.json")
    }

    fn command(&self) -> Command {
        let mut command = pfi();
        command
            .arg("run")
            .arg(self.file())
            .arg("--state-dir")
            .arg(self.state())
            .arg("--journal")
            .arg(self.journal());
        command
    }

    fn spawn(&self) -> Running {
        Running::spawn(self.command())
    }

    fn recover(&self) -> Output {
        pfi()
            .arg("recover")
            .arg("--state-dir")
            .arg(self.state())
            .output()
            .unwrap()
    }
}

/// A `pfi run` in progress; its stderr collected line by line.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child, lines }
    }

    fn stderr(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for a stderr line containing `text` and returns it.
    async fn wait_line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?}; saw:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The run id from the first line (`run <id>: ...`).
    async fn run_id(&self) -> String {
        let line = self.wait_line("] run ").await;
        let after = line.split("] run ").nth(1).unwrap();
        after.split(':').next().unwrap().to_string()
    }

    fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits (at most 2 minutes) for the exit; returns the code, stdout and stderr.
    async fn finish(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pfi run did not finish; stderr:\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut stdout = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        // Let the reader thread drain the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status.code().unwrap_or(-1), stdout, self.stderr())
    }
}

/// Polls the container's state until `condition` holds; panics after 60 s.
async fn wait_state(
    target: &ContainerTarget,
    what: &str,
    condition: impl Fn(&ContainerInfo) -> bool,
) -> ContainerInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = target.info().await.unwrap();
        if condition(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Names of every container (running or not) carrying `label`.
fn containers_labelled(label: &str) -> Vec<String> {
    let output = Command::new("docker")
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

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The state that must come back after a run: running, unpaused, the same limits and the
/// same networks (with their aliases). A CPU quota of 0 (never set) comes back as -1: both
/// mean no quota to the engine.
type Restorable = (
    bool,
    bool,
    pfi::targets::docker::ContainerLimits,
    Vec<(String, Vec<String>)>,
    String,
);

fn restorable(info: &ContainerInfo) -> Restorable {
    let mut networks: Vec<(String, Vec<String>)> = info
        .networks
        .iter()
        .map(|n| {
            let mut aliases = n.aliases.clone();
            aliases.sort();
            (n.network.clone(), aliases)
        })
        .collect();
    networks.sort();
    let mut limits = info.limits;
    if limits.cpu_quota == Some(-1) {
        limits.cpu_quota = Some(0);
    }
    (info.running, info.paused, limits, networks, info.id.clone())
}

#[tokio::test]
async fn the_container_experiment_passes_and_leaves_nothing_behind() {
    let Some(_engine) = docker().await else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("journal.json");
    let mut command = pfi();
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "experiments/container.pfi", "--state-dir"])
        .arg(state.path())
        .arg("--journal")
        .arg(&journal);
    let run = Running::spawn(command);
    let run_id = run.run_id().await;
    let mut cleanup = Cleanup::default();
    cleanup.containers.push(format!("pfi-{run_id}-backend"));
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("completed"), "{stdout}");
    let report = read_json(&journal);
    let faults = report["faults"].as_array().unwrap();
    let kinds: Vec<&str> = faults.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["pause", "cpu_limit", "memory_limit", "kill"],
        "{report:#}"
    );
    for fault in faults {
        assert!(fault["error"].is_null(), "{fault:#}");
        assert!(fault["applied_ms"].is_number(), "{fault:#}");
        assert!(fault["reverted_ms"].is_number(), "{fault:#}");
    }
    assert!(report["teardown_errors"].as_array().unwrap().is_empty());
    // The container it created is gone, and its ledger has nothing left to undo.
    assert!(
        containers_labelled(&format!("pfi.run={run_id}")).is_empty(),
        "a container of run {run_id} is left"
    );
    let recover = pfi()
        .args(["recover", "--state-dir"])
        .arg(state.path())
        .output()
        .unwrap();
    assert!(recover.status.success());
}

#[tokio::test]
async fn a_label_selection_gets_every_fault_and_its_exact_state_back() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let group = unique("group");
    let network = unique("net");
    docker_cli(&["network", "create", "--label", "pfi.test=1", &network]);
    cleanup.networks.push(network.clone());
    let mut targets = Vec::new();
    for _ in 0..3 {
        let name = unique("web");
        cleanup.containers.push(name.clone());
        let spec = ContainerSpec::new("web", IMAGE)
            .name(&name)
            .cmd(&["backend", "--host", "0.0.0.0", "--port", "7000"])
            .label("pfi.test", "1")
            .label("pfi.test.group", &group)
            .network(&network);
        let target = engine.create(&spec, "test", None).await.unwrap();
        // Limits of its own, which must come back exactly.
        docker_cli(&[
            "update",
            "--cpus",
            "1.5",
            "--memory",
            "300m",
            "--memory-swap",
            "600m",
            target.name(),
        ]);
        targets.push(target);
    }
    let mut before = Vec::new();
    for target in &targets {
        before.push(restorable(&target.info().await.unwrap()));
    }
    let scenario = Scenario::new(&format!(
        r#"experiment "blast radius" {{
  duration 7s
  seed 3
  baseline 300ms
}}

resource web: container label "pfi.test.group={group}" {{
  pick 2
}}

fault freeze: pause on web {{ at 200ms; lasting 1s }}
fault squeeze_cpu: cpu_limit on web {{ cores 0.3; at 1500ms; lasting 1s }}
fault squeeze_memory: memory_limit on web {{ limit 64MiB; at 1500ms; lasting 1s }}
fault crash: kill on web {{ signal SIGTERM; at 3s; lasting 1s }}
fault cut: partition on web {{ network "{network}"; at 4500ms; lasting 1s }}
"#
    ));
    let run = scenario.spawn();
    // While the pause holds, exactly two of the three containers are frozen.
    run.wait_line("fault freeze (pause on web) applied").await;
    let mut paused = 0;
    for target in &targets {
        if target.info().await.unwrap().paused {
            paused += 1;
        }
    }
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(paused, 2, "pick 2 of 3: {stderr}");
    let report = read_json(&scenario.journal());
    let faults = report["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 5, "{report:#}");
    for fault in faults {
        assert!(fault["error"].is_null(), "{fault:#}");
        assert!(fault["reverted_ms"].is_number(), "{fault:#}");
        // One detail per selected container.
        let detail = fault["detail"].as_str().unwrap();
        assert_eq!(detail.split("; ").count(), 2, "{detail}");
    }
    // The same seed picks the same two containers as the library's selection.
    let picked: Vec<String> = engine
        .select(
            &[
                pfi::targets::docker::ContainerSelector::label(&format!("pfi.test.group={group}"))
                    .unwrap(),
            ],
            &pfi::plan::Pick::Count(2),
            3,
            "resource:web",
        )
        .await
        .unwrap()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    let ready = stderr
        .lines()
        .find(|l| l.contains("web ready"))
        .unwrap_or_default();
    for name in &picked {
        assert!(ready.contains(name.as_str()), "{ready} / {picked:?}");
    }
    // Running, unpaused, the limits and networks they had.
    for (target, before) in targets.iter().zip(&before) {
        let after = wait_state(target, "running", |i| i.running).await;
        assert_eq!(&restorable(&after), before, "{}", target.name());
    }
}

#[tokio::test]
async fn sigint_mid_run_leaves_nothing_paused() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let before = restorable(&target.info().await.unwrap());
    let scenario = Scenario::new(&format!(
        r#"experiment "interrupted" {{
  duration 60s
  seed 1
  baseline 200ms
}}

resource db: container "{}"

fault squeeze: cpu_limit on db {{ cores 0.25; at 0s; lasting 50s }}
fault freeze: pause on db {{ at 300ms; lasting 50s }}
"#,
        target.name()
    ));
    let run = scenario.spawn();
    run.wait_line("fault squeeze (cpu_limit on db) applied")
        .await;
    wait_state(&target, "paused", |i| i.paused).await;
    run.signal(libc::SIGINT);
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("interrupted: SIGINT"), "{stdout}");
    assert_eq!(restorable(&target.info().await.unwrap()), before);
}

#[tokio::test]
async fn recover_after_sigkill_unpauses_and_removes_created_containers() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let found = start_backend(&engine, &mut cleanup).await;
    let before = restorable(&found.info().await.unwrap());
    let scenario = Scenario::new(&format!(
        r#"experiment "killed" {{
  duration 60s
  seed 1
  baseline 200ms
}}

resource made: image "{IMAGE}" {{
  cmd ["backend", "--host", "0.0.0.0", "--port", "7000"]
  ports ["127.0.0.1::7000"]
}}

resource db: container "{}"

fault freeze: pause on db {{ at 0s; lasting 50s }}
fault starve: memory_limit on made {{ limit 40MiB; at 0s; lasting 50s }}
"#,
        found.name()
    ));
    let run = scenario.spawn();
    let run_id = run.run_id().await;
    let made = format!("pfi-{run_id}-made");
    cleanup.containers.push(made.clone());
    run.wait_line("fault starve").await;
    wait_state(&found, "paused", |i| i.paused).await;
    run.signal(libc::SIGKILL);
    let (code, _, _) = run.finish().await;
    assert_eq!(code, -1, "killed by a signal");
    // Left behind: the pause, and the container the run created.
    assert!(found.info().await.unwrap().paused);
    assert_eq!(
        containers_labelled(&format!("pfi.run={run_id}")),
        vec![made.clone()]
    );

    let output = scenario.recover();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert_eq!(restorable(&found.info().await.unwrap()), before, "{text}");
    assert!(
        containers_labelled(&format!("pfi.run={run_id}")).is_empty(),
        "{text}"
    );
    // A second recover has nothing to do.
    assert!(scenario.recover().status.success());
}

#[tokio::test]
async fn a_container_removed_mid_run_exits_3_naming_it_and_reverts_the_rest() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let doomed = start_backend(&engine, &mut cleanup).await;
    let kept = start_backend(&engine, &mut cleanup).await;
    let before = restorable(&kept.info().await.unwrap());
    let scenario = Scenario::new(&format!(
        r#"experiment "removed" {{
  duration 60s
  seed 1
  baseline 200ms
}}

resource doomed: container "{}"
resource kept: container "{}"

fault squeeze: cpu_limit on kept {{ cores 0.25; at 0s; lasting 50s }}
fault freeze: pause on kept {{ at 0s; lasting 50s }}
"#,
        doomed.name(),
        kept.name()
    ));
    let run = scenario.spawn();
    run.wait_line("fault freeze").await;
    wait_state(&kept, "paused", |i| i.paused).await;
    docker_cli(&["rm", "-f", doomed.name()]);
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("resource `doomed`"), "{stderr}");
    assert!(stderr.contains("test.pfi:7:"), "{stderr}");
    assert!(stderr.contains(doomed.name()), "{stderr}");
    assert_eq!(restorable(&kept.info().await.unwrap()), before);
    // The ledger holds nothing more to undo.
    let output = scenario.recover();
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("nothing"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// A container that exits or restarts mid-run, not by a fault of the run, is an event that
/// fails the run (as a process does); `may_exit` explains it.
#[tokio::test]
async fn a_container_that_dies_or_restarts_mid_run_fails_the_run_unless_expected() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let victim = start_backend(&engine, &mut cleanup).await;
    let scenario = |may_exit: &str| {
        Scenario::new(&format!(
            r#"experiment "dies" {{
  duration 4s
  seed 1
}}

resource victim: container "{}" {{
  {may_exit}
}}
"#,
            victim.name()
        ))
    };
    let unexpected = scenario("");
    let run = unexpected.spawn();
    run.wait_line("victim ready").await;
    docker_cli(&["restart", "-t", "0", victim.name()]);
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report = read_json(&unexpected.journal());
    let events = report["resource_events"].as_array().unwrap();
    assert!(!events.is_empty(), "{report:#}");
    let what: Vec<&str> = events.iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert!(
        what.iter()
            .any(|w| w.starts_with("restarted (container") || w.starts_with("running again")),
        "{what:?}"
    );
    assert!(
        events.iter().all(|e| e["explained_by"].is_null()),
        "{events:?}"
    );
    assert!(stdout.contains("UNEXPECTED"), "{stdout}");

    let expected = scenario("may_exit");
    let run = expected.spawn();
    run.wait_line("victim ready").await;
    docker_cli(&["kill", victim.name()]);
    let (code, stdout, stderr) = run.finish().await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report = read_json(&expected.journal());
    let event = &report["resource_events"][0];
    assert!(
        event["what"]
            .as_str()
            .unwrap()
            .starts_with("exited with status 137 (container"),
        "{event}"
    );
    assert_eq!(event["explained_by"], "may_exit", "{event}");
}

#[tokio::test]
async fn a_container_that_does_not_exist_is_an_environment_error() {
    let Some(_engine) = docker().await else {
        return;
    };
    let missing = unique("missing");
    let scenario = Scenario::new(&format!(
        r#"experiment "missing" {{
  duration 2s
}}

resource db: container "{missing}"
fault freeze: pause on db {{ at 0s; lasting 1s }}
"#
    ));
    let output = scenario.command().output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("resource `db`"), "{stderr}");
    assert!(stderr.contains("test.pfi:5:"), "{stderr}");
    assert!(
        stderr.contains(&format!("`{missing}` does not exist")),
        "{stderr}"
    );
}

// The two below need no engine: they run everywhere.

#[test]
fn an_unreachable_docker_engine_is_exit_3_naming_the_resource() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-docker.sock");
    let scenario = Scenario::new(
        r#"experiment "no engine" {
  duration 2s
}

resource db: container "shop-db"
fault freeze: pause on db { at 0s; lasting 1s }
"#,
    );
    let output = scenario
        .command()
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("resource `db`"), "{stderr}");
    assert!(stderr.contains("test.pfi:5:"), "{stderr}");
    assert!(
        stderr.contains("cannot reach the Docker engine"),
        "{stderr}"
    );
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
}

#[test]
fn a_bad_container_selector_is_exit_2_before_anything_starts() {
    let scenario = Scenario::new(
        r#"experiment "bad selector" {
  duration 2s
}

resource web: container label "app tier=web" { pick 2 }
resource db: container "shop db"
resource cache: container label "app=cache" { pick 0% }
"#,
    );
    let output = scenario
        .command()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "app tier=web",
        "shop db",
        "pick 0%",
        "test.pfi:5:",
        "test.pfi:6:",
        "test.pfi:7:",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(!stderr.contains("cannot reach"), "{stderr}");
}

/// A container's `cpu_limit` is measured like a process's (from the engine's CPU and
/// throttling counters, in the background): an idle backend never reaches a 0.5-core limit,
/// and the summary says the limit did not bind rather than claiming an effect.
#[tokio::test]
async fn a_cpu_limit_on_an_idle_container_is_measured_and_said_not_to_bind() {
    let Some(engine) = docker().await else { return };
    let mut cleanup = Cleanup::default();
    let target = start_backend(&engine, &mut cleanup).await;
    let before = restorable(&target.info().await.unwrap());
    let scenario = Scenario::new(&format!(
        r#"experiment "idle squeeze" {{
  duration 3s
  seed 1
  baseline 200ms
}}

resource db: container "{}"

fault squeeze: cpu_limit on db {{ cores 0.5; at 200ms; lasting 2s }}
"#,
        target.name()
    ));
    let (code, stdout, stderr) = scenario.spawn().finish().await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("no observable effect: used 0.")
            && stdout.contains("under the limit of 0.5 cores anyway")
            && stdout.contains("the limit did not bind"),
        "{stdout}"
    );
    assert_eq!(restorable(&target.info().await.unwrap()), before);
}

/// A busy container under a `cpu_limit` is measured throttled: the demo API burns 100 ms of
/// CPU per request and an open-loop probe asks 20 times a second (about two cores wanted),
/// under a 0.2-core limit.
#[tokio::test]
async fn a_cpu_limit_on_a_busy_container_is_measured_throttled() {
    let Some(_engine) = docker().await else {
        return;
    };
    let port = super::support::free_port();
    let scenario = Scenario::new(&format!(
        r#"experiment "busy squeeze" {{
  duration 4s
  seed 1
  baseline 500ms
}}

resource api: image "{IMAGE}" {{
  cmd ["api", "--host", "0.0.0.0", "--port", "7000", "--backend", "127.0.0.1:9", "--cpu-work", "100ms"]
  ports ["127.0.0.1:{port}:7000"]
  ready tcp 127.0.0.1:{port} within 20s
}}

fault squeeze: cpu_limit on api {{ cores 0.2; at 1s; lasting 2500ms }}

probe checkout: http get "http://127.0.0.1:{port}/checkout" every 50ms timeout 2s
"#
    ));
    let (code, stdout, stderr) = scenario.spawn().finish().await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("measured: used") && stdout.contains("throttled in"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

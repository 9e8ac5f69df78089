//! `pfi run` and `pfi recover` end to end: real `pfi`, real `pfi-demo` processes on free
//! ports, scenarios written into a temporary folder.

use super::support::{
    Test, demo_bin, free_port, gone_or_zombie, pfi, pid_in, proc_state, wait_for,
};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
struct Scenario {
    dir: tempfile::TempDir,
}

impl Scenario {
    /// A scenario with one `pfi-demo backend` resource on a free port, a tcp probe `ping`
    /// on it, and `rest` (faults, thresholds...) appended.
    fn new(duration: &str, rest: &str) -> Scenario {
        Scenario::with_argv(duration, rest, |demo, port| {
            format!(r#""{demo}", "backend", "--port", "{port}""#)
        })
    }

    /// Like `new`, with the resource's argv (as written in the file) built from the demo's
    /// path and the port.
    fn with_argv(duration: &str, rest: &str, argv: impl Fn(&str, u16) -> String) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let argv = argv(demo_bin(), port);
        let text = format!(
            r#"experiment "test" {{
  duration {duration}
  seed 1
  baseline 200ms
}}

resource backend: process [{argv}] {{
  ready tcp 127.0.0.1:{port} within 10s
}}

probe ping: tcp 127.0.0.1:{port} every 50ms timeout 1s

{rest}
"#
        );
        std::fs::write(dir.path().join("test.pfi"), text).unwrap();
        Scenario { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("test.pfi")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self) -> Command {
        let mut command = pfi();
        command
            .arg("run")
            .arg(self.file())
            .arg("--state-dir")
            .arg(self.state());
        command
    }

    /// Starts `pfi run`, its stderr lines delivered on a channel.
    fn spawn(&self) -> Running {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Waits for a stderr line containing `text` and returns it.
    fn wait_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.id() as i32;
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    fn wait(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        let mut stdout = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        (status.code().unwrap_or(-1), stdout)
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_passing_run_writes_a_journal_and_junit() {
    let scenario = Scenario::new(
        "1s",
        "fault freeze: pause on backend {\n  at 200ms\n  lasting 300ms\n}\n\
         threshold ping.availability > 50%\nthreshold ping.error_rate < 50%",
    );
    let started = Instant::now();
    let output = scenario
        .command()
        .arg("--journal")
        .arg(scenario.path("journal.json"))
        .arg("--junit")
        .arg(scenario.path("junit.xml"))
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS  ping.availability > 50%"), "{stdout}");
    assert!(stdout.contains("faults applied: 1"), "{stdout}");
    assert!(
        stderr.contains("fault freeze (pause on backend) applied"),
        "{stderr}"
    );
    assert!(stderr.contains("fault freeze reverted"), "{stderr}");
    eprintln!("wall time of a 1 s experiment (200 ms baseline): {wall:?}");

    let journal = read_json(&scenario.path("journal.json"));
    assert_eq!(journal["completed"], true);
    assert_eq!(journal["thresholds"].as_array().unwrap().len(), 2);
    let fault = &journal["faults"][0];
    assert_eq!(fault["fault"], "freeze");
    // One clock: times are since the run began (the log's); the fault was planned 400 ms
    // after every resource was ready.
    let ready = journal["ready_ms"].as_f64().unwrap();
    let planned = fault["planned_ms"].as_f64().unwrap();
    assert!(
        (planned - ready - 400.0).abs() < 1e-6,
        "{fault} ready {ready}"
    );
    let applied = fault["applied_ms"].as_f64().unwrap();
    let reverted = fault["reverted_ms"].as_f64().unwrap();
    assert!(applied >= planned && reverted >= planned + 300.0, "{fault}");
    let delay = fault["delay_ms"].as_f64().unwrap();
    assert!((applied - planned - delay).abs() < 1e-6, "{fault}");
    eprintln!("activation delay: {delay:.1} ms");
    // The summary prints the fault's times on the log's clock.
    let applied_line = stderr
        .lines()
        .find(|l| l.contains("fault freeze (pause on backend) applied"))
        .unwrap();
    let logged: f64 = applied_line
        .trim_start_matches('[')
        .split('s')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        stdout.contains(&format!("at {:.2}s", applied / 1000.0)),
        "{stdout}"
    );
    assert!(
        (logged - applied / 1000.0).abs() < 0.02,
        "{applied_line} vs {applied}"
    );
    assert_eq!(journal["format"], "pfi-journal");
    assert_eq!(journal["version"], 2);
    assert!(journal["events"].as_array().unwrap().len() >= 5);

    let junit = std::fs::read_to_string(scenario.path("junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 2, "{junit}");
    assert!(junit.contains("failures=\"0\" errors=\"0\""), "{junit}");
    assert!(
        junit.contains("name=\"ping.availability &gt; 50%\""),
        "{junit}"
    );
    assert!(junit.trim_end().ends_with("</testsuites>"));
}

#[test]
fn a_failing_threshold_exits_1_and_fails_its_junit_case() {
    let scenario = Scenario::new("500ms", "threshold ping.count > 1000000");
    let mut command = scenario.command();
    command.arg("--junit").arg(scenario.path("junit.xml"));
    Test::from(command)
        .run()
        .code(1)
        .stdout("FAIL  ping.count > 1000000");
    let junit = std::fs::read_to_string(scenario.path("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(junit.contains("<failure message=\"measured "), "{junit}");
}

#[test]
fn an_abort_threshold_ends_the_run_early() {
    let dead = free_port();
    let scenario = Scenario::new(
        "60s",
        &format!(
            "probe dead: tcp 127.0.0.1:{dead} every 50ms timeout 1s\n\
             threshold dead.availability > 90% abort"
        ),
    );
    let started = Instant::now();
    let output = scenario.command().output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("aborted: abort threshold `dead.availability > 90%`"),
        "{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_pause_fault_freezes_the_process_and_is_reverted() {
    let scenario = Scenario::new(
        "1500ms",
        "fault freeze: pause on backend {\n  at 300ms\n  lasting 600ms\n}",
    );
    let mut run = scenario.spawn();
    let pid = pid_in(&run.wait_line("backend ready"));
    run.wait_line("fault freeze (pause on backend) applied");
    // SIGSTOP is delivered asynchronously: on a loaded machine the process may still show
    // as running for a moment after `kill` returned.
    let deadline = Instant::now() + Duration::from_secs(2);
    while proc_state(pid) != Some('T') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(proc_state(pid), Some('T'));
    run.wait_line("fault freeze reverted");
    let state = proc_state(pid);
    assert!(matches!(state, Some('S') | Some('R')), "{state:?}");
    let (code, stdout) = run.wait();
    assert_eq!(code, 0, "{stdout}");
    assert!(gone_or_zombie(pid), "backend still running after the run");
}

#[test]
fn sigint_reverts_everything_and_exits() {
    let scenario = Scenario::new(
        "60s",
        "fault freeze: pause on backend {\n  at 0ms\n  lasting 60s\n}",
    );
    let mut run = scenario.spawn();
    let pid = pid_in(&run.wait_line("backend ready"));
    run.wait_line("fault freeze (pause on backend) applied");
    // SIGSTOP is delivered asynchronously: on a loaded machine the process may still show
    // as running for a moment after `kill` returned.
    let deadline = Instant::now() + Duration::from_secs(2);
    while proc_state(pid) != Some('T') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(proc_state(pid), Some('T'));
    let interrupted = Instant::now();
    run.signal(libc::SIGINT);
    let (code, stdout) = run.wait();
    eprintln!("Ctrl-C to reverted and exited: {:?}", interrupted.elapsed());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("interrupted: SIGINT"), "{stdout}");
    assert!(gone_or_zombie(pid), "backend still running after SIGINT");
    let recover = pfi()
        .arg("recover")
        .arg("--state-dir")
        .arg(scenario.state())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&recover.stdout);
    assert!(said.contains("nothing to recover"), "{said}");
}

#[test]
fn recover_after_sigkill_resumes_and_stops_the_processes() {
    // When pfi dies, the backend's stopped process group is orphaned and the kernel sends it
    // SIGHUP then SIGCONT; the backend ignores SIGHUP here (inherited through exec) so that
    // it deterministically outlives pfi, as a daemon would.
    let scenario = Scenario::with_argv(
        "60s",
        "fault freeze: pause on backend {\n  at 0ms\n  lasting 60s\n}",
        |demo, port| {
            format!(r#""/bin/sh", "-c", "trap '' HUP; exec {demo} backend --port {port}""#)
        },
    );
    let mut run = scenario.spawn();
    let pid = pid_in(&run.wait_line("backend ready"));
    run.wait_line("fault freeze (pause on backend) applied");
    run.signal(libc::SIGKILL);
    let (code, _) = run.wait();
    assert_eq!(code, -1);
    assert!(!gone_or_zombie(pid), "the backend died with pfi");
    let output = pfi()
        .arg("recover")
        .arg("--state-dir")
        .arg(scenario.state())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("fault f1 (freeze) on backend"), "{stdout}");
    assert!(stdout.contains("process backend"), "{stdout}");
    wait_for("the backend to stop", || gone_or_zombie(pid));
    let again = pfi()
        .arg("recover")
        .arg("--state-dir")
        .arg(scenario.state())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to recover"));
}

#[test]
fn a_missing_program_is_an_environment_error_naming_the_resource() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ghost.pfi");
    std::fs::write(
        &file,
        "experiment \"ghost\" {\n  duration 1s\n}\n\n\
         resource ghost: process [\"pfi-no-such-program-xyz\"]\n",
    )
    .unwrap();
    Test::new()
        .args(["run".as_ref(), file.as_os_str(), "--state-dir".as_ref()])
        .args([dir.path().join("state")])
        .run()
        .code(3)
        .stderr("resource `ghost`")
        .stderr("ghost.pfi:5:")
        .stderr("pfi-no-such-program-xyz");
}

#[test]
fn check_errors_exit_2_without_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.pfi");
    std::fs::write(&file, "experiment {").unwrap();
    Test::new()
        .args(["run".as_ref(), file.as_os_str(), "--state-dir".as_ref()])
        .args([dir.path().join("state")])
        .run()
        .code(2)
        .stderr("bad.pfi:1:");
    assert!(!dir.path().join("state").exists());
}

#[test]
fn link_faults_act_through_the_proxy_and_during_thresholds_see_them() {
    let listen = free_port();
    // The resource is the demo API (HTTP) this time; a TCP probe cannot see `down`, whose
    // connections are accepted and then reset.
    let scenario = Scenario::with_argv(
        "1500ms",
        &format!(
            "link front: http 127.0.0.1:{listen} -> backend:PORT\n\
             probe through: http get \"http://127.0.0.1:{listen}/metrics\" every 50ms timeout 500ms\n\
             fault cut: down on front {{\n  at 400ms\n  lasting 500ms\n}}\n\
             threshold through.error_rate > 50% during cut\n\
             threshold through.error_rate < 50%"
        ),
        |demo, port| format!(r#""{demo}", "api", "--port", "{port}", "--backend", "127.0.0.1:9""#),
    );
    // The link's upstream is the backend's port, known only once the scenario is written.
    let file = scenario.file();
    let text = std::fs::read_to_string(&file).unwrap();
    let port = text
        .split("\"--port\", \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    std::fs::write(&file, text.replace("PORT", &port)).unwrap();
    let output = scenario
        .command()
        .arg("--journal")
        .arg(scenario.path("journal.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("link front listening on 127.0.0.1:{listen}")));
    assert!(
        stderr.contains("fault cut (down on front) applied"),
        "{stderr}"
    );
    let journal = read_json(&scenario.path("journal.json"));
    let probe = &journal["probes"][0];
    assert_eq!(probe["probe"], "ping");
    let through = &journal["probes"][1];
    assert_eq!(through["baseline"]["error_rate"], 0.0, "{through}");
    assert_eq!(through["under"][0][0], "cut");
    assert!(through["under"][0][1]["error_rate"].as_f64().unwrap() > 0.5);
}

#[test]
fn sigint_while_a_resource_starts_stops_it() {
    let never = free_port();
    let scenario = Scenario::with_argv("60s", "", |demo, port| {
        format!(
            r#""{demo}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{never} within 60s
}}
resource second: process ["{demo}", "backend", "--port", "0""#
        )
    });
    // `backend` waits for a port nobody listens on; `second` is never reached.
    let text = std::fs::read_to_string(scenario.file()).unwrap();
    let mut run = scenario.spawn();
    run.wait_line("starting backend");
    std::thread::sleep(Duration::from_millis(300));
    let interrupted = Instant::now();
    run.signal(libc::SIGINT);
    let (code, stdout) = run.wait();
    assert_eq!(code, 1, "{stdout}\n{text}");
    assert!(stdout.contains("interrupted: SIGINT"), "{stdout}");
    assert!(interrupted.elapsed() < Duration::from_secs(10));
    let ledger = std::fs::read_dir(scenario.state().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("ledger.jsonl");
    let ledger = std::fs::read_to_string(ledger).unwrap();
    assert!(ledger.contains("\"process_stopped\""), "{ledger}");
    assert!(ledger.contains("\"run_finished\""), "{ledger}");
}

#[test]
fn a_taken_link_port_is_an_environment_error_naming_the_link() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let scenario = Scenario::new(
        "1s",
        &format!("link front: tcp 127.0.0.1:{port} -> 127.0.0.1:9"),
    );
    Test::from(scenario.command())
        .run()
        .code(3)
        .stderr("link `front` (declared at ")
        .stderr("free the port");
    drop(taken);
}

#[test]
fn sigterm_reverts_everything_and_exits() {
    let scenario = Scenario::new(
        "60s",
        "fault freeze: pause on backend {\n  at 0ms\n  lasting 60s\n}",
    );
    let mut run = scenario.spawn();
    let pid = pid_in(&run.wait_line("backend ready"));
    run.wait_line("fault freeze (pause on backend) applied");
    run.signal(libc::SIGTERM);
    let (code, stdout) = run.wait();
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("interrupted: SIGTERM"), "{stdout}");
    assert!(gone_or_zombie(pid), "backend still running after SIGTERM");
}

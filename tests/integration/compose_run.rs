//! Compose → `pfi init --from` → `pfi check` → `pfi run`, against a real Compose application:
//! two `pfi-demo:local` services (the image is built from the repository by
//! docker/build-demo-image.sh, nothing is pulled) brought up with docker-compose under the
//! project `pfiana<pid>`, and brought down at the end even when the test fails.
//!
//! Runs with `PFI_DOCKER=1` and a docker-compose (`docker-compose` or `docker compose`);
//! says it is skipped otherwise.

use super::docker::docker;
use super::support::{free_port, pfi};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Compose command found on this machine: `docker-compose`, or the `docker compose` plugin.
fn compose_command() -> Option<Vec<&'static str>> {
    let works = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    [vec!["docker-compose"], vec!["docker", "compose"]]
        .into_iter()
        .find(|argv| works(argv))
}

/// A Compose project that is brought down (containers, networks, volumes) when dropped.
struct Project {
    argv: Vec<&'static str>,
    name: String,
    file: PathBuf,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Output {
        Command::new(self.argv[0])
            .args(&self.argv[1..])
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .output()
            .unwrap()
    }

    /// Per service, (running, paused), from `docker inspect` of the project's containers.
    fn states(&self) -> Vec<(String, bool, bool)> {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .output()
            .unwrap();
        let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut out: Vec<(String, bool, bool)> = ids
            .iter()
            .map(|id| {
                let o = Command::new("docker")
                    .args([
                        "inspect",
                        "--format",
                        "{{ index .Config.Labels \"com.docker.compose.service\" }} {{ .State.Running }} {{ .State.Paused }}",
                        id,
                    ])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
                let words: Vec<&str> = text.split(' ').collect();
                (
                    words[0].to_string(),
                    words.get(1) == Some(&"true"),
                    words.get(2) == Some(&"true"),
                )
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let o = self.compose(&["down", "-v", "--remove-orphans", "-t", "2"]);
        if !o.status.success() {
            eprintln!(
                "docker-compose down failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn a_compose_application_is_drafted_checked_and_run_with_every_fault_reverted() {
    let Some(_engine) = docker().await else {
        return;
    };
    let Some(argv) = compose_command() else {
        println!("skipped: neither `docker-compose` nor `docker compose` is installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("pfiana{}", std::process::id());
    // Service names carry the prefix: the draft selects containers by Compose's service label,
    // and the engine is shared.
    let (api_port, backend_port) = (free_port(), free_port());
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"version: "2.4"
services:
  pfiana_api:
    image: pfi-demo:local
    command: ["api", "--host", "0.0.0.0", "--port", "8000", "--backend", "pfiana_backend:7000", "--backend-timeout", "300ms"]
    ports:
      - "127.0.0.1:{api_port}:8000"
    depends_on:
      - pfiana_backend
    mem_limit: 64m
  pfiana_backend:
    image: pfi-demo:local
    command: ["backend", "--host", "0.0.0.0", "--port", "7000"]
    ports:
      - "127.0.0.1:{backend_port}:7000"
"#
        ),
    )
    .unwrap();
    let project = Project {
        argv,
        name: name.clone(),
        file: file.clone(),
    };
    let up = project.compose(&["up", "-d"]);
    assert!(up.status.success(), "up: {}", text(&up.stderr));

    // init → a scenario that checks.
    let scenario = dir.path().join("system.pfi");
    let o = pfi()
        .args(["init", "--from"])
        .arg(&file)
        .arg("-o")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "init: {}", text(&o.stderr));
    let drafted = read(&scenario);
    for expected in [
        "resource pfiana_api: container label \"com.docker.compose.service=pfiana_api\"",
        "resource pfiana_backend: container label \"com.docker.compose.service=pfiana_backend\"",
        "pfiana_api depends_on pfiana_backend via",
        &format!("ready tcp 127.0.0.1:{api_port}"),
    ] {
        assert!(
            drafted.contains(expected),
            "missing {expected:?} in\n{drafted}"
        );
    }
    // One edit: the proxy of the drafted link listens on a port free now (the draft counts
    // from 21000; tests never use fixed ports).
    let listen = drafted
        .lines()
        .find_map(|l| {
            l.strip_prefix("link ")?
                .split_once("tcp ")?
                .1
                .split_once(" ->")
                .map(|(a, _)| a.to_string())
        })
        .expect("a drafted link");
    let edited = drafted.replace(
        &format!("{listen} ->"),
        &format!("127.0.0.1:{} ->", free_port()),
    );
    std::fs::write(&scenario, edited).unwrap();
    let check = pfi().arg("check").arg(&scenario).output().unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "check: {}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    // run → every drafted fault applied and reverted.
    let before = project.states();
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(
        before
            .iter()
            .all(|(_, running, paused)| *running && !paused)
    );
    let state = dir.path().join("state");
    let journal = dir.path().join("journal.json");
    let run = pfi()
        .arg("run")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(&state)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    // 0: the thresholds held; 1: one failed (the faults hurt): both are a run that completed.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "run: {:?}\n{stdout}\n{stderr}",
        run.status.code()
    );
    let report: serde_json::Value = serde_json::from_str(&read(&journal)).unwrap();
    let faults = report["faults"].as_array().unwrap();
    let kinds: Vec<&str> = faults.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"pause") && kinds.contains(&"stop"),
        "{kinds:?}"
    );
    assert!(faults.len() >= 4, "{report:#}");
    for fault in faults {
        assert!(fault["error"].is_null(), "{fault:#}");
        assert!(fault["applied_ms"].is_number(), "{fault:#}");
        assert!(fault["reverted_ms"].is_number(), "{fault:#}");
    }
    assert!(
        report["teardown_errors"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    // The containers are back as they were, and the ledger has nothing left to undo.
    assert_eq!(project.states(), before);
    let recover = pfi()
        .args(["recover", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(recover.status.success(), "{}", text(&recover.stderr));
}

//! What pfi measures, against real third-party servers (`python3 -m http.server`): open-loop
//! probes under a freeze, readiness of a process whose port another process holds, a
//! resource that crashes mid-run, and the units of thresholds.

use super::support::{free_port, pfi, run_with_journal};
use std::path::Path;
use std::process::Output;

/// `pfi run` on `text` in `dir`, without a journal.
fn run(dir: &Path, text: &str) -> Output {
    let file = dir.join("scenario.pfi");
    std::fs::write(&file, text).unwrap();
    pfi()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap()
}

fn http_server(port: u16) -> String {
    format!(
        r#"resource web: process ["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"] {{
  type api
  ready tcp 127.0.0.1:{port} within 10s
}}"#
    )
}

/// Finding 1: a closed loop sent one check per timeout into a 3 s freeze (3-4 checks, 33%
/// availability). Open-loop probes send one every 100 ms whatever the others are doing.
#[test]
fn a_three_second_freeze_meets_a_check_every_100ms_and_measures_no_availability() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        r#"experiment "freeze" {{
  duration 5s
  seed 1
  baseline 1s
}}

{}

probe page: http "http://127.0.0.1:{port}/" every 100ms timeout 300ms

fault freeze: pause on web {{
  at 500ms
  lasting 3s
}}

threshold page.availability > 50% during freeze
"#,
        http_server(port)
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 1, "{stdout}");
    let under = &journal["probes"][0]["under"][0];
    assert_eq!(under[0], "freeze", "{under}");
    let count = under[1]["count"].as_u64().unwrap();
    let availability = 1.0 - under[1]["error_rate"].as_f64().unwrap();
    eprintln!("3 s freeze, every 100ms: {count} checks, availability {availability:.3}");
    // 30 scheduled inside the window, plus those that overlap its edges.
    assert!((28..=36).contains(&count), "{count} checks\n{stdout}");
    // Only checks sent in the freeze's last 300 ms can be answered (at the unpause).
    assert!(
        availability <= 0.15,
        "availability {availability}\n{stdout}"
    );
    let baseline = &journal["probes"][0]["baseline"];
    assert_eq!(baseline["error_rate"], 0.0, "{baseline}");
}

/// Finding 2: a second server on a port another process holds exits with "Address already
/// in use"; the port answers (the other process's), and pfi used to call it ready.
#[test]
fn a_process_whose_port_another_process_holds_is_not_ready_and_its_exit_is_shown() {
    let foreign = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = foreign.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"experiment "taken" {{
  duration 2s
}}

{}

probe page: tcp 127.0.0.1:{port} every 100ms
"#,
        http_server(port)
    );
    let output = run(dir.path(), &text);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("web ready"), "{stderr}");
    assert!(stderr.contains("exited with"), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    drop(foreign);
}

/// Finding 3: a resource that crashed mid-run was only in the ledger; the run passed.
#[test]
fn a_resource_that_crashes_mid_run_fails_the_run_unless_expected() {
    let scenario = |may_exit: &str| {
        format!(
            r#"experiment "crash" {{
  duration 4s
}}

resource worker: process ["python3", "-c", "import time; time.sleep(0.7); raise SystemExit(7)"] {{
  {may_exit}
}}
"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, journal) = run_with_journal(dir.path(), &scenario(""));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("worker exited with status 7"), "{stdout}");
    assert!(stdout.contains("UNEXPECTED"), "{stdout}");
    let event = &journal["resource_events"][0];
    assert_eq!(event["resource"], "worker", "{event}");
    assert!(event["explained_by"].is_null(), "{event}");

    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, journal) = run_with_journal(dir.path(), &scenario("may_exit"));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(journal["resource_events"][0]["explained_by"], "may_exit");
}

/// A threshold judged on fewer than 5 checks is inconclusive: reported (summary, journal,
/// JUnit as skipped), not a pass or a fail; `--fail-inconclusive` makes it fail the run.
#[test]
fn a_threshold_on_too_few_checks_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        r#"experiment "short" {{
  duration 2s
  seed 1
}}

{}

probe page: tcp 127.0.0.1:{port} every 100ms timeout 200ms

fault blip: pause on web {{
  at 500ms
  lasting 250ms
}}

threshold page.availability > 99% during blip
threshold page.availability > 10%
"#,
        http_server(port)
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("INCONCLUSIVE  page.availability > 99% during blip"),
        "{stdout}"
    );
    assert!(stdout.contains("(at least 5 needed)"), "{stdout}");
    assert!(stdout.contains("PASS  page.availability > 10%"), "{stdout}");
    let first = &journal["thresholds"][0];
    assert_eq!(first["inconclusive"], true, "{first}");
    assert_eq!(first["passed"], true, "{first}");
    let note = first["note"].as_str().unwrap();
    assert!(note.starts_with("inconclusive: "), "{note}");
    assert!(note.contains("while `blip` was active"), "{note}");
    assert_eq!(journal["thresholds"][1]["inconclusive"], false);

    let file = dir.path().join("scenario.pfi");
    let junit = dir.path().join("junit.xml");
    let output = pfi()
        .args(["run", "--fail-inconclusive", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--junit")
        .arg(&junit)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("INCONCLUSIVE  page.availability > 99% during blip"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("inconclusive: "), "{xml}");
}

/// A standby a mitigation activates is watched like the resources started at the beginning:
/// its exit mid-run is an event that fails the run.
#[test]
fn an_activated_standby_that_dies_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (port, spare) = (free_port(), free_port());
    let text = format!(
        r#"experiment "standby" {{
  duration 4s
  seed 1
}}

{}

resource spare: process ["python3", "-c", "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {spare})); s.listen(); time.sleep(1.0); raise SystemExit(4)"] {{
  standby
  ready tcp 127.0.0.1:{spare} within 10s
}}

probe reach: tcp 127.0.0.1:{port} every 100ms timeout 1s

mitigate when reach.count > 3 {{
  activate spare
}}
"#,
        http_server(port)
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 1, "{stdout}");
    let events = journal["resource_events"].as_array().unwrap();
    let event = events
        .iter()
        .find(|e| e["resource"] == "spare")
        .unwrap_or_else(|| panic!("no event of the standby: {events:?}\n{stdout}"));
    assert!(
        event["what"]
            .as_str()
            .unwrap()
            .starts_with("exited with status 4"),
        "{event}"
    );
    assert!(event["explained_by"].is_null(), "{event}");
}

/// A kill fault explains the exit it causes.
#[test]
fn an_exit_caused_by_a_kill_fault_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        r#"experiment "kill" {{
  duration 2s
}}

{}

fault crash: kill on web {{
  at 300ms
}}
"#,
        http_server(port)
    );
    let (code, stdout, journal) = run_with_journal(dir.path(), &text);
    assert_eq!(code, 0, "{stdout}");
    let event = &journal["resource_events"][0];
    assert_eq!(event["explained_by"], "fault crash (kill)", "{event}");
}

/// Finding 7: `error_rate < 5` was read as 500% (always passes), `availability > 60` as
/// 6000% (never passes), without a word.
#[test]
fn a_fraction_compared_with_a_bare_number_above_one_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("units.pfi");
    std::fs::write(
        &file,
        "experiment \"units\" {\n  duration 1s\n}\n\n\
         probe p: tcp 127.0.0.1:1\n\n\
         threshold p.error_rate < 5\n\
         threshold p.availability > 60\n\
         threshold p.availability > 0.6\n\
         threshold p.error_rate < 5%\n",
    )
    .unwrap();
    let output = pfi().arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("units.pfi:7:"), "{stderr}");
    assert!(stderr.contains("did you mean 5%?"), "{stderr}");
    assert!(stderr.contains("units.pfi:8:"), "{stderr}");
    assert!(stderr.contains("did you mean 60%?"), "{stderr}");
    assert!(!stderr.contains("units.pfi:9:"), "{stderr}");
    assert!(!stderr.contains("units.pfi:10:"), "{stderr}");
}

/// Finding 6 (part): with `--profile top:1`, a threshold `during` a fault left out failed
/// with "no samples"; it is skipped with a note, in `pfi run` and `pfi plan`.
#[test]
fn thresholds_during_a_fault_left_out_by_the_profile_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut history =
        String::from("timestamp,resource,resource_type,fault_kind,duration,root_cause,severity\n");
    for month in 1..=12 {
        history.push_str(&format!(
            "2024-{month:02}-01T00:00:00Z,web,api,pause,5s,gc,major\n"
        ));
    }
    std::fs::write(dir.path().join("history.csv"), history).unwrap();
    let text = format!(
        r#"experiment "top" {{
  duration 1500ms
  history "history.csv"
}}

{}

probe page: tcp 127.0.0.1:{port} every 50ms

fault freeze: pause on web {{
  at 300ms
  lasting 300ms
}}
fault crash: kill on web {{
  at 1s
}}

threshold page.availability > 99% during crash
"#,
        http_server(port)
    );
    let file = dir.path().join("scenario.pfi");
    std::fs::write(&file, &text).unwrap();
    let output = pfi()
        .args(["plan", "--profile", "top:1"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("running freeze (left out: crash)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is skipped: fault `crash` is left out"),
        "{stderr}"
    );

    let output = pfi()
        .args(["run", "--profile", "top:1", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("SKIP  page.availability > 99%"), "{stdout}");
    assert!(
        stdout.contains("skipped: fault `crash` is left out"),
        "{stdout}"
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with the `openssl` command.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pfi test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// HTTPS probes verify the server against the system's roots (here `SSL_CERT_FILE`), and
/// `expect body contains` reads the answer.
#[test]
fn an_https_probe_checks_a_real_tls_server_and_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let port = free_port();
    let server = format!(
        "import http.server, ssl\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         c.load_cert_chain('cert.pem', 'key.pem')\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n"
    );
    std::fs::write(dir.path().join("serve.py"), server).unwrap();
    let text = format!(
        r#"experiment "tls" {{
  duration 1s
}}

resource web: process ["python3", "serve.py"] {{
  cwd "."
  ready tcp 127.0.0.1:{port} within 10s
}}

probe page: http "https://127.0.0.1:{port}/" every 100ms timeout 2s expect body contains "server.csr"
threshold page.availability > 99%
threshold page.count > 5
"#
    );
    let file = dir.path().join("tls.pfi");
    std::fs::write(&file, text).unwrap();
    let run = |trusted: bool| {
        let mut command = pfi();
        command
            .arg("run")
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.path().join("state"));
        if trusted {
            command.env("SSL_CERT_FILE", dir.path().join("ca.pem"));
        } else {
            command.env("SSL_CERT_FILE", dir.path().join("cert.pem"));
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(true);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("PASS  page.availability > 99%"), "{stdout}");
    // Trusting only the server's own certificate (not its issuer) fails every check.
    let (code, stdout) = run(false);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("whole run") && l.contains("errors  100%")),
        "{stdout}"
    );
}

/// Expectations that do not fit the probe are located errors.
#[test]
fn expectations_that_do_not_fit_the_probe_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.pfi");
    std::fs::write(
        &file,
        "experiment \"e\" {\n  duration 1s\n}\n\
         probe a: http \"http://127.0.0.1:1/\" expect stdout contains \"x\"\n\
         probe b: http \"http://127.0.0.1:1/\" expect status 42\n\
         probe c: command [\"true\"] { expect body contains \"x\" }\n\
         probe d: http \"http://127.0.0.1:1/\" { expect status 200; expect status 204 }\n\
         probe e: command [\"true\"] expect stdout contains \"ok\" expect status 3\n",
    )
    .unwrap();
    let output = pfi().arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for (line, text) in [
        (4, "no stdout to expect"),
        (5, "42 is not an HTTP status"),
        (6, "no body to expect"),
        (7, "`expect status` is set twice"),
    ] {
        assert!(
            stderr.contains(&format!("expect.pfi:{line}:")),
            "{line}: {stderr}"
        );
        assert!(stderr.contains(text), "{text}: {stderr}");
    }
    assert!(!stderr.contains("expect.pfi:8:"), "{stderr}");
}

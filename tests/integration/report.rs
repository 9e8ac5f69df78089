//! `pfi report` and `pfi run --report` end to end: real runs of `pfi-demo`, the journal read
//! back, the HTML page opened in headless Chromium (skipped with a message when Chromium is
//! not installed; `.ci/run` installs it), Markdown, two runs compared, reports of an aborted
//! and an interrupted run, and every kind of bad journal.

use super::support::{demo_bin, free_port, pfi};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scenario: a `pfi-demo backend` on a free port behind a proxied link, a TCP probe through
/// the link, a latency fault on the link and a freeze of the backend, and `rest`.
fn scenario(dir: &Path, seed: u64, rest: &str) -> PathBuf {
    let (port, listen) = (free_port(), free_port());
    let demo = demo_bin();
    let text = format!(
        r#"experiment "report" {{
  duration 1500ms
  seed {seed}
  baseline 400ms
}}
resource backend: process ["{demo}", "backend", "--port", "{port}"] {{
  ready tcp 127.0.0.1:{port} within 10s
}}
link front: tcp 127.0.0.1:{listen} -> backend:{port}
probe ping: tcp 127.0.0.1:{listen} every 50ms timeout 1s
fault slow: latency on front {{ delay 30ms; at 200ms; lasting 500ms }}
fault freeze: pause on backend {{ at 900ms; lasting 300ms }}
threshold ping.p99 < 2s
threshold ping.p99 < 500ms during slow
threshold ping.error_rate < 50%
{rest}
"#
    );
    let file = dir.join(format!("scenario-{seed}.pfi"));
    std::fs::write(&file, text).unwrap();
    file
}

fn run_scenario(dir: &Path, file: &Path, extra: &[&str]) -> Output {
    pfi()
        .arg("run")
        .arg(file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Chromium's binary, if installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Opens `page` in headless Chromium, takes a screenshot into `png`, and returns the console
/// messages the page logged. `None`: Chromium is not installed (the caller skips).
fn render(page: &Path, png: &Path) -> Option<Vec<String>> {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: Chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        );
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "chromium failed: {stderr}");
    Some(
        stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect(),
    )
}

/// The `<svg>` element with id `id` in `html`.
fn chart_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = start + html[start..].find("</svg>").unwrap();
    &html[start..end]
}

#[test]
fn chromium_reports_console_errors_when_a_page_has_them() {
    // The detector the report test relies on sees a page's console errors.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(&page, "<html><script>console.error('boom')</script></html>").unwrap();
    if let Some(console) = render(&page, &dir.path().join("bad.png")) {
        assert!(console.iter().any(|l| l.contains("boom")), "{console:?}");
    }
}

#[test]
fn a_run_writes_an_html_report_that_chromium_renders_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1, "");
    let (journal, page) = (dir.path().join("run.json"), dir.path().join("run.html"));
    let output = run_scenario(
        dir.path(),
        &file,
        &[
            "--journal",
            journal.to_str().unwrap(),
            "--report",
            page.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("class=\"verdict pass\">PASSED"), "{html}");
    // A shaded window per applied fault on the probe's charts, the limits drawn.
    for chart in ["r-p0-latency", "r-p0-errors"] {
        let svg = chart_of(&html, chart);
        for fault in ["slow", "freeze"] {
            let window = format!("class=\"fault-window\" data-fault=\"{fault}\"");
            assert_eq!(svg.matches(&window).count(), 1, "{chart} {fault}");
        }
        assert_eq!(svg.matches("class=\"warmup\"").count(), 1, "{chart}");
    }
    assert!(html.contains("data-threshold=\"ping.p99 &lt; 500ms during slow\""));
    // The same page from the journal, by file and by run id.
    let again = dir.path().join("again.html");
    let output = pfi()
        .args([
            "report",
            journal.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let id = record["run_id"].as_str().unwrap();
    let output = pfi()
        .args(["report", id, "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), html);
    // Markdown for a pull request.
    let output = pfi()
        .args(["report", journal.to_str().unwrap(), "--format", "markdown"])
        .output()
        .unwrap();
    let md = text(&output.stdout);
    assert!(md.starts_with("### pfi: ✅ PASSED — report"), "{md}");
    assert!(
        md.contains("| ✅ pass | `ping.p99 < 500ms during slow` |"),
        "{md}"
    );
    assert!(md.contains("| under freeze |"), "{md}");

    if let Some(console) = render(&page, &dir.path().join("run.png")) {
        assert!(console.is_empty(), "console messages: {console:?}");
        let png = std::fs::read(dir.path().join("run.png")).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        assert!(
            png.len() > 20_000,
            "a blank screenshot? {} bytes",
            png.len()
        );
    }
}

#[test]
fn two_runs_compared_say_what_got_worse() {
    let dir = tempfile::tempdir().unwrap();
    let journals: Vec<PathBuf> = (1..=2)
        .map(|seed| {
            let file = scenario(dir.path(), seed, "");
            let journal = dir.path().join(format!("run-{seed}.json"));
            let output = run_scenario(dir.path(), &file, &["--journal", journal.to_str().unwrap()]);
            assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
            journal
        })
        .collect();
    // Make the second run's freeze look twice as slow and its threshold fail.
    let mut after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journals[1]).unwrap()).unwrap();
    after["thresholds"][0]["passed"] = false.into();
    after["thresholds"][0]["measured"] = 5000.0.into();
    std::fs::write(&journals[1], after.to_string()).unwrap();
    let output = pfi()
        .arg("report")
        .args(&journals)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    let md = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The two runs differ by their noise too; the failing threshold is named first.
    assert!(
        md.contains("got worse: threshold ping.p99 < 2s (now fails)")
            || md.contains("got worse, first threshold ping.p99 < 2s (now fails)"),
        "{md}"
    );
    assert!(md.contains("| FAIL 5000ms | ⚠️ worse now fails |"), "{md}");
    let page = dir.path().join("diff.html");
    let output = pfi()
        .arg("report")
        .args(&journals)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>What changed</h2>"), "{html}");
    assert!(html.contains("<strong>worse</strong>: now fails"), "{html}");
    if let Some(console) = render(&page, &dir.path().join("diff.png")) {
        assert!(console.is_empty(), "{console:?}");
    }
}

#[test]
fn an_aborted_run_has_a_report_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let dead = free_port();
    let file = scenario(
        dir.path(),
        3,
        &format!(
            "probe dead: tcp 127.0.0.1:{dead} every 50ms timeout 1s\n\
             threshold dead.availability > 90% abort"
        ),
    );
    let page = dir.path().join("aborted.html");
    let output = run_scenario(dir.path(), &file, &["--report", page.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("class=\"verdict fail\">FAILED"), "{html}");
    assert!(
        html.contains("the run aborted: abort threshold `dead.availability &gt; 90%`"),
        "{html}"
    );
    if let Some(console) = render(&page, &dir.path().join("aborted.png")) {
        assert!(console.is_empty(), "{console:?}");
    }
}

#[test]
fn an_interrupted_run_has_a_report_up_to_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 4, "");
    // A long run, interrupted as soon as the first fault is applied.
    let text_of = std::fs::read_to_string(&file)
        .unwrap()
        .replace("duration 1500ms", "duration 60s");
    std::fs::write(&file, text_of).unwrap();
    let (journal, page) = (dir.path().join("run.json"), dir.path().join("run.md"));
    let mut child = pfi()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--journal", journal.to_str().unwrap()])
        .args(["--report", page.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep reading stderr to the end (a closed pipe would fail pfi's writes).
    let stderr = child.stderr.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("no fault applied within 30s");
        if line.contains("fault slow (latency on front) applied") {
            break;
        }
    }
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let md = std::fs::read_to_string(&page).unwrap();
    assert!(md.starts_with("### pfi: ❌ FAILED"), "{md}");
    assert!(md.contains("the run was interrupted: SIGINT"), "{md}");
    assert!(md.contains("| `slow` latency | front |"), "{md}");
    let output = pfi()
        .args(["report", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains("interrupted: SIGINT"));
}

#[test]
fn bad_journals_exit_2_and_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let report = |path: &Path| {
        let output = pfi()
            .arg("report")
            .arg(path)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .output()
            .unwrap();
        (output.status.code(), text(&output.stderr))
    };
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let (code, stderr) = report(&dir.path().join("missing.json"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("missing.json: no such journal file"),
        "{stderr}"
    );

    let truncated = write(
        "cut.json",
        "{\"format\": \"pfi-journal\", \"version\": 2, \"run",
    );
    let (code, stderr) = report(&truncated);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cut.json:1:"), "{stderr}");
    assert!(stderr.contains("was the journal cut short?"), "{stderr}");

    let foreign = write(
        "foreign.json",
        "{\"name\": \"left-pad\", \"version\": \"1.3.0\"}",
    );
    let (code, stderr) = report(&foreign);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("foreign.json: not a pfi journal"),
        "{stderr}"
    );

    let older = write(
        "older.json",
        "{\"run_id\": \"r1\", \"experiment\": \"x\", \"events\": [{\"at_ms\": 0, \"message\": \"hi\"}]}",
    );
    let (code, stderr) = report(&older);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("older.json: a journal of version 1, written by an older pfi"),
        "{stderr}"
    );

    let newer = write(
        "newer.json",
        "{\"format\": \"pfi-journal\", \"version\": 99}",
    );
    let (code, stderr) = report(&newer);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("written by a newer pfi"), "{stderr}");

    let wrong = write(
        "wrong.json",
        "{\"format\": \"pfi-journal\", \"version\": 2, \"run_id\": 5}",
    );
    let (code, stderr) = report(&wrong);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("wrong.json:1:"), "{stderr}");
    assert!(stderr.contains("not a valid version 2 journal"), "{stderr}");

    let output = pfi().args(["report", "no-such-run-id"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no-such-run-id: no such journal file, nor a run id"),
        "{}",
        text(&output.stderr)
    );
}

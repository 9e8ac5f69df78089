//! `pfi init --from` and `pfi analyze`, through the real binary: a Compose file becomes a
//! scenario that `pfi check` accepts; the fixture apps' outbound calls are found and their
//! guards classified against the `expect:` annotations on their lines (precision and recall
//! asserted); bad input is reported with file:line and the rest is still read.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pfi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pfi"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/analyze")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_from_compose_writes_a_scenario_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("system.pfi");
    let compose = fixtures().join("compose/shop/docker-compose.yml");
    let o = pfi(&[
        "init",
        "--from",
        compose.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    // Every construct not mapped is reported at its line, never dropped silently.
    assert!(
        stderr.contains("docker-compose.yml:37:5"),
        "restart: {stderr}"
    );
    assert!(
        stderr.contains("`depend_on` is not a Compose key"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `depends_on`?"), "{stderr}");
    let scenario = std::fs::read_to_string(&out).unwrap();
    for expected in [
        "resource db: container label \"com.docker.compose.service=db\"",
        "criticality critical   // a guess: a database, 2 services depend on it",
        "ready http \"http://127.0.0.1:8000/health\" within 45s",
        "link api_db: tcp 127.0.0.1:21001 -> 127.0.0.1:5432",
        "api depends_on db via api_db",
        "api depends_on cache\n",
        "services.cache.ports: [\"127.0.0.1:6379:6379\"]",
        "pick 1",
        "// rank 1:",
    ] {
        // Long comments wrap at about 96 columns, where depends on the file's path: compare
        // with the comment lines joined.
        let joined = scenario.replace("\n// ", " ");
        assert!(
            scenario.contains(expected) || joined.contains(expected),
            "missing {expected:?} in\n{scenario}"
        );
    }
    let check = pfi(&["check", out.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    // The profile `pfi plan` ranks is the order the draft wrote the faults in.
    let plan = pfi(&["plan", out.to_str().unwrap(), "--json"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let ranked: Vec<&str> = plan["profile"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fault"].as_str().unwrap())
        .collect();
    let written: Vec<&str> = scenario
        .lines()
        .filter_map(|l| l.strip_prefix("fault "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(ranked, written);
}

#[test]
fn init_reports_malformed_yaml_with_its_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        "services:\n  api:\n    image: a\n    ports: [\"80:80\"\n",
    )
    .unwrap();
    let o = pfi(&["init", "--from", file.to_str().unwrap()]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("malformed YAML"), "{stderr}");
    assert!(stderr.contains("docker-compose.yml:4:21"), "{stderr}");
}

#[test]
fn init_from_kubernetes_maps_what_it_can_and_says_what_not() {
    let dir = fixtures().join("k8s");
    let o = pfi(&["init", "--from", dir.to_str().unwrap()]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let scenario = text(&o.stdout);
    assert!(
        scenario.contains("// api depends_on postgres"),
        "{scenario}"
    );
    assert!(
        scenario.contains("// Kubernetes postgres: reached as Service db; criticality guess high"),
        "{scenario}"
    );
    assert!(
        scenario.contains("readiness: HTTP GET /health on port 8000"),
        "{scenario}"
    );
    assert!(stderr.contains("a `ConfigMap` is not mapped"), "{stderr}");
    assert!(
        stderr.contains("the pod's `volumes` is not mapped"),
        "{stderr}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &scenario).unwrap();
    let check = pfi(&["check", file.path().to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

/// (file, line) → (category, guards) from `expect: CATEGORY CODES` comments.
fn expectations(dir: &Path) -> BTreeMap<(String, usize), (String, BTreeSet<String>)> {
    let mut out = BTreeMap::new();
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            let Some((_, rest)) = line.split_once("expect: ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let category = words.next().unwrap().to_string();
            let guards = words
                .filter(|w| *w != "-")
                .map(|w| match w {
                    "t" => "timeout",
                    "r" => "retry",
                    "b" => "circuit_breaker",
                    "f" => "fallback",
                    "p" => "bounded_pool",
                    other => panic!("unknown guard code {other}"),
                })
                .map(str::to_string)
                .collect();
            let key = (path.canonicalize().unwrap().display().to_string(), i + 1);
            out.insert(key, (category, guards));
        }
    }
    out
}

#[test]
fn analyze_finds_the_fixture_apps_calls_and_their_guards() {
    let dir = fixtures().join("apps");
    let expected = expectations(&dir);
    let o = pfi(&["analyze", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let calls = report["calls"].as_array().unwrap();
    let languages = report["summary"]["languages"].as_object().unwrap();
    assert_eq!(languages.len(), 6, "{languages:?}");

    let (mut found_ok, mut guard_tp, mut guard_fp, mut guard_fn) = (0, 0, 0, 0);
    let mut matched = BTreeSet::new();
    let mut wrong = Vec::new();
    for call in calls {
        let file = Path::new(call["file"].as_str().unwrap())
            .canonicalize()
            .unwrap();
        let (first, last) = (
            call["line"].as_u64().unwrap(),
            call["end_line"].as_u64().unwrap(),
        );
        let hit = (first..=last).find_map(|line| {
            let key = (file.display().to_string(), line as usize);
            expected.get(&key).map(|e| (key, e))
        });
        let Some((key, (category, guards))) = hit else {
            wrong.push(format!(
                "unexpected call {}:{first} {}",
                file.display(),
                call["call"]
            ));
            continue;
        };
        if call["category"] != category.as_str() {
            wrong.push(format!(
                "{key:?}: category {} not {category}",
                call["category"]
            ));
            continue;
        }
        found_ok += 1;
        matched.insert(key.clone());
        let got: BTreeSet<String> = call["guards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        guard_tp += got.intersection(guards).count();
        guard_fp += got.difference(guards).count();
        guard_fn += guards.difference(&got).count();
        if &got != guards {
            wrong.push(format!("{key:?}: guards {got:?}, expected {guards:?}"));
        }
    }
    for key in expected.keys().filter(|k| !matched.contains(*k)) {
        wrong.push(format!("missed {key:?}"));
    }
    let call_precision = found_ok as f64 / calls.len() as f64;
    let call_recall = found_ok as f64 / expected.len() as f64;
    let guard_precision = guard_tp as f64 / (guard_tp + guard_fp) as f64;
    let guard_recall = guard_tp as f64 / (guard_tp + guard_fn) as f64;
    println!(
        "{} expected calls, {} found: call precision {call_precision:.2} recall {call_recall:.2}; guard precision {guard_precision:.2} recall {guard_recall:.2}\n{}",
        expected.len(),
        calls.len(),
        wrong.join("\n")
    );
    assert!(
        call_precision >= 0.9 && call_recall >= 0.9,
        "{}",
        wrong.join("\n")
    );
    assert!(
        guard_precision >= 0.85 && guard_recall >= 0.85,
        "{}",
        wrong.join("\n")
    );
}

#[test]
fn analyze_text_underlines_the_call_and_ranks_the_worst_first() {
    let file = fixtures().join("apps/python/shop.py");
    let o = pfi(&["analyze", file.to_str().unwrap()]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let first = stdout.lines().next().unwrap();
    assert!(first.contains("[critical] database call"), "{stdout}");
    assert!(stdout.contains("shop.py:27:5"), "{stdout}");
    assert!(
        stdout.contains("on a request path, in `checkout`"),
        "{stdout}"
    );
    assert!(stdout.contains("7 outbound calls in 1 files"), "{stdout}");
}

#[test]
fn analyze_reports_unparsable_files_and_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.py"), "def f(:\n    pass\n").unwrap();
    std::fs::write(
        dir.path().join("ok.go"),
        "package main\nimport \"net/http\"\nfunc h(w http.ResponseWriter, r *http.Request) { http.Get(\"http://a:1/\") }\n",
    )
    .unwrap();
    let o = pfi(&["analyze", dir.path().to_str().unwrap()]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("broken.py:1:"), "{stderr}");
    assert!(stderr.contains("does not parse as python"), "{stderr}");
    assert!(text(&o.stdout).contains("1 outbound calls in 2 files"));

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("README.md"), "no code").unwrap();
    let o = pfi(&["analyze", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn analyze_pfi_output_tests_the_scenario_links() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("system.pfi");
    let compose = fixtures().join("compose/shop/docker-compose.yml");
    let o = pfi(&[
        "init",
        "--from",
        compose.to_str().unwrap(),
        "-o",
        scenario.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let app = fixtures().join("apps/python");
    let o = pfi(&[
        "analyze",
        app.to_str().unwrap(),
        "--format",
        "pfi",
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let faults = text(&o.stdout);
    // The database calls land on the links that reach the `db` resource (typed postgres).
    assert!(faults.contains("on api_db {"), "{faults}");
    let mut combined = std::fs::read_to_string(&scenario).unwrap();
    combined.push_str(&faults);
    std::fs::write(&scenario, combined).unwrap();
    let check = pfi(&["check", scenario.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

/// A scenario whose `shop` depends on `payments`, with `analysis "app/"` (or none), planned
/// as JSON.
fn plan_with_code(code: Option<&str>) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut scenario = String::new();
    if let Some(code) = code {
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/views.py"), code).unwrap();
        scenario.push_str("analysis \"app/\"\n");
    }
    scenario.push_str(
        "experiment \"code\" { duration 30s }\n\
         resource shop: process [\"sleep\", \"60\"] { criticality critical }\n\
         resource payments: process [\"sleep\", \"60\"]\n\
         shop depends_on payments\n\
         fault payments_down: kill on payments { at 5s }\n\
         fault shop_down: kill on shop { at 10s }\n",
    );
    let file = dir.path().join("system.pfi");
    std::fs::write(&file, scenario).unwrap();
    let o = pfi(&["plan", file.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let text_out = pfi(&["plan", file.to_str().unwrap()]);
    (
        serde_json::from_slice(&o.stdout).unwrap(),
        text(&text_out.stdout),
    )
}

const UNGUARDED: &str = "import requests\n\n@app.get(\"/buy\")\ndef buy():\n    requests.post(\"http://payments:8080/charge\")\n    requests.get(\"http://payments:8080/status\")\n    return \"ok\"\n";
const GUARDED: &str = "import requests\n\n@app.get(\"/buy\")\ndef buy():\n    try:\n        return requests.post(\"http://payments:8080/charge\", timeout=2)\n    except requests.RequestException:\n        return None\n";

fn scenario_of<'v>(plan: &'v Value, fault: &str) -> &'v Value {
    plan["profile"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["fault"] == fault)
        .unwrap()
}

#[test]
fn analysis_in_a_scenario_raises_the_propagation_of_dependencies_called_unguarded() {
    let (none, none_text) = plan_with_code(None);
    let (unguarded, unguarded_text) = plan_with_code(Some(UNGUARDED));
    let (guarded, guarded_text) = plan_with_code(Some(GUARDED));

    // The plan carries what the checker read, so `plan` and `run` never read the code.
    let deps = &unguarded["plan"]["analysis"]["dependencies"];
    assert_eq!(deps[0]["dependency"], "payments", "{deps:#}");
    assert_eq!(deps[0]["resource"], "payments");
    assert_eq!(deps[0]["calls"], 2);
    assert_eq!(deps[0]["unguarded"], 2);
    assert!(none["plan"].get("analysis").is_none());
    assert_eq!(
        guarded["plan"]["analysis"]["dependencies"][0]["unguarded"],
        0
    );

    // Two unguarded calls: propagation 0.5 + 2 × 0.1 from payments to shop.
    let finding = &unguarded["profile"]["analysis"][0];
    assert_eq!(finding["resource"], "payments");
    assert!(
        (finding["carry"].as_f64().unwrap() - 0.7).abs() < 1e-9,
        "{finding}"
    );
    let impact = |plan: &Value| {
        scenario_of(plan, "payments_down")["impact"]
            .as_f64()
            .unwrap()
    };
    // payments (medium, weight 2) fails, and shop (critical, weight 8) with it with the
    // propagation q: impact 2 + 8q.
    assert!(
        (impact(&none) - (2.0 + 8.0 * 0.5)).abs() < 1e-9,
        "{}",
        impact(&none)
    );
    assert!((impact(&unguarded) - (2.0 + 8.0 * 0.7)).abs() < 1e-9);
    assert!((impact(&guarded) - impact(&none)).abs() < 1e-12);
    // The scenario on shop itself reaches nothing downstream: unchanged.
    assert_eq!(
        scenario_of(&none, "shop_down")["impact"],
        scenario_of(&unguarded, "shop_down")["impact"]
    );

    // The text says why.
    assert!(
        unguarded_text.contains("2 unguarded calls to payments in the code (propagation 0.70)"),
        "{unguarded_text}"
    );
    assert!(unguarded_text.contains(
        "code analysis (propagation to dependents: 0.5 + 0.1 per unguarded call, at most 0.9)"
    ));
    assert!(unguarded_text.contains("payments         2 calls, 2 unguarded, propagation 0.70"));
    assert!(!none_text.contains("code analysis"));
    assert!(
        guarded_text.contains("1 call, 0 unguarded, propagation 0.50"),
        "{guarded_text}"
    );
    assert!(!guarded_text.contains("unguarded call to"));
}

#[test]
fn analysis_of_a_missing_folder_is_a_located_error_and_fmt_keeps_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("system.pfi");
    std::fs::write(
        &file,
        "experiment \"x\" { duration 10s }\nanalysis   \"no/such/src\"\nresource a: process [\"sleep\", \"9\"]\n",
    )
    .unwrap();
    let o = pfi(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(err.contains("PFI0094"), "{err}");
    assert!(err.contains("system.pfi:2:12"), "{err}");
    assert!(err.contains("not found"), "{err}");

    let o = pfi(&["fmt", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(
        formatted.contains("\nanalysis \"no/such/src\"\n"),
        "{formatted}"
    );
}

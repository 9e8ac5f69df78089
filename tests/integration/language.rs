//! The language end to end: `pfi check`, `pfi plan`, `pfi fmt`, `pfi explain`, diagnostics,
//! and hostile input, run through the real binary where a user would.

use crate::support::{Ran, Test};
use pfi::diagnostic::SourceMap;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pfi"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    out.sort();
    out
}

fn run(args: &[&str]) -> Ran {
    Test::new().args(args).run()
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name.to_string(), value);
    });
}

#[test]
fn every_shipped_scenario_and_ok_fixture_checks() {
    let mut all = files("experiments");
    all.extend(files("tests/fixtures/ok"));
    assert!(
        all.len() >= 5,
        "expected the shipped scenarios, found {all:?}"
    );
    for file in all {
        let out = run(&["check", file.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{} failed the check:\n{out}", file.display());
    }
}

#[test]
fn stdlib_modules_parse_and_format_canonically() {
    for file in files("stdlib/std") {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add(&file, text.clone());
        let formatted =
            pfi::syntax::format(id, &text).unwrap_or_else(|d| panic!("{file:?}: {d:?}"));
        assert_eq!(formatted, text, "{} is not formatted", file.display());
    }
}

#[test]
fn plans_of_ok_fixtures_match_snapshots() {
    for file in files("tests/fixtures/ok") {
        let out = run(&["plan", file.to_str().unwrap(), "--json"]).code(0);
        snapshot(&format!("plan_{}", stem(&file)), &out.stdout);
        let text = run(&["plan", file.to_str().unwrap()]);
        snapshot(&format!("plan_text_{}", stem(&file)), &text.stdout);
    }
}

#[test]
fn asts_of_ok_fixtures_match_snapshots() {
    for file in files("tests/fixtures/ok") {
        let text = std::fs::read_to_string(&file).unwrap();
        let (ast, problems) = pfi::syntax::parse(Default::default(), &text).unwrap();
        assert!(problems.is_empty());
        let json = serde_json::to_string_pretty(&ast).unwrap();
        snapshot(&format!("ast_{}", stem(&file)), &json);
    }
}

#[test]
fn error_fixtures_render_diagnostics_and_exit_2() {
    let fixtures = files("tests/fixtures/errors");
    assert!(fixtures.len() >= 15);
    for file in fixtures {
        let path = file.to_str().unwrap();
        let stderr = run(&["check", path]).code(2).stderr;
        assert!(
            stderr.contains("[PFI"),
            "{path}: no diagnostic code in\n{stderr}"
        );
        assert!(stderr.contains("Help:"), "{path}: no hint in\n{stderr}");
        snapshot(&format!("diagnostics_{}", stem(&file)), &stderr);

        // The same diagnostics as JSON lines, each with a line and column.
        let stdout = run(&["check", "--format", "json", path]).code(2).stdout;
        assert!(!stdout.trim().is_empty());
        for line in stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["code"].as_str().unwrap().starts_with("PFI"));
            assert!(
                v["location"]["line"].as_u64().unwrap() >= 1,
                "{path}: {line}"
            );
            assert!(
                v["location"]["column"].as_u64().unwrap() >= 1,
                "{path}: {line}"
            );
            assert!(v["help"].is_string(), "{path}: no help in {line}");
        }
    }
}

#[test]
fn check_reports_every_error_not_just_the_first() {
    let out = run(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/errors/unit_mismatch.pfi",
    ]);
    assert!(out.stdout.lines().count() >= 4);
}

#[test]
fn fmt_is_idempotent_over_every_fixture_and_scenario() {
    let mut all = files("experiments");
    all.extend(files("tests/fixtures/ok"));
    all.extend(files("tests/fixtures/errors"));
    all.extend(files("tests/fixtures/modules"));
    let mut formatted_any = 0;
    for file in all {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add(&file, text.clone());
        let Ok(once) = pfi::syntax::format(id, &text) else {
            continue; // a file with syntax errors cannot be formatted
        };
        let twice = pfi::syntax::format(id, &once).unwrap();
        assert_eq!(once, twice, "fmt is not idempotent on {}", file.display());
        formatted_any += 1;
    }
    assert!(formatted_any >= 15);
}

/// Every ```pfi block of the README.
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```pfi") => current = Some(String::new()),
            (Some(_), "```") => out.extend(current.take()),
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// Each comment of `text` with where it stands: the last word of code before it on its line
/// (`None` for a comment on a line of its own).
fn comments_in_place(text: &str) -> Vec<(String, Option<String>)> {
    pfi::syntax::comments(text)
        .into_iter()
        .map(|c| {
            let line_start = text[..c.range.start].rfind('\n').map_or(0, |i| i + 1);
            let before = text[line_start..c.range.start].trim_end();
            // A block comment may follow another comment on the line: only code counts.
            let code = pfi::syntax::comments(before).iter().rev().fold(
                before.to_string(),
                |mut s, inner| {
                    s.replace_range(inner.range.clone(), "");
                    s
                },
            );
            let word = code.split_whitespace().last().map(str::to_string);
            (c.text.trim_end().to_string(), word)
        })
        .collect()
}

/// `pfi fmt` over every fixture, scenario, standard module and README example: formatting twice
/// is formatting once, and every comment stays, in order, after the same code on its line (or
/// alone on its line).
#[test]
fn fmt_keeps_every_comment_on_its_line_and_is_idempotent() {
    let mut texts: Vec<(String, String)> = Vec::new();
    for dir in [
        "experiments",
        "stdlib/std",
        "tests/fixtures/ok",
        "tests/fixtures/errors",
        "tests/fixtures/modules",
    ] {
        for file in files(dir) {
            texts.push((
                file.display().to_string(),
                std::fs::read_to_string(&file).unwrap(),
            ));
        }
    }
    for (i, example) in readme_examples().into_iter().enumerate() {
        texts.push((format!("README.md example {}", i + 1), example));
    }
    let mut formatted = 0;
    let mut comments = 0;
    for (name, text) in &texts {
        let mut sources = SourceMap::new();
        let id = sources.add(name, text.clone());
        let Ok(once) = pfi::syntax::format(id, text) else {
            continue; // a file with syntax errors cannot be formatted
        };
        let twice = pfi::syntax::format(id, &once)
            .unwrap_or_else(|d| panic!("{name}: the formatted text does not format: {d:?}"));
        assert_eq!(once, twice, "fmt is not idempotent on {name}");
        let before = comments_in_place(text);
        assert_eq!(
            before,
            comments_in_place(&once),
            "fmt moved a comment in {name}:\n{once}"
        );
        formatted += 1;
        comments += before.len();
    }
    assert!(formatted >= 25, "only {formatted} files formatted");
    assert!(comments >= 50, "only {comments} comments seen");
}

#[test]
fn fmt_keeps_the_readme_stop_condition_comment_on_the_abort_threshold() {
    let example = readme_examples().remove(0);
    assert!(example.contains("abort   // a stop condition"));
    let mut sources = SourceMap::new();
    let id = sources.add("README.md", example.clone());
    let once = pfi::syntax::format(id, &example).unwrap();
    assert!(
        once.contains("threshold checkout.availability > 90% abort // a stop condition\n"),
        "{once}"
    );
    assert!(once.contains("threshold checkout.p99 < 1500ms\n"), "{once}");
    assert!(
        once.contains("  lasting 1s\n} // a profile from std/process\n"),
        "{once}"
    );
}

#[test]
fn fmt_rewrites_a_messy_file_keeping_comments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messy.pfi");
    std::fs::write(
        &path,
        "// head\nexperiment   \"x\"{duration 10s   // how long\n seed 1}\n\n\n\nlink l:tcp 127.0.0.1:1->127.0.0.1:2\n/* block */ fault f :latency on l{delay normal( 5ms,1ms ) ;at 1s}\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    run(&["fmt", "--check", p]).code(1);
    run(&["fmt", p]).code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "// head\nexperiment \"x\" {\n  duration 10s // how long\n  seed 1\n}\n\nlink l: tcp 127.0.0.1:1 -> 127.0.0.1:2\n/* block */\nfault f: latency on l {\n  delay normal(5ms, 1ms)\n  at 1s\n}\n"
    );
    run(&["fmt", "--check", p]).code(0);
    run(&["check", p]).code(0);
}

#[test]
fn plan_timeline_is_reproducible_for_a_seed_and_changes_with_it() {
    let file = "experiments/network-faults.pfi";
    let a = run(&["plan", file, "--json", "--seed", "7"]);
    let b = run(&["plan", file, "--json", "--seed", "7"]);
    let c = run(&["plan", file, "--json", "--seed", "8"]);
    assert_eq!(a.code, 0, "{a}");
    assert_eq!(a.stdout, b.stdout);
    let timeline = |o: &Ran| {
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["timeline"]["activations"].clone()
    };
    assert_ne!(timeline(&a), timeline(&c));
    assert!(timeline(&a).as_array().unwrap().len() >= 5);
}

#[test]
fn explain_prints_long_explanations() {
    run(&["explain", "PFI0016"])
        .code(0)
        .stdout("dependency cycle");
    run(&["explain", "PFI9999"]).code(2);
    assert!(run(&["explain"]).stdout.lines().count() >= 20);
}

#[test]
fn version_completions_and_help() {
    assert!(run(&["--version"]).stdout.starts_with("pfi "));
    run(&["completions", "bash"]).stdout("pfi");
    for cmd in [
        "check",
        "plan",
        "fmt",
        "explain",
        "completions",
        "proxy",
        "detect",
    ] {
        let h = run(&[cmd, "--help"]).code(0);
        assert!(h.stdout.len() > 80, "{cmd} --help is too thin");
    }
    run(&["no-such-command"]).code(2);
}

#[test]
fn hostile_files_get_a_located_diagnostic_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut garbage = b"experiment \"x\" { duration 1s }\n".to_vec();
    garbage.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    let deep = format!("probe p: command {}", "[".repeat(200_000));
    let huge_number = "experiment \"x\" { duration 1e999999s }";
    let cases = [
        write("garbage.pfi", &garbage),
        write("deep.pfi", deep.as_bytes()),
        write("number.pfi", huge_number.as_bytes()),
        write("truncated.pfi", b"experiment \"x\" { duration 1"),
        write("empty.pfi", b""),
    ];
    let big = dir.path().join("big.pfi");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap(); // a sparse 1 GiB file
    for path in cases.iter().chain([&big]) {
        let out = run(&["check", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{}", path.display());
        let first = out.stdout.lines().next().map(str::to_string);
        let v: serde_json::Value = serde_json::from_str(&first.unwrap()).unwrap();
        assert!(
            v["location"]["line"].as_u64().unwrap() >= 1,
            "{}: {v}",
            path.display()
        );
    }
}

/// A few hundred mangled variants of the shipped scenarios: none may panic or hang, and every
/// error must carry a place in a file.
#[test]
fn mangled_scenarios_never_panic() {
    let mut sources = files("experiments");
    sources.extend(files("tests/fixtures/ok"));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let mut variants = 0;
    for source in &sources {
        let text = std::fs::read(source).unwrap();
        for i in 0..60 {
            let mut bytes = text.clone();
            match i % 6 {
                0 => bytes.truncate(rng.random_range(0..bytes.len())),
                1 => {
                    let at = rng.random_range(0..bytes.len());
                    let pool = b"{}[]()\":,;/*+-%.\\\n#0aZ";
                    bytes[at] = pool[rng.random_range(0..pool.len())];
                }
                2 => {
                    let at = rng.random_range(0..bytes.len());
                    let len = rng.random_range(1..40).min(bytes.len() - at);
                    bytes.drain(at..at + len);
                }
                3 => {
                    let at = rng.random_range(0..bytes.len());
                    let junk: Vec<u8> =
                        (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, junk);
                }
                4 => {
                    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
                    let mut out = Vec::new();
                    for (n, l) in lines.iter().enumerate() {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                        if n % 7 == i % 7 {
                            out.extend_from_slice(l);
                            out.push(b'\n');
                        }
                    }
                    bytes = out;
                }
                _ => {
                    let a = rng.random_range(0..bytes.len());
                    let b = rng.random_range(0..bytes.len());
                    bytes.swap(a, b);
                }
            }
            // Keep relative paths (history, scripts, imports) resolvable.
            let path = source.with_file_name(format!(".mangled-{}-{i}.pfi", stem(source)));
            let path = if source.starts_with("tests/fixtures/ok") {
                path
            } else {
                dir.path().join(format!("{}-{i}.pfi", stem(source)))
            };
            std::fs::write(&path, &bytes).unwrap();
            let checked = pfi::check::check_file(&path);
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                let span = d.primary_span();
                assert!(span.is_some(), "{}: {d:?} has no place", path.display());
                let span = span.unwrap();
                let (line, col) = checked.sources.line_col(span.file, span.start);
                assert!(line >= 1 && col >= 1);
            }
            if path.starts_with("tests") {
                std::fs::remove_file(&path).unwrap();
            }
            variants += 1;
        }
    }
    assert!(variants >= 300, "only {variants} variants");
}

#[test]
fn scenarios_in_the_readme_check() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks: Vec<&str> = readme
        .split("```pfi\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty());
    for block in blocks {
        let checked = pfi::check::check_text(Path::new("README.pfi"), block);
        assert!(
            !checked.has_errors(),
            "README scenario fails: {:?}",
            checked.diagnostics
        );
    }
}

/// The syntax errors a new user meets first: a misspelt keyword gets "did you mean", a missing
/// `}` is reported at the brace it should close, an argument with a space in it is named.
#[test]
fn syntax_errors_name_the_likely_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "resorce api: process [\"x\"]",
            "did you mean `resource`?",
            2,
            1,
        ),
        (
            "experimnt \"y\" { duration 1s }",
            "did you mean `experiment`?",
            2,
            1,
        ),
        ("threshhold a.p99 < 5ms", "did you mean `threshold`?", 2, 1),
        (
            "lnk l: tcp 127.0.0.1:1 -> 127.0.0.1:2",
            "did you mean `link`?",
            2,
            1,
        ),
        ("a depend_on b", "did you mean `depends_on`?", 2, 3),
        (
            "resource api: process [\"x\"] {\n  criticality high\n\nfault f: kill on api { at 1s }",
            "missing `}`: the block opened on line 2 is not closed",
            2,
            29,
        ),
        (
            "link l: tcp 127.0.0.1:1 -> 127.0.0.1:2\nfault f: latency on l { delay fixed(100 ms) }",
            "argument 1 of `fixed` is 2 values separated by spaces",
            3,
            37,
        ),
    ];
    for (i, (body, expected, line, column)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("case{i}.pfi"));
        std::fs::write(
            &path,
            format!("experiment \"x\" {{ duration 1s }}\n{body}\n"),
        )
        .unwrap();
        let out = run(&["check", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{body}");
        let first = out.stdout.lines().next().unwrap().to_string();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert!(first.contains(expected), "{body}: {first}");
        assert_eq!(
            (
                v["location"]["line"].as_u64(),
                v["location"]["column"].as_u64()
            ),
            (Some(line), Some(column)),
            "{body}: {first}"
        );
    }
}

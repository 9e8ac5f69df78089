//! `pfi check` on a generated scenario with 10,000 resources and 20,000 faults, next to a
//! baseline measured in the same run: reading the same file and counting its lines. Each phase
//! (read, parse, pest as the reference, checking, timeline) is timed on its own, and the `pfi check`
//! and `pfi plan` binaries end to end.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn scenario(resources: usize, faults: usize) -> String {
    let mut s = String::from("experiment \"big\" {\n  duration 10m\n  seed 1\n}\n\n");
    for i in 0..resources {
        let _ = writeln!(
            s,
            "resource r{i}: process [\"./svc\", \"--port\", \"{}\"] {{\n  criticality high\n}}",
            10_000 + i
        );
        if i > 0 {
            let _ = writeln!(s, "r{i} depends_on r{}", (i * 7) % i);
        }
    }
    for i in 0..resources / 2 {
        let _ = writeln!(
            s,
            "link l{i}: tcp 127.0.0.1:{} -> r{i}:{}",
            20_000 + i % 40_000,
            10_000 + i
        );
    }
    for i in 0..faults {
        if i % 2 == 0 {
            let _ = writeln!(
                s,
                "fault f{i}: latency on l{} {{\n  delay normal(120ms, 40ms)\n  poisson 3/m\n  lasting uniform(5s, 15s)\n  probability 0.8\n}}",
                i % (resources / 2)
            );
        } else {
            let _ = writeln!(
                s,
                "fault f{i}: pause on r{} {{\n  at {}s\n  lasting 10s\n}}",
                i % resources,
                i % 500
            );
        }
    }
    s
}

fn min_med(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    (
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() / 2].as_secs_f64() * 1e3,
    )
}

/// Runs `f` `runs` times; (minimum, median) in milliseconds. The machine is shared, so the
/// minimum is the steadier figure.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    min_med(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn row(label: &str, (min, med): (f64, f64), note: &str) {
    println!("{label:<34} min {min:>8.2} ms   median {med:>8.2} ms  {note}");
}

/// Runs the real `pfi` binary and times it end to end (process start, read, output).
fn binary(runs: usize, args: &[&str]) -> (f64, f64) {
    time(runs, || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pfi"))
            .args(args)
            .output()
            .expect("run pfi");
        assert!(
            out.status.success(),
            "pfi {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout.len()
    })
}

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = std::env::temp_dir().join(format!("pfi-bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.pfi");
    let text = scenario(10_000, 20_000);
    std::fs::write(&path, &text).expect("write scenario");
    let runs = 21;

    println!(
        "scenario: {} bytes, 10000 resources, 5000 links, 20000 faults",
        text.len()
    );
    let read = time(runs, || {
        let text = std::fs::read_to_string(&path).expect("read");
        text.lines().count()
    });
    row("baseline: read + count lines", read, "");
    let parse = time(runs, || {
        pfi::syntax::parse(Default::default(), &text)
            .expect("parses")
            .0
            .items
            .len()
    });
    row("parse (fast path) + build AST", parse, "");
    let pest = time(runs, || pfi::syntax::pest_pairs(&text).expect("parses"));
    row("reference: pest only", pest, "");
    let pest_ast = time(runs, || {
        pfi::syntax::parse_with_pest(Default::default(), &text)
            .expect("parses")
            .0
            .items
            .len()
    });
    row(
        "reference: pest + build AST",
        pest_ast,
        &format!("{:.1}x the fast path", pest_ast.0 / parse.0),
    );
    let mut errors = 0;
    let check = time(runs, || {
        let checked = pfi::check::check_file(&path);
        errors = checked.diagnostics.len();
        checked.plan.is_some()
    });
    let sub = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).max(0.0), (a.1 - b.1).max(0.0));
    row(
        "check (check_file - read - parse)",
        sub(sub(check, parse), read),
        "",
    );
    row(
        "pfi::check::check_file (all)",
        check,
        &format!(
            "{:.0}x baseline; {errors} diagnostics; target <= 100 ms",
            check.0 / read.0
        ),
    );
    // Every plan carries the standard library's remediation table; before it was parsed
    // once per process, each check parsed `std/remediation` again. Its parse, for scale:
    let remediation_text = pfi::check::loader::STDLIB
        .iter()
        .find(|(name, _)| *name == "std/remediation")
        .map(|(_, text)| *text)
        .expect("std/remediation is built in");
    let stdlib = time(runs, || {
        pfi::syntax::parse(Default::default(), remediation_text)
            .expect("parses")
            .0
            .items
            .len()
    });
    row(
        "parse std/remediation (once now)",
        stdlib,
        &format!("{:.3}% of check_file", 100.0 * stdlib.0 / check.0),
    );
    let plan = pfi::check::check_file(&path)
        .plan
        .expect("the generated scenario checks");
    let mut activations = 0;
    let timeline = time(runs, || {
        activations = pfi::model::timeline(&plan, 7).activations.len();
        activations
    });
    row(
        "fault timeline (seed 7)",
        timeline,
        &format!("{activations} activations"),
    );
    let path_str = path.to_str().expect("utf-8 temp path");
    row(
        "`pfi check FILE` (process)",
        binary(runs, &["check", path_str]),
        "",
    );
    row(
        "`pfi plan --seed 7 FILE` (process)",
        binary(runs, &["plan", "--seed", "7", path_str]),
        "stdout to a pipe",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

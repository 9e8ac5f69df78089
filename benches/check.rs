//! `pfi check` on a generated scenario with 10,000 resources and 20,000 faults, next to a
//! baseline measured in the same run: reading the same file and counting its lines.

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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("pfi-bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.pfi");
    let text = scenario(10_000, 20_000);
    std::fs::write(&path, &text).expect("write scenario");
    let runs = 7;

    let baseline = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let text = std::fs::read_to_string(&path).expect("read");
                std::hint::black_box(text.lines().count());
                t.elapsed()
            })
            .collect(),
    );
    let mut errors = 0;
    let check = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let checked = pfi::check::check_file(&path);
                errors = checked.diagnostics.len();
                std::hint::black_box(checked.plan.is_some());
                t.elapsed()
            })
            .collect(),
    );
    let parse = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let parsed = pfi::syntax::parse(Default::default(), &text);
                std::hint::black_box(parsed.is_ok());
                t.elapsed()
            })
            .collect(),
    );
    let plan = pfi::check::check_file(&path)
        .plan
        .expect("the generated scenario checks");
    let timeline = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(pfi::model::timeline(&plan, 7).activations.len());
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "scenario: {} bytes, 10000 resources, 5000 links, 20000 faults ({errors} diagnostics)",
        text.len()
    );
    println!(
        "baseline (read + count lines): {:>8.2} ms",
        baseline.as_secs_f64() * 1e3
    );
    println!(
        "pfi check (parse + check):     {:>8.2} ms  ({:.0}x baseline; target <= 100 ms)",
        check.as_secs_f64() * 1e3,
        check.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "  of which parsing:            {:>8.2} ms",
        parse.as_secs_f64() * 1e3
    );
    println!(
        "fault timeline (seed 7):       {:>8.2} ms",
        timeline.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

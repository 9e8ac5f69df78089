//! Rendering the quickstart's journal (`tests/fixtures/journals/quickstart.json`, a real run
//! of `experiments/quickstart.pfi`) next to a baseline measured in the same run: reading the
//! file and parsing it as JSON into a `RunRecord`. Then HTML, Markdown and the terminal
//! summary from the parsed record, and `pfi report` end to end (process start included).

use pfi::report::{html, markdown, parse, summary};
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 30;

/// Runs `f` `RUNS` times; (minimum, median) in milliseconds. The machine is shared, so the
/// minimum is the steadier figure.
fn time<T>(mut f: impl FnMut() -> T) -> (f64, f64) {
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .collect();
    samples.sort();
    (
        samples[0].as_secs_f64() * 1e3,
        samples[RUNS / 2].as_secs_f64() * 1e3,
    )
}

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals/quickstart.json");
    let text = std::fs::read_to_string(&path).expect("the quickstart journal");
    let record = parse(&path, &text).expect("a journal of this version");
    let checks: usize = record.probes.iter().map(|p| p.checks.len()).sum();
    let points: usize = record.telemetry.iter().map(|s| s.points.len()).sum();
    println!(
        "quickstart journal: {} KiB, {checks} checks, {points} telemetry points",
        text.len() / 1024
    );
    let rows = [
        (
            "baseline: read + parse the journal",
            time(|| parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()),
        ),
        ("HTML from the parsed record", time(|| html(&record))),
        (
            "Markdown from the parsed record",
            time(|| markdown(&record)),
        ),
        ("summary from the parsed record", time(|| summary(&record))),
        (
            "read + parse + HTML",
            time(|| html(&parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap())),
        ),
    ];
    for (what, (min, median)) in rows {
        println!("{what:<40} min {min:>8.3} ms   median {median:>8.3} ms");
    }
    let out = std::env::temp_dir().join(format!("pfi-bench-report-{}.html", std::process::id()));
    let (min, median) = time(|| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_pfi"))
            .arg("report")
            .arg(&path)
            .arg("-o")
            .arg(&out)
            .output()
            .expect("run pfi report");
        assert!(status.status.success());
    });
    println!(
        "{:<40} min {min:>8.3} ms   median {median:>8.3} ms",
        "`pfi report` end to end (process)"
    );
    let (min, median) = time(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pfi"))
            .arg("--version")
            .output()
            .expect("run pfi")
    });
    println!(
        "{:<40} min {min:>8.3} ms   median {median:>8.3} ms",
        "baseline: `pfi --version` (process)"
    );
    let _ = std::fs::remove_file(out);
}

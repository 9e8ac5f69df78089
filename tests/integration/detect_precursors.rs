//! `pfi detect --precursors DIR`: the early-warning figures of a labelled corpus, on the
//! corpus recorded from real runs (`bench/precursors/recorded`), on a generated one written to
//! a temporary folder, and on bad corpora.

use pfi::predict::early_warning::Rules;
use pfi::predict::precursor_corpus::generate;
use pfi::predict::precursor_dir::PrecursorDir;
use std::process::{Command, Output};

fn pfi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pfi"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run pfi: {e}"))
}

/// The `warned` column (`3/4`) of the row whose label starts with `label`.
fn warned(out: &str, label: &str) -> (usize, usize) {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label} in\n{out}"));
    let cell = line
        .split_whitespace()
        .find(|w| w.contains('/'))
        .unwrap_or_else(|| panic!("no warned column in {line}"));
    let (a, b) = cell.split_once('/').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn the_recorded_corpus_is_scored_beside_the_baseline_with_its_calibration() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/precursors/recorded");
    let corpus = PrecursorDir::read(std::path::Path::new(dir)).unwrap();
    let failing = corpus.series.iter().filter(|s| s.fault.is_some()).count();
    assert!(
        failing >= 8,
        "the recorded corpus has {failing} failing series"
    );
    assert!(corpus.series.iter().any(|s| s.shape == "healthy"));
    let out = pfi(&["detect", "--precursors", dir]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for label in [
        "rolling z (10 s), baseline",
        "forecast (limit given)",
        "ensemble",
    ] {
        assert_eq!(warned(&text, label).1, failing, "{text}");
    }
    assert!(text.contains("forecast by shape"), "{text}");
    for section in [
        "  raw: Brier ",
        "  calibrated (FORECAST, the table runs show): Brier ",
        "  isotonic, cross-fitted on this corpus: Brier ",
        "  Platt, cross-fitted on this corpus: Brier ",
    ] {
        assert!(text.contains(section), "{section} missing in\n{text}");
    }
    assert!(text.contains("prediction confidence"), "{text}");
}

#[test]
fn a_generated_corpus_written_to_a_folder_is_scored_and_the_forecast_warns() {
    let dir = tempfile::tempdir().unwrap();
    // Every sixth series of the held-out corpus: precursors and distractors.
    let corpus: Vec<_> = generate(2).into_iter().step_by(6).collect();
    let failing = corpus.iter().filter(|s| s.fault.is_some()).count();
    PrecursorDir::write(dir.path(), &corpus, Rules::GENERATED, 900.0, 3600.0).unwrap();
    let path = dir.path().to_str().unwrap();
    let out = pfi(&["detect", "--precursors", path, "--detector", "robust_z"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{} series ({failing} that fail)", corpus.len())),
        "{text}"
    );
    let (forecast, faults) = warned(&text, "forecast (limit given)");
    assert_eq!(faults, failing);
    assert!(
        forecast * 10 >= faults * 8,
        "forecast warned of {forecast}/{faults}\n{text}"
    );
    warned(&text, "robust_z");
    warned(&text, "rolling z (60.0 min), baseline");
}

#[test]
fn bad_corpora_exit_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let out = pfi(&["detect", "--precursors", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("labels.json") && err.contains("cannot read"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("labels.json"),
        "{\"format\": \"pfi-precursors\", \"version\": 1, \"warmup_secs\": 1, \"quiet_secs\": 1,\n\
         \"horizon_secs\": 5, \"baseline_window_secs\": 5, \"series\": [\n\
         {\"file\": \"a.csv\", \"shape\": \"leak\", \"limit\": 10, \"onset\": 2, \"fault\": 4}]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.csv"),
        "timestamp,value\n0,1\n1,2\n2,oops\n",
    )
    .unwrap();
    let out = pfi(&["detect", "--precursors", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a.csv: line 4"), "{err}");

    std::fs::write(
        dir.path().join("labels.json"),
        "{\"format\": \"pfi-precursors\",\n\"version\": }",
    )
    .unwrap();
    let out = pfi(&["detect", "--precursors", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labels.json: line 2"), "{err}");

    let out = pfi(&["detect", "--precursors", &path, "--detector", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

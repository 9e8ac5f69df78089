//! `pfi detect`: the real binary on real files in a temporary folder.

use crate::support::{Ran, Test};
use std::path::Path;

fn pfi(args: &[&str]) -> Ran {
    Test::new().args(args).run()
}

/// A five-minute series with a daily rhythm, and a spike at row `spike`.
fn series(rows: usize, spike: usize) -> String {
    let mut text = String::from("timestamp,value\n");
    for i in 0..rows {
        let minutes = i * 5;
        let (day, hour, minute) = (1 + minutes / 1440, (minutes / 60) % 24, minutes % 60);
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        let mut value = 50.0 + 10.0 * phase.sin() + ((i * 7919) % 13) as f64 / 13.0;
        if i == spike {
            value = 200.0;
        }
        text.push_str(&format!(
            "2014-04-{day:02} {hour:02}:{minute:02}:00,{value}\n"
        ));
    }
    text
}

/// Parses `timestamp,value,anomaly_score` output into (timestamp, value, score) rows.
fn rows(output: &str) -> Vec<(String, String, f64)> {
    let mut lines = output.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 3, "bad line {line:?}");
            let score: f64 = fields[2]
                .parse()
                .unwrap_or_else(|_| panic!("bad score in {line:?}"));
            assert!(
                (0.0..=1.0).contains(&score),
                "score out of range in {line:?}"
            );
            (fields[0].to_string(), fields[1].to_string(), score)
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn scores_one_row_per_data_row_and_flags_the_spike() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("cpu.csv");
    write(&file, &series(2000, 1500));
    let output = pfi(&["detect", file.to_str().unwrap_or_default()]).code(0);
    let scored = rows(&output.stdout);
    assert_eq!(scored.len(), 2000);
    assert_eq!(scored[0].0, "2014-04-01 00:00:00");
    assert_eq!(scored[1500].1, "200");
    let top = scored
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.2.total_cmp(&b.1.2))
        .map(|(i, _)| i);
    assert_eq!(top, Some(1500));
    // The probationary period (15% of 2000 rows) scores 0.
    assert!(scored[..300].iter().all(|r| r.2 == 0.0));
}

#[test]
fn every_detector_runs_and_params_are_applied() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("m.csv");
    write(&file, &series(800, 700));
    let path = file.to_str().unwrap_or_default();
    for detector in [
        "ensemble",
        "ewma",
        "robust_z",
        "holt_winters",
        "isolation_forest",
        "forecast",
        "changepoint",
        "seasonal",
    ] {
        let output = pfi(&["detect", "--detector", detector, path]).code(0);
        assert_eq!(rows(&output.stdout).len(), 800, "{detector}");
    }
    let default = rows(&pfi(&["detect", "--detector", "ewma", path]).code(0).stdout);
    let tuned = pfi(&[
        "detect",
        "--detector",
        "ewma",
        "--param",
        "alpha=0.5",
        "--param",
        "warmup=10",
        path,
    ])
    .code(0);
    let tuned = rows(&tuned.stdout);
    assert!(
        tuned[..100].iter().any(|r| r.2 > 0.0),
        "warmup=10 must score early rows"
    );
    assert_ne!(default, tuned);
}

#[test]
fn awkward_csv_keeps_rows_aligned() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("awkward.csv");
    let text = "\u{feff}timestamp,value\r\n1396310400,1\r\n\r\n1396310700,\r\n1396310700,NaN\r\n1396310000,3\r\n1396400000,4\r\n";
    write(&file, text);
    let output = pfi(&[
        "detect",
        "--param",
        "warmup=0",
        file.to_str().unwrap_or_default(),
    ])
    .code(0);
    let scored = rows(&output.stdout);
    let stamps: Vec<&str> = scored.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        stamps,
        [
            "1396310400",
            "1396310700",
            "1396310700",
            "1396310000",
            "1396400000"
        ]
    );
    assert_eq!((scored[1].1.as_str(), scored[1].2), ("", 0.0));
    assert!(output.stderr.contains("repeated"), "{}", output.stderr);
}

#[test]
fn empty_file_prints_only_the_header() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("empty.csv");
    write(&file, "");
    let output = pfi(&["detect", file.to_str().unwrap_or_default()]).code(0);
    assert_eq!(output.stdout, "timestamp,value,anomaly_score\n");
    assert!(output.stderr.contains("no data rows"));
}

#[test]
fn nab_mode_mirrors_the_folder_and_matches_single_file_mode() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    write(&data.join("realA/one.csv"), &series(1200, 1000));
    write(&data.join("realA/two.csv"), &series(600, 590));
    write(&data.join("artificialB/three.csv"), &series(900, 100));
    write(&data.join("README.md"), "not a csv");
    let out = dir.path().join("out");
    pfi(&[
        "detect",
        "--nab",
        data.to_str().unwrap_or_default(),
        "--out",
        out.to_str().unwrap_or_default(),
    ])
    .code(0);
    for (name, count) in [
        ("realA/one.csv", 1200),
        ("realA/two.csv", 600),
        ("artificialB/three.csv", 900),
    ] {
        let written =
            std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows(&written).len(), count, "{name}");
        let single = pfi(&["detect", data.join(name).to_str().unwrap_or_default()]);
        assert_eq!(
            single.stdout, written,
            "{name}: --nab and single-file output differ"
        );
    }
    assert!(!out.join("README.md").exists());
}

#[test]
fn list_shows_detectors_and_parameters() {
    let output = pfi(&["detect", "--list"]).code(0);
    let text = output.stdout;
    for word in [
        "ensemble (default)",
        "ewma",
        "robust_z",
        "holt_winters",
        "isolation_forest",
        "forecast",
        "changepoint",
        "seasonal",
        "alpha",
        "warmup",
        "range [",
    ] {
        assert!(text.contains(word), "`{word}` missing from:\n{text}");
    }
    // The warm-up `pfi detect` uses on a file is 15% of its rows, not the run default.
    let warmup = text
        .lines()
        .find(|line| line.trim_start().starts_with("warmup"))
        .unwrap_or_default();
    assert!(warmup.contains("15% of the rows, at most 750"), "{warmup}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = dir.path().join("good.csv");
    write(&good, &series(50, 10));
    let good = good.to_str().unwrap_or_default();
    let bad = dir.path().join("bad.csv");
    write(
        &bad,
        "timestamp,value\n2014-04-01 00:00:00,1\nnot a time,2\n",
    );
    let bad = bad.to_str().unwrap_or_default();
    let missing = dir.path().join("missing.csv");
    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir_all(&empty_dir).unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["detect", "--detector", "nope", good],
            "the detectors are: ensemble",
        ),
        (vec!["detect", "--param", "alpha", good], "NAME=VALUE"),
        (
            vec![
                "detect",
                "--param",
                "alpha=fast",
                "--detector",
                "ewma",
                good,
            ],
            "not a number",
        ),
        (
            vec!["detect", "--detector", "ewma", "--param", "alpha=7", good],
            "range",
        ),
        (
            vec!["detect", "--detector", "ewma", "--param", "beta=1", good],
            "its parameters are: alpha",
        ),
        (vec!["detect", bad], "line 3"),
        (
            vec!["detect", missing.to_str().unwrap_or_default()],
            "cannot read",
        ),
        (vec!["detect"], "required"),
        (vec!["detect", "--nab", good], "--out"),
        (
            vec![
                "detect",
                "--nab",
                empty_dir.to_str().unwrap_or_default(),
                "--out",
                "x",
            ],
            "no .csv file",
        ),
    ];
    for (args, needle) in cases {
        pfi(&args).code(2).stderr(needle);
    }
}

#[test]
fn explain_names_what_fired_and_when_the_limit_is_expected() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("disk.csv");
    // Disk use every 30 s: 40% ± noise for 3 h, then filling 1% a minute from 3 h on.
    let mut text = String::from("timestamp,value\n");
    for i in 0..520 {
        let t = i * 30;
        let noise = ((i * 7919) % 11) as f64 / 20.0;
        let fill = if t > 10_800 {
            (t - 10_800) as f64 / 60.0
        } else {
            0.0
        };
        text.push_str(&format!("{},{}\n", 1_700_000_000 + t, 40.0 + noise + fill));
    }
    write(&file, &text);
    let path = file.to_str().unwrap_or_default();
    let output = pfi(&[
        "detect",
        "--detector",
        "forecast",
        "--param",
        "limit=100",
        "--param",
        "direction=1",
        "--explain",
        path,
    ])
    .code(0);
    assert_eq!(rows(&output.stdout).len(), 520);
    let err = output.stderr;
    assert!(err.contains("1 alarm(s) at score >= 0.5"), "{err}");
    assert!(
        err.contains("forecast: P(breach of 100") && err.contains("expected in"),
        "{err}"
    );
    // The disk is full at t = 14 400 s (line 482); the alarm comes after the filling starts
    // (line 362) and well before it is full (the horizon is 15 minutes: 30 lines).
    let line: usize = err
        .split("  line ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no alarm line in {err}"));
    assert!((362..=470).contains(&line), "{err}");
    // The default, given the same limit, warns through its forecast view and says so.
    let output = pfi(&[
        "detect",
        "--param",
        "limit=100",
        "--param",
        "direction=1",
        "--explain",
        path,
    ]);
    let err = output.code(0).stderr;
    assert!(
        err.contains("ensemble: the forecast view") && err.contains("expected in"),
        "{err}"
    );
    // The ensemble says which view fired.
    let spike = dir.path().join("spike.csv");
    write(&spike, &series(2000, 1500));
    let output = pfi(&["detect", "--explain", spike.to_str().unwrap_or_default()]);
    let err = output.stderr;
    assert!(err.contains("ensemble: the extremes view"), "{err}");
    pfi(&["detect", "--explain", "--alarm", "1.5", path]).code(2);
}

#[test]
fn awkward_rows_are_named_by_their_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("odd.csv");
    write(
        &file,
        "timestamp,value\n100,1\n200,1\n150,1\n150,1\n300,inf\n400,NaN\n90000,1\n90100,1\n",
    );
    let output = pfi(&["detect", file.to_str().unwrap_or_default()]).code(0);
    let err = output.stderr;
    for expected in [
        "1 backwards timestamps (first at line 4)",
        "1 repeated timestamps (first at line 5)",
        "2 missing or non-finite values (first at line 6)",
        "before line 8",
        "every value is 1: a constant series scores 0 throughout",
    ] {
        assert!(err.contains(expected), "`{expected}` missing from:\n{err}");
    }
    // The default with a limit (its forecast view) takes the same rows without a panic.
    let output = pfi(&[
        "detect",
        "--param",
        "limit=2",
        "--param",
        "direction=1",
        "--explain",
        file.to_str().unwrap_or_default(),
    ]);
    assert_eq!(rows(&output.code(0).stdout).len(), 8);
    let single = dir.path().join("single.csv");
    write(&single, "timestamp,value\n100,5\n");
    let output = pfi(&["detect", single.to_str().unwrap_or_default()]).code(0);
    assert!(
        output.stderr.contains("a single data row (line 2)"),
        "{}",
        output.stderr
    );
    assert_eq!(rows(&output.stdout), vec![("100".into(), "5".into(), 0.0)]);
}

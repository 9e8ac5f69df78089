//! `pfi detect`: score `timestamp,value` CSV files with a streaming anomaly detector.

use super::exit;
use crate::predict::crossing::human_secs;
use crate::predict::registry::{DEFAULT_DETECTOR, DETECTORS};
use crate::predict::{ParamKind, Series, resolve, score_and_explain, score_series};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// A `timestamp,value` CSV file; prints `timestamp,value,anomaly_score` for every row.
    #[arg(required_unless_present_any = ["nab", "list", "precursors"], conflicts_with_all = ["nab", "list", "precursors"])]
    pub file: Option<PathBuf>,
    /// The detector (see `--list`).
    #[arg(long, default_value = DEFAULT_DETECTOR)]
    pub detector: String,
    /// Set a detector parameter, e.g. `--param alpha=0.3` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Score every CSV under DATA_DIR (NAB's data folder) into --out, same relative paths.
    #[arg(long, value_name = "DATA_DIR", requires = "out")]
    pub nab: Option<PathBuf>,
    /// Output folder for --nab.
    #[arg(long, value_name = "OUT_DIR", requires = "nab")]
    pub out: Option<PathBuf>,
    /// List the detectors and their parameters.
    #[arg(long)]
    pub list: bool,
    /// Score a labelled early-warning corpus (CSVs and `labels.json`, e.g.
    /// `bench/precursors/recorded`): precision, recall, F1, lead times and false alarms a day
    /// of the rolling z-score baseline, `forecast` and --detector, and `forecast`'s calibration.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["nab", "list", "explain"])]
    pub precursors: Option<PathBuf>,
    /// After the scores, print each alarm to stderr: its line, which detector or view fired and
    /// why (for `forecast`: when the limit is expected to be reached, with an interval).
    #[arg(long, conflicts_with_all = ["nab", "list"])]
    pub explain: bool,
    /// The score that counts as an alarm for --explain (default: the detector's `alarm`
    /// parameter if it has one, else 0.5).
    #[arg(long, value_name = "SCORE", requires = "explain")]
    pub alarm: Option<f64>,
}

pub fn run(args: DetectArgs) -> ExitCode {
    if args.list {
        list();
        return ExitCode::from(exit::OK);
    }
    let params = match parse_params(&args.params) {
        Ok(p) => p,
        Err(message) => return bad_input(&message),
    };
    if let Err(e) = resolve(&args.detector, &params) {
        return bad_input(&format!("{e}\n  help: run `pfi detect --list`"));
    }
    if let Some(dir) = &args.precursors {
        let threshold = alarm_level(&args.detector, &params, None);
        return super::detect_precursors::run(dir, &args.detector, &params, threshold);
    }
    match (&args.file, &args.nab, &args.out) {
        (Some(file), _, _) => {
            let alarm = args
                .explain
                .then(|| alarm_level(&args.detector, &params, args.alarm));
            detect_file(&args.detector, &params, file, alarm)
        }
        (None, Some(data), Some(out)) => detect_nab(&args.detector, &params, data, out),
        _ => bad_input("give a FILE, or --nab DATA_DIR --out OUT_DIR, or --list"),
    }
}

fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::BAD_INPUT)
}

fn list() {
    for spec in DETECTORS {
        let default = if spec.name == DEFAULT_DETECTOR {
            " (default)"
        } else {
            ""
        };
        println!("{}{default}\n  {}", spec.name, spec.doc);
        for p in spec.params {
            let kind = match p.kind {
                ParamKind::Integer => "integer",
                ParamKind::Real => "real",
            };
            // `pfi detect` sets the warm-up from the file's length (`probation`), not the
            // parameter's default (which is for runs, where no length is known).
            let default = if p.name == "warmup" {
                "15% of the rows, at most 750".to_string()
            } else {
                p.default.to_string()
            };
            println!(
                "    {:<14} {kind:<7} default {default:<8} range [{}, {}]  {}",
                p.name, p.min, p.max, p.doc
            );
        }
    }
}

fn parse_params(raw: &[String]) -> Result<Vec<(String, f64)>, String> {
    raw.iter()
        .map(|text| {
            let (name, value) = text
                .split_once('=')
                .ok_or_else(|| format!("`--param {text}` must be NAME=VALUE, e.g. alpha=0.3"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("`--param {text}`: `{}` is not a number", value.trim()))?;
            Ok((name.trim().to_string(), value))
        })
        .collect()
}

fn read_series(path: &Path) -> Result<Series, String> {
    let series = Series::read(path).map_err(|e| match e {
        crate::predict::SeriesError::Io { .. } => e.to_string(),
        _ => format!("{}: {e}", path.display()),
    })?;
    let r = &series.report;
    let name = path.display();
    let at = |line: Option<u64>| line.map_or(String::new(), |l| format!(" (first at line {l})"));
    if series.is_empty() {
        eprintln!("warning: {name}: no data rows");
    }
    if series.len() == 1 {
        eprintln!(
            "warning: {name}: a single data row (line {}): it scores 0, there is nothing to \
             compare it with",
            series.rows[0].line
        );
    }
    if r.repeated_timestamps > 0 {
        eprintln!(
            "warning: {name}: {} repeated timestamps{}: rows kept in file order, a timestamp \
             that does not advance counts as the same instant",
            r.repeated_timestamps,
            at(r.first_repeated_line)
        );
    }
    if r.backwards_timestamps > 0 {
        eprintln!(
            "warning: {name}: {} backwards timestamps{}: rows kept in file order, a timestamp \
             that does not advance counts as the same instant",
            r.backwards_timestamps,
            at(r.first_backwards_line)
        );
    }
    if r.missing_values > 0 {
        eprintln!(
            "warning: {name}: {} missing or non-finite values{}: they score 0 and are not \
             learnt from",
            r.missing_values,
            at(r.first_missing_line)
        );
    }
    let mut steps: Vec<f64> = series
        .rows
        .windows(2)
        .map(|w| w[1].timestamp - w[0].timestamp)
        .filter(|s| *s > 0.0)
        .collect();
    if !steps.is_empty() {
        steps.sort_by(f64::total_cmp);
        let usual = steps[steps.len() / 2];
        if let Some(line) = r.largest_gap_line
            && r.largest_gap_secs > 10.0 * usual
        {
            eprintln!(
                "warning: {name}: a gap of {} before line {line} (rows are usually {} apart): \
                 detectors carry on across it",
                human_secs(r.largest_gap_secs),
                human_secs(usual)
            );
        }
    }
    let mut finite = series
        .rows
        .iter()
        .map(|row| row.value)
        .filter(|v| v.is_finite());
    if series.len() > 1
        && let Some(first) = finite.next()
        && finite.all(|v| v == first)
    {
        eprintln!("warning: {name}: every value is {first}: a constant series scores 0 throughout");
    }
    Ok(series)
}

/// Writes `timestamp,value,anomaly_score` rows; scores with `{}` (exact f64 round trip).
fn write_scores<W: Write>(out: W, series: &Series, scores: &[f64]) -> csv::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer.write_record(["timestamp", "value", "anomaly_score"])?;
    for (row, score) in series.rows.iter().zip(scores) {
        writer.write_record([
            row.timestamp_text.as_str(),
            row.value_text.as_str(),
            score.to_string().as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// The alarm level for `--explain`: `--alarm`, else the detector's `alarm` parameter (as set
/// or defaulted), else 0.5.
fn alarm_level(detector: &str, params: &[(String, f64)], given: Option<f64>) -> f64 {
    if let Some(level) = given {
        return level;
    }
    if let Some((_, v)) = params.iter().find(|(k, _)| k == "alarm") {
        return *v;
    }
    crate::predict::spec(detector)
        .and_then(|s| s.param("alarm"))
        .map_or(0.5, |p| p.default)
}

fn detect_file(
    detector: &str,
    params: &[(String, f64)],
    file: &Path,
    alarm: Option<f64>,
) -> ExitCode {
    if let Some(level) = alarm
        && !(0.0..=1.0).contains(&level)
    {
        return bad_input(&format!(
            "--alarm {level}: an alarm level is a score in [0, 1]"
        ));
    }
    let series = match read_series(file) {
        Ok(s) => s,
        Err(message) => return bad_input(&message),
    };
    let (scores, alarms) =
        match score_and_explain(detector, params, &series, alarm.unwrap_or(f64::INFINITY)) {
            Ok(s) => s,
            Err(e) => return bad_input(&e.to_string()),
        };
    let stdout = std::io::stdout().lock();
    if let Err(e) = write_scores(std::io::BufWriter::new(stdout), &series, &scores) {
        eprintln!("error: cannot write the scores: {e}");
        return ExitCode::from(exit::ENVIRONMENT);
    }
    if let Some(level) = alarm {
        eprintln!(
            "{}: {} alarm(s) at score >= {level}",
            file.display(),
            alarms.len()
        );
        for a in &alarms {
            let row = &series.rows[a.row];
            eprintln!(
                "  line {} ({}, value {}): score {:.3}: {}",
                row.line, row.timestamp_text, row.value_text, a.score, a.why
            );
        }
    }
    ExitCode::from(exit::OK)
}

/// Every `.csv` under `dir`, as paths relative to it, sorted.
fn csv_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .map_err(|e| format!("cannot list {}: {e}", dir.join(&relative).display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let path = relative.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot inspect {}: {e}", dir.join(&path).display()))?;
            if kind.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("csv"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn detect_nab(detector: &str, params: &[(String, f64)], data: &Path, out: &Path) -> ExitCode {
    let files = match csv_files(data) {
        Ok(f) => f,
        Err(message) => return bad_input(&message),
    };
    if files.is_empty() {
        return bad_input(&format!("no .csv file under {}", data.display()));
    }
    // Read and check every input before writing anything.
    let mut inputs = Vec::with_capacity(files.len());
    for relative in &files {
        match read_series(&data.join(relative)) {
            Ok(series) => inputs.push((relative, series)),
            Err(message) => return bad_input(&message),
        }
    }
    let mut rows = 0;
    for (relative, series) in &inputs {
        let scores = match score_series(detector, params, series) {
            Ok(s) => s,
            Err(e) => return bad_input(&e.to_string()),
        };
        let target = out.join(relative);
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(&target))
            .map_err(|e| e.to_string())
            .and_then(|f| {
                write_scores(std::io::BufWriter::new(f), series, &scores).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", target.display());
            return ExitCode::from(exit::ENVIRONMENT);
        }
        rows += series.len();
    }
    eprintln!(
        "{detector}: scored {} files, {rows} rows, into {}",
        inputs.len(),
        out.display()
    );
    ExitCode::from(exit::OK)
}

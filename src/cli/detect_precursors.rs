//! `pfi detect --precursors DIR`: the early-warning figures of a labelled corpus (see
//! `predict::precursor_dir` for its form) — precision, recall and F1 at one threshold for the
//! whole corpus, median and p10 lead time, false alarms per day — for the rolling z-score
//! baseline, `forecast` told each series' limit, and the chosen detector; then the calibration
//! of `forecast`'s probability on the corpus, before and after.

use super::exit;
use crate::predict::calibration::{FORECAST, apply_steps};
use crate::predict::early_warning::EarlyWarning;
use crate::predict::precursor_dir::PrecursorDir;
use crate::predict::precursor_score::{Contender, evaluate, events};
use crate::predict::reliability::{Reliability, apply_platt, isotonic, platt};
use crate::predict::rolling_z::BASELINE_THRESHOLD;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Prints the figures of the corpus in `dir` for `detector` (with `params`) at `threshold`.
pub fn run(dir: &Path, detector: &str, params: &[(String, f64)], threshold: f64) -> ExitCode {
    let corpus = match PrecursorDir::read(dir) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    match report(&corpus, dir, detector, params, threshold) {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// Fits a calibration map to `(probability, outcome)` events.
type Fitter = dyn Fn(&[(f64, f64)]) -> Box<dyn Fn(f64) -> f64>;

fn corpus_params(corpus: &PrecursorDir, name: &str) -> Vec<(String, f64)> {
    corpus
        .labels
        .detector_params
        .get(name)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

fn row(out: &mut String, label: &str, threshold: f64, e: &EarlyWarning) {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(
        out,
        "{label:<30} {threshold:>9.2} {:>9.3} {:>6.3} {:>6.3} {:>3}/{:<3} {:>9} s {:>7} s {:>8.2}",
        e.precision(),
        e.recall(),
        e.f1(),
        e.warned,
        e.faults,
        secs(e.lead_quantile(0.5)),
        secs(e.lead_quantile(0.1)),
        e.false_alarms_per_day()
    );
}

fn report(
    corpus: &PrecursorDir,
    dir: &Path,
    detector: &str,
    params: &[(String, f64)],
    threshold: f64,
) -> Result<String, String> {
    let rules = corpus.rules();
    let labels = &corpus.labels;
    let series = &corpus.series;
    let mut out = String::new();
    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
    let days: f64 = series.iter().map(|s| s.duration()).sum::<f64>() / 86_400.0;
    let _ = writeln!(
        out,
        "{}: {} series ({} that fail), {samples} samples, {:.2} h; warm-up {} s, alarms {} s \
         apart, horizon {} s",
        dir.display(),
        series.len(),
        series.iter().filter(|s| s.fault.is_some()).count(),
        days * 24.0,
        labels.warmup_secs,
        labels.quiet_secs,
        labels.horizon_secs
    );
    let _ = writeln!(
        out,
        "{:<30} {:>9} {:>9} {:>6} {:>6} {:>7} {:>11} {:>9} {:>8}",
        "detector",
        "threshold",
        "precision",
        "recall",
        "F1",
        "warned",
        "median lead",
        "p10 lead",
        "FA/day"
    );
    let forecast = Contender::Registered {
        name: "forecast".to_string(),
        params: corpus_params(corpus, "forecast"),
        limit: Some(labels.horizon_secs),
    };
    let mut contenders = vec![
        (
            Contender::Baseline {
                window_secs: labels.baseline_window_secs,
            },
            BASELINE_THRESHOLD,
        ),
        (forecast.clone(), 0.5),
    ];
    if detector != "forecast" || !params.is_empty() {
        let mut all = corpus_params(corpus, detector);
        all.retain(|(k, _)| !params.iter().any(|(p, _)| p == k));
        all.extend(params.iter().cloned());
        contenders.push((
            Contender::Registered {
                name: detector.to_string(),
                params: all,
                limit: None,
            },
            threshold,
        ));
    }
    let mut forecast_scores = Vec::new();
    for (contender, level) in &contenders {
        let scores: Vec<Vec<f64>> = series
            .iter()
            .map(|s| contender.scores(s, rules))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let e = evaluate(rules, series, &scores, *level);
        row(&mut out, &contender.label(), *level, &e);
        if *contender == forecast {
            forecast_scores = scores;
        }
    }
    // Which series each shape warned of, with `forecast` (the product's predictor).
    let mut shapes: Vec<&str> = series.iter().map(|s| s.shape.as_str()).collect();
    shapes.dedup();
    shapes.sort();
    shapes.dedup();
    let _ = write!(out, "forecast by shape (warned/failing, false alarms):");
    for shape in shapes {
        let (of, sc): (Vec<_>, Vec<_>) = series
            .iter()
            .zip(&forecast_scores)
            .filter(|(s, _)| s.shape == shape)
            .map(|(s, sc)| (s.clone(), sc.clone()))
            .unzip();
        let e = evaluate(rules, &of, &sc, 0.5);
        let _ = write!(
            out,
            " {shape} {}/{} ({})",
            e.warned, e.faults, e.false_alarms
        );
    }
    out.push('\n');
    // Calibration: every scored sample is an event, "the fault comes within the horizon".
    // Two folds (odd- and even-numbered series): each fold's events are calibrated by a map
    // fitted on the other fold only, and the two held-out folds are pooled.
    let fold = |keep: usize| -> Vec<(f64, f64)> {
        series
            .iter()
            .zip(&forecast_scores)
            .enumerate()
            .filter(|(i, _)| i % 2 == keep)
            .flat_map(|(_, (s, sc))| events(rules, s, sc, labels.horizon_secs))
            .collect()
    };
    let folds = [fold(0), fold(1)];
    let _ = writeln!(
        out,
        "\ncalibration of `forecast` P(limit reached within {} s): every scored sample, each fold \
         (odd- and even-numbered series in labels.json) calibrated by a map fitted on the other",
        labels.horizon_secs
    );
    if folds.iter().any(Vec::is_empty) {
        let _ = writeln!(out, "  too few series to split");
        prediction_confidence(&mut out, corpus);
        return Ok(out);
    }
    let raw: Vec<(f64, f64)> = folds.concat();
    out.push_str(&Reliability::of(&raw).render("raw", "  "));
    let shipped: Vec<(f64, f64)> = raw.iter().map(|(p, o)| (FORECAST.apply(*p), *o)).collect();
    out.push_str(
        &Reliability::of(&shipped).render("calibrated (FORECAST, the table runs show)", "  "),
    );
    let cross = |fit: &Fitter| -> Vec<(f64, f64)> {
        let mut all = Vec::new();
        for (held, other) in [(0, 1), (1, 0)] {
            let map = fit(&folds[other]);
            all.extend(folds[held].iter().map(|(p, o)| (map(*p), *o)));
        }
        all
    };
    let iso = cross(&|points| {
        let steps = isotonic(points.to_vec());
        Box::new(move |p| apply_steps(&steps, p))
    });
    out.push_str(&Reliability::of(&iso).render("isotonic, cross-fitted on this corpus", "  "));
    let pl = cross(&|points| {
        let ab = platt(points);
        Box::new(move |p| apply_platt(ab, p))
    });
    out.push_str(&Reliability::of(&pl).render("Platt, cross-fitted on this corpus", "  "));
    prediction_confidence(&mut out, corpus);
    Ok(out)
}

/// The confidence of the predictions the recorded runs made (`pfi run`'s), against whether
/// each came true, when the corpus keeps them.
fn prediction_confidence(out: &mut String, corpus: &PrecursorDir) {
    let made = &corpus.labels.predictions;
    if made.is_empty() {
        return;
    }
    let events: Vec<(f64, f64)> = made
        .iter()
        .map(|p| (p.confidence, if p.came_true { 1.0 } else { 0.0 }))
        .collect();
    let true_ones = made.iter().filter(|p| p.came_true).count();
    let _ = writeln!(
        out,
        "
prediction confidence of the recorded runs (`pfi run`'s predictions: {} made, {true_ones} \
         came true)",
        made.len()
    );
    out.push_str(&Reliability::of(&events).render("as shown by the runs", "  "));
}

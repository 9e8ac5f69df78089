//! `PrecursorDir`: a labelled early-warning corpus on disk — one `timestamp,value` CSV per
//! series and a `labels.json` — read by `pfi detect --precursors DIR`.
//!
//! `labels.json`:
//! ```json
//! {"format": "pfi-precursors", "version": 1,
//!  "warmup_secs": 5, "quiet_secs": 10, "horizon_secs": 10, "baseline_window_secs": 10,
//!  "detector_params": {"forecast": {"tau": 10, "min_samples": 6}},
//!  "series": [{"file": "leak-1.csv", "shape": "leak", "limit": 94371840,
//!              "onset": 10.4, "fault": 22.9, "source": "..."},
//!             {"file": "healthy-1.csv", "shape": "healthy", "limit": 94371840,
//!              "onset": null, "fault": null}]}
//! ```
//! Every series has a limit reached from below (a memory limit, a latency SLO, a connection
//! cap); a series that fails has an `onset` (when its cause began: from the ledger) and a
//! `fault` (when it failed), `onset <= fault`; one that does not has neither. Timestamps are
//! seconds (a run's clock), strictly increasing. The generated corpus is written in the same
//! form by [`PrecursorDir::write`] (the precursor bench's `--write DIR`).
//!
//! Anything wrong is an error naming the file and the line or the series: a missing or
//! unparsable `labels.json` (line and column), a series whose file is missing, a CSV with a
//! bad row, timestamps that do not increase, a fault before its onset.

use super::early_warning::Rules;
use super::precursor_corpus::LabelledSeries;
use super::series::Series;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "pfi-precursors";
pub const VERSION: u32 = 1;

/// The labels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub format: String,
    pub version: u32,
    pub warmup_secs: f64,
    pub quiet_secs: f64,
    /// The horizon of a forecast: "will the fault come within it?" (calibration events).
    pub horizon_secs: f64,
    /// The rolling z-score baseline's window.
    pub baseline_window_secs: f64,
    /// Parameters given to a detector on every series of the corpus (fixed before scoring).
    #[serde(default)]
    pub detector_params: BTreeMap<String, BTreeMap<String, f64>>,
    pub series: Vec<SeriesLabel>,
    /// The predictions the recorded runs made (`pfi run`'s, with their confidence).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictions: Vec<RunPrediction>,
}

/// A prediction a recorded run made, and whether it came true (judged by the run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPrediction {
    /// The series (file stem) of the run.
    pub series: String,
    pub at: f64,
    pub kind: String,
    pub confidence: f64,
    pub came_true: bool,
}

/// One series' label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesLabel {
    pub file: String,
    pub shape: String,
    pub limit: f64,
    pub onset: Option<f64>,
    pub fault: Option<f64>,
    /// Where it came from (a scenario, seed and run id), for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A corpus read from a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecursorDir {
    pub labels: Labels,
    pub series: Vec<LabelledSeries>,
}

impl PrecursorDir {
    pub fn rules(&self) -> Rules {
        Rules {
            warmup_secs: self.labels.warmup_secs,
            quiet_secs: self.labels.quiet_secs,
        }
    }

    /// Reads `dir/labels.json` and every series it names.
    pub fn read(dir: &Path) -> Result<PrecursorDir, String> {
        let path = dir.join("labels.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let labels: Labels = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: line {}, column {}: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        let at = |what: String| format!("{}: {what}", path.display());
        if labels.format != FORMAT || labels.version != VERSION {
            return Err(at(format!(
                "format `{}` version {}, expected `{FORMAT}` version {VERSION}",
                labels.format, labels.version
            )));
        }
        for (name, value) in [
            ("warmup_secs", labels.warmup_secs),
            ("quiet_secs", labels.quiet_secs),
            ("horizon_secs", labels.horizon_secs),
            ("baseline_window_secs", labels.baseline_window_secs),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(at(format!(
                    "`{name}` is {value}: a duration in seconds, >= 0"
                )));
            }
        }
        if labels.series.is_empty() {
            return Err(at("no series".to_string()));
        }
        let mut series = Vec::with_capacity(labels.series.len());
        for (i, label) in labels.series.iter().enumerate() {
            let which = format!("series {} (`{}`)", i + 1, label.file);
            match (label.onset, label.fault) {
                (Some(onset), Some(fault)) if onset <= fault => {}
                (None, None) => {}
                (Some(onset), Some(fault)) => {
                    return Err(at(format!(
                        "{which}: fault {fault} before its onset {onset}"
                    )));
                }
                _ => {
                    return Err(at(format!(
                        "{which}: a series that fails has both `onset` and `fault`, one that \
                         does not has neither"
                    )));
                }
            }
            if !label.limit.is_finite() {
                return Err(at(format!("{which}: the limit must be a finite number")));
            }
            let file = dir.join(&label.file);
            let read = Series::read(&file).map_err(|e| match e {
                super::SeriesError::Io { .. } => at(format!("{which}: {e}")),
                _ => format!("{}: {e}", file.display()),
            })?;
            let mut samples = Vec::with_capacity(read.rows.len());
            for row in &read.rows {
                if let Some((t, _)) = samples.last()
                    && row.timestamp <= *t
                {
                    return Err(format!(
                        "{}: line {}: timestamp {} does not come after the previous row's",
                        file.display(),
                        row.line,
                        row.timestamp_text
                    ));
                }
                samples.push((row.timestamp, row.value));
            }
            if samples.len() < 2 {
                return Err(format!(
                    "{}: {} data row(s): a series needs at least two",
                    file.display(),
                    samples.len()
                ));
            }
            let mut steps: Vec<f64> = samples.windows(2).map(|w| w[1].0 - w[0].0).collect();
            steps.sort_by(f64::total_cmp);
            series.push(LabelledSeries {
                name: label
                    .file
                    .strip_suffix(".csv")
                    .unwrap_or(&label.file)
                    .to_string(),
                shape: label.shape.clone(),
                samples,
                limit: label.limit,
                onset: label.onset,
                fault: label.fault,
                step: steps[steps.len() / 2],
            });
        }
        Ok(PrecursorDir { labels, series })
    }

    /// Writes `corpus` into `dir` (created): `NAME.csv` per series and `labels.json`.
    pub fn write(
        dir: &Path,
        corpus: &[LabelledSeries],
        rules: Rules,
        horizon_secs: f64,
        baseline_window_secs: f64,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut labels = Labels {
            format: FORMAT.to_string(),
            version: VERSION,
            warmup_secs: rules.warmup_secs,
            quiet_secs: rules.quiet_secs,
            horizon_secs,
            baseline_window_secs,
            detector_params: BTreeMap::new(),
            series: Vec::new(),
            predictions: Vec::new(),
        };
        for s in corpus {
            let file = format!("{}.csv", s.name);
            let mut text = String::from("timestamp,value\n");
            for (t, v) in &s.samples {
                text.push_str(&format!("{t},{v}\n"));
            }
            std::fs::write(dir.join(&file), text)?;
            labels.series.push(SeriesLabel {
                file,
                shape: s.shape.clone(),
                limit: s.limit,
                onset: s.onset,
                fault: s.fault,
                source: None,
            });
        }
        let json = serde_json::to_string_pretty(&labels).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("labels.json"), json + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::precursor_corpus::generate;

    #[test]
    fn a_written_corpus_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let corpus: Vec<LabelledSeries> = generate(3).into_iter().step_by(12).collect();
        PrecursorDir::write(dir.path(), &corpus, Rules::GENERATED, 900.0, 3600.0).unwrap();
        let read = PrecursorDir::read(dir.path()).unwrap();
        assert_eq!(read.rules(), Rules::GENERATED);
        assert_eq!(read.series.len(), corpus.len());
        for (a, b) in read.series.iter().zip(&corpus) {
            assert_eq!((&a.name, &a.shape, a.limit), (&b.name, &b.shape, b.limit));
            assert_eq!((a.onset, a.fault, a.step), (b.onset, b.fault, b.step));
            assert_eq!(a.samples, b.samples);
        }
    }

    #[test]
    fn bad_corpora_are_refused_with_a_location() {
        let dir = tempfile::tempdir().unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(err.contains("labels.json"), "{err}");
        let labels = |series: &str| {
            format!(
                "{{\"format\": \"pfi-precursors\", \"version\": 1, \"warmup_secs\": 1,\n\
                 \"quiet_secs\": 1, \"horizon_secs\": 5, \"baseline_window_secs\": 5,\n\
                 \"series\": [{series}]}}"
            )
        };
        std::fs::write(dir.path().join("labels.json"), labels("{\"file\": 3}")).unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        let one =
            "{\"file\": \"a.csv\", \"shape\": \"leak\", \"limit\": 10, \"onset\": 5, \"fault\": 2}";
        std::fs::write(dir.path().join("labels.json"), labels(one)).unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(
            err.contains("series 1 (`a.csv`): fault 2 before its onset 5"),
            "{err}"
        );
        let one =
            "{\"file\": \"a.csv\", \"shape\": \"leak\", \"limit\": 10, \"onset\": 1, \"fault\": 2}";
        std::fs::write(dir.path().join("labels.json"), labels(one)).unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(
            err.contains("series 1 (`a.csv`)") && err.contains("cannot read"),
            "{err}"
        );
        std::fs::write(dir.path().join("a.csv"), "timestamp,value\n0,1\n1,abc\n").unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(err.contains("a.csv: line 3"), "{err}");
        std::fs::write(dir.path().join("a.csv"), "timestamp,value\n0,1\n2,1\n1,1\n").unwrap();
        let err = PrecursorDir::read(dir.path()).unwrap_err();
        assert!(
            err.contains("a.csv: line 4: timestamp 1 does not come after"),
            "{err}"
        );
        std::fs::write(
            dir.path().join("a.csv"),
            "timestamp,value\n0,1\n0.5,2\n1,3\n",
        )
        .unwrap();
        let read = PrecursorDir::read(dir.path()).unwrap();
        assert_eq!(
            read.series[0].samples,
            vec![(0.0, 1.0), (0.5, 2.0), (1.0, 3.0)]
        );
    }
}

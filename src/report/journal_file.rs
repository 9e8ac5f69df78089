//! Reading a journal back: `pfi report RUN` takes a journal file (or a run id, whose record
//! `pfi run` keeps in the state directory). Every way a file can be wrong gets its own
//! message: missing, not JSON or cut short (with the line and column), JSON that is not a
//! pfi journal, a journal of an older or newer version.

use super::run_record::{JOURNAL_FORMAT, JOURNAL_VERSION, RunRecord};
use std::fmt;
use std::path::{Path, PathBuf};

/// The record `pfi run` keeps of each run: `<state>/runs/<run id>/journal.json`.
pub fn kept_journal(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("runs").join(run_id).join("journal.json")
}

/// Why a journal could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalError {
    /// Neither a file nor a run id in the state directory.
    Missing {
        given: String,
        detail: String,
    },
    Unreadable {
        path: PathBuf,
        detail: String,
    },
    /// Not JSON, or cut short.
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        detail: String,
        truncated: bool,
    },
    /// JSON, but not a pfi journal.
    Foreign {
        path: PathBuf,
        detail: String,
    },
    /// A pfi journal of another version.
    Version {
        path: PathBuf,
        found: u32,
    },
    /// The right version, but a field is wrong.
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        detail: String,
    },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Missing { given, detail } => write!(
                f,
                "{given}: no such journal file, nor a run id with a kept journal ({detail}); \
                 give the file written by `pfi run --journal FILE`, or a run id"
            ),
            JournalError::Unreadable { path, detail } => {
                write!(f, "{}: cannot read the journal: {detail}", path.display())
            }
            JournalError::NotJson {
                path,
                line,
                column,
                detail,
                truncated,
            } => {
                write!(
                    f,
                    "{}:{line}:{column}: not valid JSON: {detail}",
                    path.display()
                )?;
                if *truncated {
                    write!(f, " (the file ends early: was the journal cut short?)")?;
                }
                Ok(())
            }
            JournalError::Foreign { path, detail } => write!(
                f,
                "{}: not a pfi journal ({detail}); give the file written by `pfi run --journal FILE`",
                path.display()
            ),
            JournalError::Version { path, found } if *found < JOURNAL_VERSION => write!(
                f,
                "{}: a journal of version {found}, written by an older pfi; this pfi reads \
                 version {JOURNAL_VERSION} (run the scenario again with this pfi to get one)",
                path.display()
            ),
            JournalError::Version { path, found } => write!(
                f,
                "{}: a journal of version {found}, written by a newer pfi; this pfi reads \
                 version {JOURNAL_VERSION} (upgrade pfi)",
                path.display()
            ),
            JournalError::Invalid {
                path,
                line,
                column,
                detail,
            } => write!(
                f,
                "{}:{line}:{column}: not a valid version {JOURNAL_VERSION} journal: {detail}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for JournalError {}

/// Reads `given`: a journal file, or a run id whose journal is kept under `state_dir`.
pub fn load(given: &str, state_dir: &Path) -> Result<RunRecord, JournalError> {
    let path = PathBuf::from(given);
    let path = if path.exists() {
        path
    } else {
        let kept = kept_journal(state_dir, given);
        if given.contains('/') || !kept.exists() {
            return Err(JournalError::Missing {
                given: given.to_string(),
                detail: format!("looked for a run at {}", kept.display()),
            });
        }
        kept
    };
    let text = std::fs::read_to_string(&path).map_err(|err| JournalError::Unreadable {
        path: path.clone(),
        detail: err.to_string(),
    })?;
    parse(&path, &text)
}

/// Parses the text of a journal read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<RunRecord, JournalError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| JournalError::NotJson {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
            truncated: err.is_eof(),
            detail: err.to_string(),
        })?;
    let foreign = |detail: &str| JournalError::Foreign {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let Some(object) = value.as_object() else {
        return Err(foreign("the top level is not an object"));
    };
    match object.get("format").and_then(|f| f.as_str()) {
        Some(JOURNAL_FORMAT) => {}
        Some(other) => return Err(foreign(&format!("its format is `{other}`"))),
        // The unversioned journal of earlier pfi had a run id, a seed and events.
        None if object.contains_key("run_id") && object.contains_key("events") => {
            return Err(JournalError::Version {
                path: path.to_path_buf(),
                found: 1,
            });
        }
        None => return Err(foreign("no `\"format\": \"pfi-journal\"` field")),
    }
    let found = object
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| foreign("no numeric `version` field"))?;
    if found != u64::from(JOURNAL_VERSION) {
        return Err(JournalError::Version {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_str(text).map_err(|err| JournalError::Invalid {
        path: path.to_path_buf(),
        line: err.line(),
        column: err.column(),
        detail: err.to_string(),
    })
}

/// The journal's JSON text.
pub fn to_json(record: &RunRecord) -> String {
    // Serialising plain data with string keys cannot fail; an empty object stands in if it
    // ever did.
    serde_json::to_string_pretty(record).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICKSTART: &str = include_str!("../../tests/fixtures/journals/quickstart.json");

    #[test]
    fn the_kept_quickstart_journal_reads_back_and_round_trips() {
        let path = Path::new("quickstart.json");
        let record = parse(path, QUICKSTART).unwrap();
        assert_eq!(record.version, JOURNAL_VERSION);
        assert_eq!(record.seed, 7);
        assert_eq!(record.faults.len(), 3);
        assert!(record.probes[0].checks.len() > 100);
        // Every time is on the run's clock: faults after the warm-up, checks after ready.
        let faults_from = record.faults_from_ms().unwrap();
        assert!(record.faults.iter().all(|f| f.planned_ms >= faults_from));
        let ready = record.ready_ms.unwrap();
        assert!(record.probes[0].checks[0].at_ms >= ready - 1.0);
        assert_eq!(parse(path, &to_json(&record)).unwrap(), record);
    }

    #[test]
    fn a_journal_cut_anywhere_is_not_json_and_says_so() {
        let path = Path::new("cut.json");
        for cut in [1, 100, QUICKSTART.len() / 2, QUICKSTART.len() - 2] {
            match parse(path, &QUICKSTART[..cut]) {
                Err(JournalError::NotJson { truncated, .. }) => assert!(truncated, "{cut}"),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}

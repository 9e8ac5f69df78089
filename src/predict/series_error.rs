//! `SeriesError`: why a `timestamp,value` file could not be read.

use std::fmt;
use std::path::PathBuf;

/// A `timestamp,value` CSV that cannot be used. Lines are 1-based, as an editor shows them.
#[derive(Debug)]
pub enum SeriesError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    Csv {
        line: u64,
        message: String,
    },
    BadTimestamp {
        line: u64,
        text: String,
    },
    BadValue {
        line: u64,
        text: String,
    },
}

impl fmt::Display for SeriesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            SeriesError::Csv { line, message } => {
                write!(f, "line {line}: malformed CSV ({message})")
            }
            SeriesError::BadTimestamp { line, text } => write!(
                f,
                "line {line}: `{text}` is not a timestamp; write `2014-04-01 00:00:00` \
                 (ISO 8601, optional `T`, fraction and offset) or unix seconds"
            ),
            SeriesError::BadValue { line, text } => write!(
                f,
                "line {line}: `{text}` is not a number; leave the value empty (or write NaN) \
                 for a missing sample"
            ),
        }
    }
}

impl std::error::Error for SeriesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SeriesError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

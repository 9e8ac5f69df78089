//! Errors reading or writing a ledger.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub struct LedgerError {
    /// What was being done (`write`, `read`, `create`...).
    pub action: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

impl LedgerError {
    pub(super) fn new(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> LedgerError {
        LedgerError {
            action,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} the run ledger {}: {}",
            self.action,
            self.path.display(),
            self.source
        )?;
        if matches!(
            self.source.kind(),
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
        ) {
            f.write_str("; run pfi from a writable folder or pass another state folder")?;
        }
        Ok(())
    }
}

impl std::error::Error for LedgerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

//! AST to `Plan`: name resolution, units, fault support, distributions, the dependency graph,
//! imports. Collects every diagnostic it can instead of stopping at the first.

mod analysis;
mod checker;
mod faults;
mod graph;
pub mod history;
mod incidents;
pub mod loader;
mod rules;
pub use crate::plan::{LINK_METRICS, RESOURCE_METRICS};
pub mod values;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceMap};
use crate::plan::Plan;
use std::path::Path;

/// The outcome of checking a scenario: the plan if there were no errors, every diagnostic
/// (errors and warnings), and the sources they point into.
pub struct Checked {
    pub sources: SourceMap,
    pub plan: Option<Plan>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks the scenario at `path` and everything it imports.
pub fn check_file(path: &Path) -> Checked {
    check(path, None)
}

/// Checks `text` as if it were the file at `path` (imports resolve relative to `path`).
pub fn check_text(path: &Path, text: &str) -> Checked {
    check(path, Some(text))
}

/// Checks `bytes` as if they were the file at `path`, as `check_file` reads a file: bytes that
/// are not UTF-8 get the diagnostic at their first invalid byte.
pub fn check_bytes(path: &Path, bytes: &[u8]) -> Checked {
    match loader::decode(bytes.to_vec()) {
        Ok(text) => check(path, Some(&text)),
        Err(err) => {
            let mut sources = SourceMap::new();
            let diagnostic = loader::unreadable(&mut sources, path, err);
            Checked {
                sources,
                plan: None,
                diagnostics: vec![diagnostic],
            }
        }
    }
}

fn check(path: &Path, text: Option<&str>) -> Checked {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let files = loader::load(path, text, &mut sources, &mut diagnostics);
    let plan = if diagnostics.has_errors() && files.iter().all(|f| !f.is_root) {
        None
    } else {
        checker::Checker::new(&sources, &mut diagnostics, path).check(&files)
    };
    release(files, sources.total_len());
    let has_errors = diagnostics.has_errors();
    Checked {
        sources,
        plan: if has_errors { None } else { plan },
        diagnostics: diagnostics.into_sorted(),
    }
}

/// Frees `value` on a thread of its own when it was built from more than `RELEASE_AWAY` bytes
/// of source: freeing the syntax trees and plans of a big scenario takes longer than
/// spawning a thread, and nobody waits for it.
pub(crate) fn release<T: Send + 'static>(value: T, source_bytes: usize) {
    if source_bytes > RELEASE_AWAY {
        std::thread::spawn(move || drop(value));
    }
}

/// See `release`.
const RELEASE_AWAY: usize = 256 * 1024;

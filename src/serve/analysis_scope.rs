//! `AnalysisScope`: which folders a scenario submitted over the API may name in
//! `analysis "SRC/"`. Checking a scenario reads every source file under that folder, so a
//! submitted `analysis "/"` would have the server walk its whole filesystem (and report what
//! its code calls). The policy is the allow-list's: what the server's operator configured is
//! allowed, nothing else — here, folders inside the scenarios folder (`--scenarios DIR`);
//! a server without one accepts no `analysis` in a submitted scenario. Scenarios started
//! with `pfi serve --watch FILE` are the operator's own and are not limited.
//!
//! The scenario's text is read for `analysis` lines *before* it is checked (so nothing is
//! walked), and the checked plan's folder once more after (an imported file's `analysis`).

use crate::diagnostic::FileId;
use crate::plan::Plan;
use crate::syntax::ast::Item;
use std::path::{Component, Path, PathBuf};

pub struct AnalysisScope<'a> {
    /// The scenarios folder, if the server has one.
    root: Option<&'a Path>,
}

impl AnalysisScope<'_> {
    pub fn new(root: Option<&Path>) -> AnalysisScope<'_> {
        AnalysisScope { root }
    }

    /// The `analysis` lines of `text` (to be checked as the file `path`) naming a folder
    /// outside the scope, as messages with their line and column. A text that does not parse
    /// has none here (the checker reports its errors and stops before any analysis).
    pub fn refused_in_text(&self, path: &Path, text: &str) -> Vec<String> {
        let Ok((file, _)) = crate::syntax::parse(FileId(0), text) else {
            return Vec::new();
        };
        let base = path.parent().unwrap_or(Path::new(""));
        file.items
            .iter()
            .filter_map(|item| match item {
                Item::Analysis(a) => Some(a),
                _ => None,
            })
            .filter(|a| !self.contains(&base.join(&a.path.node)))
            .map(|a| {
                let (line, column) = line_column(text, a.path.span.start);
                format!(
                    "{}:{line}:{column}: {}",
                    path.display(),
                    self.refusal(&a.path.node)
                )
            })
            .collect()
    }

    /// The plan's analysed folder (its own or an imported file's), if outside the scope.
    pub fn refused_in_plan(&self, plan: &Plan) -> Option<String> {
        let analysis = plan.analysis.as_ref()?;
        if self.contains(&analysis.source) {
            return None;
        }
        Some(self.refusal(&analysis.source.display().to_string()))
    }

    fn refusal(&self, folder: &str) -> String {
        match self.root {
            Some(root) => format!(
                "`analysis \"{folder}\"` is outside the server's scenarios folder {}; a \
                 scenario sent to the API may only analyse source folders inside it",
                root.display()
            ),
            None => format!(
                "`analysis \"{folder}\"`: this server has no scenarios folder, so a scenario \
                 sent to the API may not analyse source code (start it with --scenarios DIR \
                 and put the sources inside)"
            ),
        }
    }

    /// Whether `folder` is inside the scenarios folder, both as written (`..` taken away
    /// lexically) and once its links are followed (when it exists).
    fn contains(&self, folder: &Path) -> bool {
        let Some(root) = self.root else {
            return false;
        };
        let Some(root) = absolute(root) else {
            return false;
        };
        let Some(written) = absolute(folder) else {
            return false;
        };
        if !written.starts_with(&root) {
            return false;
        }
        match (written.canonicalize(), root.canonicalize()) {
            (Ok(real), Ok(real_root)) => real.starts_with(real_root),
            // Not there (the checker says so) or the root is gone: nothing will be read.
            _ => true,
        }
    }
}

/// `path` made absolute against the working folder, with `.` and `..` resolved as written.
fn absolute(path: &Path) -> Option<PathBuf> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_inside_the_scenarios_folder_may_be_analysed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("scenarios");
        std::fs::create_dir_all(root.join("shop/src")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let scope = AnalysisScope::new(Some(&root));
        let file = root.join("s.pfi");
        let text = |folder: &str| format!("analysis \"{folder}\"\nexperiment \"e\" {{\n}}\n");
        assert!(scope.refused_in_text(&file, &text("shop/src")).is_empty());
        assert!(
            scope
                .refused_in_text(&file, &text("./shop/../shop"))
                .is_empty()
        );
        for outside in ["/", "..", "shop/../../", "escape/etc", "/etc"] {
            let refused = scope.refused_in_text(&file, &text(outside));
            assert_eq!(refused.len(), 1, "{outside}: {refused:?}");
            assert!(
                refused[0].starts_with(&format!("{}:1:10: `analysis", file.display())),
                "{}",
                refused[0]
            );
        }
        let none = AnalysisScope::new(None);
        let refused = none.refused_in_text(&file, &text("shop/src"));
        assert!(refused[0].contains("no scenarios folder"), "{refused:?}");
        // A text that does not parse is left to the checker.
        assert!(scope.refused_in_text(&file, "analysis").is_empty());
    }

    #[test]
    fn counts_lines_and_columns_in_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("x", 0), (1, 1));
    }
}

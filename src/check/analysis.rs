//! `analysis "src/"`: the source folder is read here, as `pfi analyze` reads it, so that the
//! plan carries the findings and `plan` and `run` never read the source again.
//!
//! The tree-sitter scanner lives at the `analyze` edge; it depends only on `diagnostic` and
//! `plan`, so calling it from the checker makes no cycle between the stages.

use super::checker::Checker;
use crate::analyze::SourceAnalysis;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{AnalysisPlan, ResourcePlan};
use crate::syntax::ast::{self, Item};

impl Checker<'_> {
    pub(super) fn analysis(
        &mut self,
        items: &[&ast::Item],
        resources: &[ResourcePlan],
    ) -> Option<AnalysisPlan> {
        let declared: Vec<&ast::Analysis> = items
            .iter()
            .filter_map(|i| match i {
                Item::Analysis(a) => Some(&**a),
                _ => None,
            })
            .collect();
        for extra in declared.iter().skip(1) {
            self.error(
                Diagnostic::error(Code::Analysis, "a scenario has one `analysis` folder")
                    .at(extra.span, "second analysis")
                    .with_label(declared[0].span, "first one here")
                    .help("point one `analysis` at the folder that holds the services' code"),
            );
        }
        let a = declared.first()?;
        let span = a.path.span;
        let path = self.base_dir(span).join(&a.path.node);
        if a.path.node.trim().is_empty() || !path.exists() {
            self.error(
                Diagnostic::error(
                    Code::Analysis,
                    format!("source folder `{}` not found", path.display()),
                )
                .at(span, "no such folder")
                .help("the path is relative to the scenario's folder"),
            );
            return None;
        }
        let analysis = SourceAnalysis::read(&path);
        if analysis.files_read() == 0 {
            self.error(
                Diagnostic::error(
                    Code::Analysis,
                    format!(
                        "no Python, JavaScript, TypeScript, Go, Java or Rust source could be read under `{}`",
                        path.display()
                    ),
                )
                .at(span, "nothing to analyse here")
                .help("point `analysis` at the application's source folder"),
            );
            return None;
        }
        let plan = analysis.plan(&path, resources);
        if !analysis.diagnostics.is_empty() {
            self.error(
                Diagnostic::warning(
                    Code::Analysis,
                    format!(
                        "{} source file problem{} under `{}` (files that do not parse, or are skipped)",
                        analysis.diagnostics.len(),
                        if analysis.diagnostics.len() == 1 { "" } else { "s" },
                        path.display()
                    ),
                )
                .at(span, "read with problems")
                .help(format!(
                    "`pfi analyze {}` shows each one; the rest was analysed",
                    path.display()
                )),
            );
        }
        let unmatched: Vec<&str> = plan
            .dependencies
            .iter()
            .filter(|d| d.resource.is_none() && d.unguarded > 0)
            .map(|d| d.dependency.as_str())
            .collect();
        if !unmatched.is_empty() {
            self.error(
                Diagnostic::warning(
                    Code::Analysis,
                    format!(
                        "unguarded calls to {} reach no resource of the scenario",
                        listed(&unmatched)
                    ),
                )
                .at(span, "these calls do not change the profile")
                .help("name the resource after the host the code calls, or give it that `type`"),
            );
        }
        Some(plan)
    }
}

/// `a`, `b`, `c` and 4 more.
fn listed(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<String> = names.iter().take(SHOWN).map(|d| format!("`{d}`")).collect();
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

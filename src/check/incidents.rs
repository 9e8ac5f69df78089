//! Checks the experiment's history file: every malformed row is an error naming its row,
//! and resource types in the history are matched against the scenario's.

use super::checker::Checker;
use super::values::suggest;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::history::{Format, parse};
use crate::plan::ResourcePlan;

/// At most this many malformed rows are reported one by one.
const MAX_ROW_ERRORS: usize = 20;

impl Checker<'_> {
    pub(super) fn incidents(&mut self, resources: &[(ResourcePlan, Span)]) {
        let (Some(path), Some(span)) = (self.history.clone(), self.history_span) else {
            return;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                self.error(
                    Diagnostic::error(
                        Code::History,
                        format!("cannot read history file `{}`: {err}", path.display()),
                    )
                    .at(span, "unreadable")
                    .help("history files are UTF-8 CSV or JSON"),
                );
                return;
            }
        };
        let history = match parse(&text, Format::of(&path)) {
            Ok(history) => history,
            Err(errors) => {
                let total = errors.len();
                for e in errors.iter().take(MAX_ROW_ERRORS) {
                    let message = if e.row == 0 {
                        format!("{}: {}", path.display(), e.message)
                    } else {
                        format!("{}: row {}: {}", path.display(), e.row, e.message)
                    };
                    self.error(
                        Diagnostic::error(Code::History, message)
                            .at(span, "in this history file")
                            .help("see examples/history/README.md for the format"),
                    );
                }
                if total > MAX_ROW_ERRORS {
                    self.error(
                        Diagnostic::error(
                            Code::History,
                            format!(
                                "{}: {} more malformed rows",
                                path.display(),
                                total - MAX_ROW_ERRORS
                            ),
                        )
                        .at(span, "in this history file"),
                    );
                }
                return;
            }
        };
        // The scenario's history keys: declared types, and names of untyped resources.
        let keys: Vec<String> = resources
            .iter()
            .map(|(r, _)| r.resource_type.clone().unwrap_or_else(|| r.name.clone()))
            .collect();
        let mut unused: Vec<&str> = Vec::new();
        for incident in &history.incidents {
            let t = incident.resource_type.as_str();
            if keys.iter().any(|k| k == t) || unused.contains(&t) {
                continue;
            }
            // A type one typo away from a declared one is a mistake, not another system.
            if let Some(close) = suggest(t, keys.iter().map(String::as_str)) {
                self.error(
                    Diagnostic::error(
                        Code::History,
                        format!(
                            "{}: row {}: unknown resource type `{t}`",
                            path.display(),
                            incident.row
                        ),
                    )
                    .at(span, "in this history file")
                    .help(format!(
                        "did you mean `{close}`? resource types must match a resource's `type`"
                    )),
                );
            }
            unused.push(t);
        }
        if !unused.is_empty() && !self.diagnostics.has_errors() {
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::History,
                    format!(
                        "history has resource types no resource here declares: {}",
                        unused.join(", ")
                    ),
                )
                .at(span, "their incidents are not used")
                .help(format!(
                    "this scenario's types are: {}; give a resource `type <name>` to use them",
                    if keys.is_empty() {
                        "none".to_string()
                    } else {
                        keys.join(", ")
                    }
                )),
            );
        }
        self.loaded.incidents = Some(history);
    }
}

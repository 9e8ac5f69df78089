//! `ScenarioSource`: where a scenario sent to the API comes from — its text, or a path under
//! the server's scenarios folder (`--scenarios DIR`; nothing outside it can be named) — and
//! checking it into a plan or a list of diagnostics as JSON (file, line, column). An
//! `analysis` folder outside the scenarios folder is refused (403 `not_allowed`, see
//! `AnalysisScope`) before anything is read.

use super::analysis_scope::AnalysisScope;
use super::api_error::ApiError;
use crate::check::{Checked, check_file, check_text};
use crate::diagnostic::render_json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSource {
    /// The scenario's text.
    pub scenario: Option<String>,
    /// A path relative to the scenarios folder.
    pub path: Option<String>,
    /// The file name diagnostics show for a text (`scenario.pfi` when absent).
    pub name: Option<String>,
}

impl ScenarioSource {
    /// A short name for the run list.
    pub fn label(&self) -> String {
        self.path
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| "scenario.pfi".into())
    }

    /// Checks the scenario (on a blocking thread: a big scenario takes a while).
    pub async fn check(
        &self,
        scenarios: Option<&Path>,
        submitted: &Path,
    ) -> Result<Checked, ApiError> {
        let source = match (&self.scenario, &self.path) {
            (Some(text), None) => {
                let name = self
                    .name
                    .as_deref()
                    .and_then(|n| Path::new(n).file_name())
                    .map_or_else(|| PathBuf::from("scenario.pfi"), PathBuf::from);
                let folder = scenarios.unwrap_or(submitted);
                Source::Text(folder.join(name), text.clone())
            }
            (None, Some(path)) => Source::File(resolve(scenarios, path)?),
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of `scenario` (the text) and `path` (under the server's \
                     scenarios folder)",
                ));
            }
        };
        let root = scenarios.map(Path::to_path_buf);
        let checked = tokio::task::spawn_blocking(move || {
            let scope = AnalysisScope::new(root.as_deref());
            // `analysis` outside the scope is refused before the checker walks it.
            let refused = match &source {
                Source::Text(path, text) => scope.refused_in_text(path, text),
                Source::File(path) => std::fs::read_to_string(path)
                    .map(|text| scope.refused_in_text(path, &text))
                    .unwrap_or_default(),
            };
            if !refused.is_empty() {
                return Err(refused);
            }
            let checked = match source {
                Source::Text(path, text) => check_text(&path, &text),
                Source::File(path) => check_file(&path),
            };
            match checked
                .plan
                .as_ref()
                .and_then(|plan| scope.refused_in_plan(plan))
            {
                Some(refused) => Err(vec![refused]),
                None => Ok(checked),
            }
        })
        .await
        .map_err(ApiError::internal)?;
        checked.map_err(|refused| {
            let mut error = ApiError::new(StatusCode::FORBIDDEN, "not_allowed", refused.join("; "));
            error.diagnostics = Some(refused.into_iter().map(Value::from).collect());
            error
        })
    }
}

enum Source {
    Text(PathBuf, String),
    File(PathBuf),
}

/// Every diagnostic of a checked scenario as JSON.
pub fn diagnostics(checked: &Checked) -> Vec<Value> {
    checked
        .diagnostics
        .iter()
        .map(|d| serde_json::from_str(&render_json(d, &checked.sources)).unwrap_or(Value::Null))
        .collect()
}

/// `path` under the scenarios folder; never outside it.
fn resolve(scenarios: Option<&Path>, path: &str) -> Result<PathBuf, ApiError> {
    let Some(folder) = scenarios else {
        return Err(ApiError::bad_request(
            "this server has no scenarios folder (start it with --scenarios DIR); send the \
             scenario's text instead",
        ));
    };
    let relative = Path::new(path);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(ApiError::bad_request(format!(
            "`{path}` must be a relative path inside the scenarios folder, without `..`"
        )));
    }
    let full = folder.join(relative);
    let inside = full
        .canonicalize()
        .ok()
        .zip(folder.canonicalize().ok())
        .is_some_and(|(full, folder)| full.starts_with(folder));
    if !inside || !full.is_file() {
        return Err(ApiError::not_found(format!(
            "no scenario `{path}` in the scenarios folder"
        )));
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_scenarios_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.pfi"), "").unwrap();
        assert!(resolve(Some(dir.path()), "a.pfi").is_ok());
        assert_eq!(
            resolve(Some(dir.path()), "../a.pfi").unwrap_err().code,
            "bad_request"
        );
        assert_eq!(
            resolve(Some(dir.path()), "/etc/passwd").unwrap_err().code,
            "bad_request"
        );
        assert_eq!(
            resolve(Some(dir.path()), "b.pfi").unwrap_err().code,
            "not_found"
        );
        assert_eq!(resolve(None, "a.pfi").unwrap_err().code, "bad_request");
    }
}

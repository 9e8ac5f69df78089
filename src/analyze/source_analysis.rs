//! `pfi analyze SRC/`: every source file under a folder → failure points ranked by severity,
//! and the diagnostics of what could not be read. Rendering for people (the diagnostic
//! renderer of `pfi check`), JSON, and the faults that would test each dependency.

use super::call_scanner::{index_file, scan_file};
use super::failure_point::{FailurePoint, Severity};
use super::package_index::PackageIndex;
use super::source_language::SourceLanguage;
use crate::diagnostic::{Code, Diagnostic, SourceMap};
use crate::plan::{AnalysisPlan, AnalyzedDependency, Plan, ResourcePlan};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files larger than this are skipped (generated or vendored code).
const MAX_FILE_BYTES: u64 = 2 << 20;
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "vendor",
    "__pycache__",
    ".venv",
    "venv",
    "dist",
    "build",
    ".tox",
    ".mypy_cache",
    "site-packages",
    "test",
    "tests",
    "testdata",
    "__tests__",
    "migrations",
    "examples",
    "docs",
];

/// The analysis of a source tree.
pub struct SourceAnalysis {
    pub sources: SourceMap,
    /// Ranked: highest score first.
    pub points: Vec<FailurePoint>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files read, per language.
    pub files: BTreeMap<&'static str, usize>,
    /// Test files and folders left out.
    pub skipped: usize,
}

impl SourceAnalysis {
    pub fn read(path: &Path) -> SourceAnalysis {
        let mut analysis = SourceAnalysis {
            sources: SourceMap::new(),
            points: Vec::new(),
            diagnostics: Vec::new(),
            files: BTreeMap::new(),
            skipped: 0,
        };
        let mut files = Vec::new();
        if path.is_dir() {
            collect(path, &mut files, &mut analysis.skipped);
        } else {
            files.push(path.to_path_buf());
        }
        files.sort();
        let mut read: Vec<(crate::diagnostic::FileId, SourceLanguage)> = Vec::new();
        for file in files {
            let Some(language) = SourceLanguage::of(&file) else {
                continue;
            };
            match std::fs::metadata(&file) {
                Ok(m) if m.len() > MAX_FILE_BYTES => {
                    analysis.diagnostics.push(Diagnostic::warning(
                        Code::TooLarge,
                        format!("{} is larger than 2 MiB and is skipped", file.display()),
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    analysis.diagnostics.push(Diagnostic::warning(
                        Code::Unreadable,
                        format!("cannot read {}: {e}", file.display()),
                    ));
                    continue;
                }
            }
            let text = match std::fs::read(&file).map(String::from_utf8) {
                Ok(Ok(text)) => text,
                Ok(Err(_)) => {
                    analysis.diagnostics.push(Diagnostic::warning(
                        Code::Unreadable,
                        format!("{} is not UTF-8 text and is skipped", file.display()),
                    ));
                    continue;
                }
                Err(e) => {
                    analysis.diagnostics.push(Diagnostic::warning(
                        Code::Unreadable,
                        format!("cannot read {}: {e}", file.display()),
                    ));
                    continue;
                }
            };
            let id = analysis.sources.add(file, text);
            read.push((id, language));
        }
        // Two passes: what every file binds first, so that a client made in one module is
        // known where another uses it.
        let mut package = PackageIndex::new();
        for (id, language) in &read {
            index_file(&analysis.sources, *id, *language, &mut package);
        }
        for (id, language) in read {
            let scan = scan_file(&analysis.sources, id, language, &package);
            *analysis.files.entry(language.name()).or_default() += 1;
            analysis.points.extend(scan.points);
            analysis.diagnostics.extend(scan.diagnostics);
        }
        analysis.points.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.file.cmp(&b.file))
                .then(a.line.cmp(&b.line))
        });
        analysis
    }

    pub fn files_read(&self) -> usize {
        self.files.values().sum()
    }

    /// Failure points (calls missing a guard), ranked.
    pub fn failure_points(&self) -> impl Iterator<Item = &FailurePoint> {
        self.points
            .iter()
            .filter(|p| p.severity > Severity::Guarded)
    }

    /// One diagnostic per failure point, for the renderer of `pfi check`.
    pub fn diagnostic(point: &FailurePoint) -> Diagnostic {
        let missing: Vec<&str> = point.missing.iter().map(|g| g.name()).collect();
        let message = format!(
            "[{}] {} call to {} ({}) without {}",
            point.severity.name(),
            point.category.name(),
            point.dependency,
            point.target.describe(),
            join_or(&missing)
        );
        let place = match (&point.function, point.path) {
            (Some(f), super::failure_point::CallPath::Request) => {
                format!("on a request path, in `{f}`")
            }
            (Some(f), super::failure_point::CallPath::Worker) => format!("in the worker `{f}`"),
            (Some(f), _) => format!("in `{f}`"),
            (None, _) => "at the top level".into(),
        };
        let mut d = Diagnostic::warning(Code::FailurePoint, message)
            .at(point.span, format!("{} ({})", place, point.library))
            .help(advice(point));
        if !point.evidence.is_empty() {
            d = d.note(format!("guarded by: {}", point.evidence.join("; ")));
        }
        d
    }

    pub fn summary(&self) -> Summary {
        let mut by_severity = BTreeMap::new();
        for p in &self.points {
            *by_severity.entry(p.severity.name()).or_insert(0) += 1;
        }
        Summary {
            files: self.files_read(),
            languages: self.files.clone(),
            skipped_test_files: self.skipped,
            calls: self.points.len(),
            failure_points: self.failure_points().count(),
            by_severity,
            unreadable: self.diagnostics.len(),
        }
    }

    /// Faults that test the failure points, one set per dependency, on the links of
    /// `scenario` that reach it (a link per dependency named `app_<dependency>` otherwise).
    pub fn faults(&self, scenario: Option<&Plan>) -> String {
        let mut by_dependency: BTreeMap<String, Vec<&FailurePoint>> = BTreeMap::new();
        for p in self.failure_points() {
            by_dependency
                .entry(p.dependency.clone())
                .or_default()
                .push(p);
        }
        let mut out = String::new();
        out.push_str("// Faults drafted by `pfi analyze`: one set per dependency its failure points reach.\n");
        if scenario.is_none() {
            out.push_str("// No --scenario: each set names a link `app_<dependency>`; declare it (or pass\n// --scenario system.pfi to use its links) before checking.\n");
        }
        for (dependency, points) in by_dependency {
            let worst = points[0];
            out.push_str(&format!(
                "\n// {dependency}: {} failure point{} ({}), worst {}:{}:{} [{}]\n",
                points.len(),
                if points.len() == 1 { "" } else { "s" },
                worst.category.name(),
                worst.file,
                worst.line,
                worst.column,
                worst.severity.name()
            ));
            let links = match scenario {
                Some(plan) => matching_links(plan, &dependency, worst),
                None => vec![(format!("app_{}", ident(&dependency)), false)],
            };
            if links.is_empty() {
                out.push_str(&format!(
                    "// no link of the scenario reaches `{dependency}`: declare one to test these calls\n"
                ));
                continue;
            }
            for (link, http) in links {
                let name = ident(&format!("{link}_{dependency}"));
                let delay = match points.iter().filter_map(|p| p.timeout_ms).max() {
                    Some(t) => format!(
                        "{}ms   // above the calls' longest timeout ({t}ms)",
                        t + t / 2 + 100
                    ),
                    None => "5s   // no timeout: the callers wait it out".into(),
                };
                out.push_str(&format!("fault {name}_slow: latency on {link} {{\n  delay {delay}\n  every 60s\n  lasting 10s\n}}\n"));
                if http {
                    out.push_str(&format!("fault {name}_errors: http_error on {link} {{\n  status 503\n  rate 50%\n  every 60s\n  lasting 10s\n}}\n"));
                } else {
                    out.push_str(&format!(
                        "fault {name}_errors: reset on {link} {{\n  every 60s\n  lasting 10s\n}}\n"
                    ));
                }
                out.push_str(&format!(
                    "fault {name}_down: down on {link} {{\n  every 60s\n  lasting 10s\n}}\n"
                ));
            }
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub files: usize,
    pub languages: BTreeMap<&'static str, usize>,
    pub skipped_test_files: usize,
    pub calls: usize,
    pub failure_points: usize,
    pub by_severity: BTreeMap<&'static str, usize>,
    pub unreadable: usize,
}

/// The scenario's links that reach the dependency: by the name of the resource behind the
/// link, its type, or the link's name; then by the kind of service (a database call → a link
/// to a resource typed like a database).
fn matching_links(plan: &Plan, dependency: &str, point: &FailurePoint) -> Vec<(String, bool)> {
    use super::call_catalog::Category;
    use super::system_map::Role;
    let behind = |link: &crate::plan::LinkPlan| -> Option<String> {
        link.upstream_resource.clone().or_else(|| {
            plan.dependencies
                .iter()
                .find(|d| d.via.as_deref() == Some(link.name.as_str()))
                .map(|d| d.to.clone())
        })
    };
    let dep = dependency.to_ascii_lowercase();
    let mut out: Vec<(String, bool)> = plan
        .links
        .iter()
        .filter(|l| {
            let r = behind(l);
            let ty = r
                .as_deref()
                .and_then(|r| plan.resource(r))
                .and_then(|r| r.resource_type.clone());
            r.as_deref() == Some(dep.as_str())
                || ty.as_deref() == Some(dep.as_str())
                || l.name.ends_with(&format!("_{dep}"))
        })
        .map(|l| (l.name.clone(), l.http))
        .collect();
    if out.is_empty() {
        let wanted = match point.category {
            Category::Database => Some(Role::Database),
            Category::Cache => Some(Role::Cache),
            Category::Queue => Some(Role::Queue),
            _ => None,
        };
        out = plan
            .links
            .iter()
            .filter(|l| {
                let ty = behind(l).and_then(|r| {
                    plan.resource(&r)
                        .map(|r| r.resource_type.clone().unwrap_or(r.name.clone()))
                });
                wanted.is_some() && ty.is_some_and(|t| Some(Role::of(Some(&t), &t)) == wanted)
            })
            .map(|l| (l.name.clone(), l.http))
            .collect();
    }
    out
}

fn ident(text: &str) -> String {
    super::scenario_draft::identifier(text)
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => "nothing missing".into(),
        [one] => format!("a {one}"),
        [init @ .., last] => format!("a {} or {last}", init.join(", ")),
    }
}

fn advice(point: &FailurePoint) -> String {
    use super::failure_point::Guard;
    let mut out = Vec::new();
    if point.missing.contains(&Guard::Timeout) {
        out.push(match point.language {
            "python" => "pass `timeout=` (seconds)",
            "javascript" | "typescript" => "set a `timeout` or an AbortSignal.timeout(...)",
            "go" => "call with a context.WithTimeout or set http.Client{Timeout: ...}",
            "java" => "set connect and read timeouts on the client",
            "rust" => "set `.timeout(...)` or wrap in tokio::time::timeout",
            _ => "bound the call with a timeout",
        });
    }
    let handles = [Guard::Retry, Guard::CircuitBreaker, Guard::Fallback];
    if handles.iter().all(|g| point.missing.contains(g)) {
        out.push("retry with backoff, break the circuit, or fall back when it fails");
    }
    if point.missing.contains(&Guard::BoundedPool) {
        out.push("bound the connection pool");
    }
    if out.is_empty() {
        "add the missing guard".into()
    } else {
        out.join("; ")
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            if SKIPPED_DIRS.contains(&name.as_str()) || name.starts_with('.') {
                *skipped += 1;
                continue;
            }
            collect(&path, out, skipped);
        } else if SourceLanguage::of(&path).is_some() {
            if SourceLanguage::is_test_file(&path) {
                *skipped += 1;
            } else {
                out.push(path);
            }
        }
    }
}

/// Whether a call counts as unguarded for the fault injection profile: no timeout (its
/// callers wait as long as the dependency does), or nothing handling its failure (no retry,
/// circuit breaker nor fallback).
pub fn is_unguarded(point: &FailurePoint) -> bool {
    use super::failure_point::Guard;
    let has = |g: Guard| point.guards.contains(&g);
    !has(Guard::Timeout)
        || !(has(Guard::Retry) || has(Guard::CircuitBreaker) || has(Guard::Fallback))
}

impl SourceAnalysis {
    /// What the plan keeps of the analysis (`analysis "src/"` in a scenario): per dependency,
    /// its calls and unguarded calls, and the resource of `resources` it reaches.
    pub fn plan(&self, source: &Path, resources: &[ResourcePlan]) -> AnalysisPlan {
        let mut by_dependency: BTreeMap<&str, Vec<&FailurePoint>> = BTreeMap::new();
        for p in &self.points {
            by_dependency.entry(&p.dependency).or_default().push(p);
        }
        let dependencies = by_dependency
            .into_iter()
            .map(|(dependency, points)| {
                // Ranked: the first unguarded one is the worst.
                let unguarded: Vec<&&FailurePoint> =
                    points.iter().filter(|p| is_unguarded(p)).collect();
                AnalyzedDependency {
                    dependency: dependency.to_string(),
                    resource: matching_resource(resources, dependency, points[0]),
                    calls: points.len(),
                    unguarded: unguarded.len(),
                    worst: unguarded
                        .first()
                        .map(|p| format!("{}:{}:{}", p.file, p.line, p.column)),
                }
            })
            .collect();
        AnalysisPlan {
            source: source.to_path_buf(),
            files: self.files_read(),
            calls: self.points.len(),
            dependencies,
        }
    }
}

/// The resource a dependency of the code is: by name or type; else the one resource whose
/// name has it as a `_`-separated word (`orders_db` for `db`) or is such a word of it
/// (`payments` for `payments_api`); else, for a database, cache or queue call, the one
/// resource of that kind.
fn matching_resource(
    resources: &[ResourcePlan],
    dependency: &str,
    point: &FailurePoint,
) -> Option<String> {
    use super::call_catalog::Category;
    use super::system_map::Role;
    let dep = dependency.to_ascii_lowercase().replace('-', "_");
    let name_of = |r: &ResourcePlan| r.name.to_ascii_lowercase();
    let ty_of = |r: &ResourcePlan| r.resource_type.clone().map(|t| t.to_ascii_lowercase());
    let exact = resources
        .iter()
        .find(|r| name_of(r) == dep || ty_of(r).as_deref() == Some(dep.as_str()));
    if let Some(r) = exact {
        return Some(r.name.clone());
    }
    let words = |s: &str| -> Vec<String> { s.split('_').map(str::to_string).collect() };
    let partial: Vec<&ResourcePlan> = resources
        .iter()
        .filter(|r| {
            let name = name_of(r);
            dep.len() >= 2 && (words(&name).contains(&dep) || words(&dep).contains(&name))
        })
        .collect();
    if let [one] = partial.as_slice() {
        return Some(one.name.clone());
    }
    let wanted = match point.category {
        Category::Database => Role::Database,
        Category::Cache => Role::Cache,
        Category::Queue => Role::Queue,
        _ => return None,
    };
    let of_kind: Vec<&ResourcePlan> = resources
        .iter()
        .filter(|r| {
            let ty = r.resource_type.clone().unwrap_or_else(|| r.name.clone());
            Role::of(Some(&ty), &r.name) == wanted
        })
        .collect();
    match of_kind.as_slice() {
        [one] => Some(one.name.clone()),
        _ => None,
    }
}

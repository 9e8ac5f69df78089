//! One outbound call found in source code: what it reaches, what guards it, where it runs,
//! and how severe its failure would be.

use super::call_catalog::{Category, MatchedBy};
use super::source_language::SourceLanguage;
use crate::diagnostic::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    Timeout,
    Retry,
    CircuitBreaker,
    Fallback,
    BoundedPool,
}

impl Guard {
    pub const ALL: [Guard; 5] = [
        Guard::Timeout,
        Guard::Retry,
        Guard::CircuitBreaker,
        Guard::Fallback,
        Guard::BoundedPool,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Guard::Timeout => "timeout",
            Guard::Retry => "retry",
            Guard::CircuitBreaker => "circuit breaker",
            Guard::Fallback => "fallback",
            Guard::BoundedPool => "bounded pool",
        }
    }

    pub fn parse(word: &str) -> Option<Guard> {
        Some(match word {
            "timeout" => Guard::Timeout,
            "retry" => Guard::Retry,
            "breaker" | "circuit_breaker" => Guard::CircuitBreaker,
            "fallback" => Guard::Fallback,
            "pool" | "bounded_pool" => Guard::BoundedPool,
            _ => return None,
        })
    }
}

/// Where the call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPath {
    /// In a request handler (a route, a controller method, a function taking a request).
    Request,
    /// In a worker (a task, a consumer, a scheduled job).
    Worker,
    Other,
}

impl CallPath {
    fn weight(self) -> f64 {
        match self {
            CallPath::Request => 3.0,
            CallPath::Worker => 2.0,
            CallPath::Other => 1.0,
        }
    }
}

/// What the call reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// A literal host (and port) from a URL or an address.
    Host(String),
    EnvVar(String),
    ConfigKey(String),
    Unknown,
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Host(h) => h.clone(),
            Target::EnvVar(v) => format!("${v}"),
            Target::ConfigKey(k) => format!("config `{k}`"),
            Target::Unknown => "an unresolved address".into(),
        }
    }

    /// A short name for the dependency: the host without its port, or the variable without
    /// `_URL`/`_HOST`-like suffixes, lowercased.
    pub fn dependency_name(&self, category: Category) -> String {
        let raw = match self {
            Target::Host(h) => h.split(':').next().unwrap_or(h).to_string(),
            Target::EnvVar(v) | Target::ConfigKey(v) => {
                let mut name = v.to_ascii_lowercase().replace(['.', '-'], "_");
                for suffix in [
                    "_url",
                    "_uri",
                    "_host",
                    "_addr",
                    "_address",
                    "_dsn",
                    "_endpoint",
                    "_server",
                    "_base",
                ] {
                    if let Some(s) = name.strip_suffix(suffix) {
                        name = s.to_string();
                    }
                }
                name
            }
            Target::Unknown => category.name().to_ascii_lowercase(),
        };
        raw.rsplit('.').next_back().unwrap_or(&raw).to_string()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailurePoint {
    #[serde(skip)]
    pub span: Span,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub language: &'static str,
    pub category: Category,
    pub library: &'static str,
    pub matched_by: MatchedBy,
    /// The call as written (first line).
    pub call: String,
    pub target: Target,
    pub dependency: String,
    pub path: CallPath,
    /// The enclosing function.
    pub function: Option<String>,
    pub guards: Vec<Guard>,
    /// Where each guard was seen.
    pub evidence: Vec<String>,
    pub missing: Vec<Guard>,
    /// The timeout's value in milliseconds, when it is a literal.
    pub timeout_ms: Option<u64>,
    pub score: f64,
    pub severity: Severity,
    #[serde(skip)]
    pub source: SourceLanguage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Guarded,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Guarded => "guarded",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The guards that matter for a category (a bounded pool only for pooled clients).
pub fn expected_guards(category: Category) -> Vec<Guard> {
    let mut g = vec![
        Guard::Timeout,
        Guard::Retry,
        Guard::CircuitBreaker,
        Guard::Fallback,
    ];
    if matches!(category, Category::Database | Category::Cache) {
        g.push(Guard::BoundedPool);
    }
    g
}

/// score = category weight × path weight × what is missing: no timeout 2, nothing handling
/// the failure (no retry, breaker nor fallback) 2, then 0.5 for each of retry, breaker,
/// pool missing. Severity: critical ≥ 30, high ≥ 15, medium ≥ 6, low > 0.
pub fn score(category: Category, path: CallPath, guards: &[Guard]) -> (f64, Severity, Vec<Guard>) {
    let missing: Vec<Guard> = expected_guards(category)
        .into_iter()
        .filter(|g| !guards.contains(g))
        .collect();
    let has = |g: Guard| guards.contains(&g);
    let mut m = 0.0;
    if !has(Guard::Timeout) {
        m += 2.0;
    }
    if !has(Guard::Retry) && !has(Guard::CircuitBreaker) && !has(Guard::Fallback) {
        m += 2.0;
    }
    for g in [Guard::Retry, Guard::CircuitBreaker, Guard::BoundedPool] {
        if missing.contains(&g) {
            m += 0.5;
        }
    }
    let s = category.weight() * path.weight() * m;
    let severity = match s {
        x if x >= 30.0 => Severity::Critical,
        x if x >= 15.0 => Severity::High,
        x if x >= 6.0 => Severity::Medium,
        x if x > 0.0 => Severity::Low,
        _ => Severity::Guarded,
    };
    (s, severity, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unguarded_request_path_call_to_a_database_ranks_first() {
        let (db, sev, _) = score(Category::Database, CallPath::Request, &[]);
        assert_eq!(sev, Severity::Critical);
        let (cache, _, _) = score(Category::Cache, CallPath::Request, &[]);
        let (worker, _, _) = score(Category::Database, CallPath::Worker, &[]);
        let (guarded, _, missing) = score(
            Category::Http,
            CallPath::Request,
            &[Guard::Timeout, Guard::Retry],
        );
        assert!(db > cache && db > worker && worker > guarded);
        assert_eq!(missing, vec![Guard::CircuitBreaker, Guard::Fallback]);
        let all = [
            Guard::Timeout,
            Guard::Retry,
            Guard::CircuitBreaker,
            Guard::Fallback,
        ];
        assert_eq!(
            score(Category::Http, CallPath::Request, &all).1,
            Severity::Guarded
        );
    }

    #[test]
    fn dependency_names() {
        assert_eq!(
            Target::Host("payments:8080".into()).dependency_name(Category::Http),
            "payments"
        );
        assert_eq!(
            Target::EnvVar("PAYMENTS_URL".into()).dependency_name(Category::Http),
            "payments"
        );
        assert_eq!(
            Target::Unknown.dependency_name(Category::Database),
            "database"
        );
    }
}

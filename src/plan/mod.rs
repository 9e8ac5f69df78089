//! The compiled plan: everything the interpreter needs, typed and in base units
//! (milliseconds, bytes, fractions), with the source location of each declaration so that
//! errors at run time can point back into the file.

pub mod analysis;
pub mod container_rules;
pub mod distribution;
pub mod history;
pub mod loaded_inputs;
pub mod probe_stat;
pub mod seed;

pub use analysis::{AnalysisPlan, AnalyzedDependency};
pub use distribution::Distribution;
pub use loaded_inputs::LoadedInputs;
pub use probe_stat::{LINK_METRICS, PROBE_METRICS, ProbeStat, ProbeStats, RESOURCE_METRICS};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a declaration came from: file, one-based line and column, byte range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub start: usize,
    pub end: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub experiment: ExperimentPlan,
    /// Resources in start order: every resource after the resources it depends on.
    pub resources: Vec<ResourcePlan>,
    pub links: Vec<LinkPlan>,
    pub dependencies: Vec<DependencyPlan>,
    pub faults: Vec<FaultPlan>,
    pub probes: Vec<ProbePlan>,
    pub telemetry: Vec<TelemetryPlan>,
    pub thresholds: Vec<ThresholdPlan>,
    pub predict: Option<PredictPlan>,
    pub patterns: Vec<PatternPlan>,
    pub mitigations: Vec<MitigationPlan>,
    pub remediations: Vec<RemediationPlan>,
    /// What the checker read from disk for the later stages (not serialized).
    #[serde(skip)]
    pub loaded: LoadedInputs,
    /// `analysis "src/"`: the failure points found in the application's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisPlan>,
}

impl Plan {
    pub fn resource(&self, name: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.name == name)
    }

    pub fn link(&self, name: &str) -> Option<&LinkPlan> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn fault(&self, name: &str) -> Option<&FaultPlan> {
        self.faults.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentPlan {
    pub name: String,
    pub duration_ms: f64,
    pub seed: u64,
    /// The history file, resolved against the scenario's folder.
    pub history: Option<PathBuf>,
    /// The scenario file this plan was compiled from.
    pub source: PathBuf,
    /// Warm-up before faults start, for a baseline of every probe.
    pub baseline_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub fn parse(text: &str) -> Option<Criticality> {
        Some(match text {
            "low" => Criticality::Low,
            "medium" => Criticality::Medium,
            "high" => Criticality::High,
            "critical" => Criticality::Critical,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePlan {
    pub name: String,
    pub target: ResourceTarget,
    /// A free-form type (`postgres`, `api`) matched against history and the knowledge base.
    pub resource_type: Option<String>,
    pub criticality: Criticality,
    pub ready: Option<CheckPlan>,
    pub health: Option<CheckPlan>,
    /// A standby is not started with the others; a mitigation can activate it.
    pub standby: bool,
    /// The process may exit or restart on its own during the run (`may_exit`): that is then
    /// reported but does not fail the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_exit: bool,
    /// The pfi agent (`host:port`) that applies this resource's container faults on its node,
    /// each under a lease the run renews; `None`: the run applies them through the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The agents as a Swarm global service (`agent_service "name"`): a task's faults go to
    /// the agent task on the task's node, at that node's address and the service's published
    /// port; a local task without one goes through the local engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_service: Option<String>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceTarget {
    Process {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
        /// Grace period between SIGTERM and SIGKILL at stop.
        stop_grace_ms: f64,
    },
    Container {
        name: String,
    },
    ContainerLabel {
        selector: String,
        pick: Pick,
    },
    Image {
        image: String,
        cmd: Vec<String>,
        env: BTreeMap<String, String>,
        ports: Vec<String>,
    },
    /// The running tasks of a Docker Swarm service (each a container on some node).
    Service {
        name: String,
        pick: Pick,
    },
    /// The running tasks of every Docker Swarm service carrying a label (`key=value`).
    ServiceLabel {
        selector: String,
        pick: Pick,
    },
}

impl ResourceTarget {
    /// The family used for fault-support checks.
    pub fn family(&self) -> TargetFamily {
        match self {
            ResourceTarget::Process { .. } => TargetFamily::Process,
            _ => TargetFamily::Container,
        }
    }
}

/// Which of the matched containers a fault acts on (its blast radius).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    All,
    Count(u32),
    Fraction(f64),
}

/// What a fault can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetFamily {
    Process,
    Container,
    TcpLink,
    HttpLink,
}

impl TargetFamily {
    pub fn describe(self) -> &'static str {
        match self {
            TargetFamily::Process => "a process",
            TargetFamily::Container => "a container",
            TargetFamily::TcpLink => "a tcp link",
            TargetFamily::HttpLink => "an http link",
        }
    }
}

/// A readiness or health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckPlan {
    pub check: CheckKind,
    /// How often (health) or how long to wait at most (readiness).
    pub interval_ms: f64,
    pub timeout_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    Http { url: String },
    Tcp { address: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkPlan {
    pub name: String,
    pub http: bool,
    pub listen: String,
    /// The upstream as written: `host:port`; `resource:port` when `upstream_resource` is set.
    pub upstream: String,
    pub upstream_resource: Option<String>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyPlan {
    pub from: String,
    pub to: String,
    pub via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub name: String,
    /// The fault kind keyword (`latency`, `pause`, ...).
    pub kind: String,
    /// The profile this fault was built from, if any.
    pub profile: Option<String>,
    pub target: String,
    pub target_family: TargetFamily,
    /// The kind's settings, typed and in base units.
    pub params: Params,
    pub arrival: Arrival,
    /// How long each activation lasts; `None` lasts until the end of the experiment.
    pub lasting: Option<Distribution>,
    /// Each arrival fires with this probability.
    pub probability: f64,
    pub at: Location,
}

/// A fault's settings by name, in name order (as a map in JSON).
///
/// A sorted vector rather than a `BTreeMap`: a fault has a handful of settings, and a
/// `BTreeMap` with one entry allocates a whole node (about 1 KiB here), which made up a tenth
/// of `pfi check`'s memory on the 20,000-fault benchmark.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params(Vec<(String, Value)>);

impl Params {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.find(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Sets `name`, returning its previous value.
    pub fn insert(&mut self, name: String, value: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// The settings in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut params = Params::default();
        for (k, v) in iter {
            params.insert(k.into(), v);
        }
        params
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, Value>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// A typed setting value in base units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// Milliseconds, possibly random.
    Duration(Distribution),
    /// Bytes.
    Size(f64),
    /// Bytes per second.
    Bandwidth(f64),
    /// A fraction in [0, 1].
    Fraction(f64),
    Number(f64),
    Integer(i64),
    Text(String),
    Word(String),
}

impl Value {
    pub fn describe(&self) -> String {
        match self {
            Value::Duration(d) => describe_distribution(d, "ms"),
            Value::Size(b) => format!("{} bytes", trim(*b)),
            Value::Bandwidth(b) => format!("{} bytes/s", trim(*b)),
            Value::Fraction(f) => format!("{}%", trim(f * 100.0)),
            Value::Number(n) => trim(*n),
            Value::Integer(i) => i.to_string(),
            Value::Text(s) => format!("{s:?}"),
            Value::Word(w) => w.clone(),
        }
    }
}

/// A short human description of a distribution whose values are in `unit` ("ms" values are
/// printed as durations).
pub fn describe_distribution(d: &Distribution, unit: &str) -> String {
    let q = |v: f64| {
        if unit == "ms" {
            format_duration(v)
        } else {
            format!("{}{unit}", trim(v))
        }
    };
    match d {
        Distribution::Fixed { value } => q(*value),
        Distribution::Uniform { min, max } => format!("uniform({}, {})", q(*min), q(*max)),
        Distribution::Normal { mean, sd } => format!("normal({}, {})", q(*mean), q(*sd)),
        Distribution::LogNormal { median, sigma } => {
            format!("lognormal({}, {})", q(*median), trim(*sigma))
        }
        Distribution::Exponential { mean } => format!("exponential({})", q(*mean)),
        Distribution::Pareto { scale, shape } => format!("pareto({}, {})", q(*scale), trim(*shape)),
        Distribution::Weibull { scale, shape } => {
            format!("weibull({}, {})", q(*scale), trim(*shape))
        }
        Distribution::Empirical { source, values } => {
            format!("empirical({source}, {} values)", values.len())
        }
    }
}

/// A duration in milliseconds as a person writes it: `250ms`, `1.5s`, `2m`, `1m30s`.
pub fn format_duration(ms: f64) -> String {
    if ms < 1000.0 {
        return format!("{}ms", trim(ms));
    }
    let s = ms / 1000.0;
    if s < 60.0 || (s.fract() != 0.0 && s < 600.0) {
        return format!("{}s", trim(s));
    }
    let whole = s.round() as u64;
    let (h, m, sec) = (whole / 3600, (whole % 3600) / 60, whole % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

/// Formats a number without a trailing `.0` and with at most 3 decimals.
pub fn trim(x: f64) -> String {
    let s = format!("{:.3}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrival {
    /// At fixed times (ms from the start of the experiment).
    At { times_ms: Vec<f64> },
    /// Repeatedly, with intervals drawn from `interval` (ms); a Poisson process when the
    /// interval is exponential.
    Every {
        interval: Distribution,
        from_ms: f64,
        until_ms: Option<f64>,
    },
    /// After an event: another fault's start or end, or a resource becoming ready.
    After { event: EventRef, delay_ms: f64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub name: String,
    pub event: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Start,
    End,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePlan {
    pub name: String,
    pub check: ProbeCheck,
    pub interval_ms: f64,
    pub timeout_ms: f64,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeCheck {
    Http {
        method: String,
        url: String,
        /// Expected status; `None` accepts any 2xx.
        expect_status: Option<u16>,
        /// Text the response body must contain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_body: Option<String>,
        headers: Vec<(String, String)>,
        body: Option<String>,
    },
    Tcp {
        address: String,
    },
    Command {
        argv: Vec<String>,
        expect_exit: i32,
        /// Text the standard output must contain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_stdout: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryPlan {
    pub name: String,
    /// `prometheus` (scrape a metrics page) or `promql` (query a Prometheus server).
    pub kind: String,
    pub url: String,
    pub interval_ms: f64,
    /// The PromQL expression of a `promql` source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub at: Location,
}

/// `source.metric` as written, with the kind of thing the source is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRef {
    pub source: String,
    pub source_kind: SourceKind,
    pub metric: String,
}

impl std::fmt::Display for MetricRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.source, self.metric)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Probe,
    Resource,
    Link,
    Telemetry,
    /// A parameter of a reusable pattern, bound when the pattern is instantiated.
    Param,
}

/// The unit a metric is measured in (and a threshold's value converted to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricUnit {
    Milliseconds,
    Fraction,
    Bytes,
    Count,
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Comparator {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparator::Lt => left < right,
            Comparator::Le => left <= right,
            Comparator::Gt => left > right,
            Comparator::Ge => left >= right,
            Comparator::Eq => left == right,
            Comparator::Ne => left != right,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Eq => "==",
            Comparator::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdPlan {
    /// The threshold as written, e.g. `checkout.p99 < 400ms`.
    pub text: String,
    pub metric: MetricRef,
    pub unit: MetricUnit,
    pub op: Comparator,
    /// The limit in the metric's unit.
    pub value: f64,
    /// Judge over trailing windows of this length instead of the whole run.
    pub window_ms: Option<f64>,
    /// Judge only while this fault is active.
    pub during: Option<String>,
    /// A stop condition: revert everything and end the run when it fails.
    pub abort: bool,
    /// A predicted stop condition (`abort predicted within 30s`): revert everything and end the
    /// run when the forecast says the threshold fails within this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_predicted_ms: Option<f64>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConditionPlan {
    Compare {
        metric: MetricRef,
        op: Comparator,
        value: f64,
    },
    Trend {
        metric: MetricRef,
        trend: Trend,
    },
    Not {
        inner: Box<ConditionPlan>,
    },
    All {
        all: Vec<ConditionPlan>,
    },
    Any {
        any: Vec<ConditionPlan>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Falling,
    Flat,
    Anomalous,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictPlan {
    pub watch: Vec<MetricRef>,
    pub detector: DetectorPlan,
    /// Minimum confidence for a prediction to be acted on.
    pub confidence: f64,
    /// Patterns to use: the names of top-level patterns plus the block's own.
    pub patterns: Vec<String>,
    pub interval_ms: f64,
    /// `horizon 2m`: predict only when a limit is expected to be reached within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_ms: Option<f64>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorPlan {
    pub name: String,
    pub params: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternPlan {
    pub name: String,
    pub params: Vec<String>,
    pub condition: ConditionPlan,
    /// The fault kind this pattern predicts (defaults to the pattern's name).
    pub predicts: String,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MitigationPlan {
    pub trigger: TriggerPlan,
    pub actions: Vec<ActionPlan>,
    /// Minimum time between two firings of this rule.
    pub cooldown_ms: f64,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TriggerPlan {
    /// A prediction of this fault kind (`any` for every prediction).
    Predicted {
        fault_kind: String,
    },
    When {
        condition: ConditionPlan,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionPlan {
    /// Raise (or set) a resource's cpu (cores) or memory (bytes) limit.
    Scale {
        resource: String,
        what: String,
        amount: f64,
        relative: bool,
    },
    /// Start a standby resource.
    Activate {
        resource: String,
    },
    /// Point a link's upstream somewhere else.
    Shift {
        link: String,
        to: String,
    },
    /// Inject a less severe version of the predicted (or named) fault.
    Rehearse {
        fault: Option<String>,
        severity: f64,
    },
    Restart {
        resource: String,
    },
    Alert {
        message: String,
        webhook: Option<String>,
    },
    Script {
        path: PathBuf,
        timeout_ms: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationPlan {
    pub mode: String,
    pub text: String,
    pub script: Option<PathBuf>,
}

#[cfg(test)]
mod params_tests {
    use super::{Params, Value};

    #[test]
    fn params_keep_name_order_replace_and_read_back_as_a_json_map() {
        let mut p: Params = [
            ("rate", Value::Fraction(0.5)),
            ("delay", Value::Number(3.0)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            p.insert("rate".into(), Value::Fraction(0.25)),
            Some(Value::Fraction(0.5))
        );
        assert_eq!(p.insert("body".into(), Value::Text("x".into())), None);
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["body", "delay", "rate"]);
        assert_eq!(p.get("rate"), Some(&Value::Fraction(0.25)));
        assert!(p.get("missing").is_none() && p.contains_key("delay") && p.len() == 3);
        if let Some(Value::Number(d)) = p.get_mut("delay") {
            *d = 4.0;
        }
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"body":{"type":"text","value":"x"},"delay":{"type":"number","value":4.0},"rate":{"type":"fraction","value":0.25}}"#
        );
        assert_eq!(serde_json::from_str::<Params>(&json).unwrap(), p);
    }
}

//! The typed syntax tree of a .pfi file. Every node keeps its span; equality ignores spans so
//! that tests can compare trees built from differently laid-out text.

use crate::diagnostic::Span;
use serde::Serialize;
use std::fmt;

/// A node with the span of the text it was built from.
#[derive(Clone, Serialize)]
pub struct Spanned<T> {
    pub node: T,
    #[serde(skip)]
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.node
    }
}

pub type Ident = Spanned<String>;

/// A whole file: its declarations in source order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
/// Each declaration is boxed: a big scenario's item list stays small (16 bytes an item) and
/// cheap to move, and no item pays for the largest kind's size.
pub enum Item {
    Import(Box<Import>),
    Analysis(Box<Analysis>),
    Experiment(Box<Experiment>),
    Resource(Box<Resource>),
    Link(Box<Link>),
    Dependency(Box<Dependency>),
    Fault(Box<Fault>),
    Profile(Box<Profile>),
    Probe(Box<Probe>),
    Telemetry(Box<Telemetry>),
    Threshold(Box<Threshold>),
    Predict(Box<Predict>),
    Pattern(Box<Pattern>),
    Mitigate(Box<Mitigate>),
    Remediation(Box<Remediation>),
}

impl Item {
    /// The span of the whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Item::Import(x) => x.span,
            Item::Analysis(x) => x.span,
            Item::Experiment(x) => x.span,
            Item::Resource(x) => x.span,
            Item::Link(x) => x.span,
            Item::Dependency(x) => x.span,
            Item::Fault(x) => x.span,
            Item::Profile(x) => x.span,
            Item::Probe(x) => x.span,
            Item::Telemetry(x) => x.span,
            Item::Threshold(x) => x.span,
            Item::Predict(x) => x.span,
            Item::Pattern(x) => x.span,
            Item::Mitigate(x) => x.span,
            Item::Remediation(x) => x.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Import {
    pub path: Spanned<String>,
    #[serde(skip)]
    pub span: Span,
}

/// `analysis "src/"`: a source folder whose outbound calls feed the fault injection profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub path: Spanned<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    pub name: Spanned<String>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub name: Ident,
    pub kind: Spanned<ResourceKind>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A local process, from its argv (never a shell string).
    Process { argv: Vec<Spanned<String>> },
    /// An existing container, by name or id.
    Container { name: Spanned<String> },
    /// Existing containers selected by a label (`key=value`).
    ContainerLabel { selector: Spanned<String> },
    /// A container pfi creates from an image for the run and removes after it.
    Image { image: Spanned<String> },
    /// The running tasks of a Docker Swarm service, by the service's name or id.
    Service { name: Spanned<String> },
    /// The running tasks of every Docker Swarm service carrying a label (`key=value`).
    ServiceLabel { selector: Spanned<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub name: Ident,
    pub kind: Spanned<LinkKind>,
    pub listen: Spanned<Address>,
    pub upstream: Spanned<Address>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Tcp,
    Http,
}

/// `host:port`, where the host may be a resource name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub host: String,
    pub port: Spanned<String>,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port.node)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dependency {
    pub from: Ident,
    pub to: Vec<Ident>,
    pub via: Option<Ident>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub name: Ident,
    /// A fault kind (`latency`) or a profile name (`std_slow_network`).
    pub kind: Ident,
    pub target: Ident,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

/// A reusable fault template: a kind with default settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: Ident,
    pub kind: Ident,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub name: Ident,
    pub kind: Spanned<ProbeKind>,
    /// Inline settings (`every 250ms timeout 1s`) followed by the block's settings.
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    Http {
        method: Option<Spanned<String>>,
        url: Spanned<String>,
    },
    Tcp {
        address: Spanned<Address>,
    },
    Command {
        argv: Vec<Spanned<String>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telemetry {
    pub name: Ident,
    pub kind: Ident,
    pub url: Spanned<String>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    pub comparison: Spanned<Comparison>,
    pub over: Option<Spanned<Term>>,
    pub during: Option<Ident>,
    pub abort: bool,
    /// `abort predicted within 30s`: the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_predicted: Option<Spanned<Term>>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub metric: Spanned<Vec<String>>,
    pub op: Spanned<CmpOp>,
    pub value: Spanned<Term>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    pub fn parse(text: &str) -> Option<CmpOp> {
        Some(match text {
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predict {
    pub settings: Block,
    pub patterns: Vec<Pattern>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    pub name: Ident,
    /// Resource parameters of a reusable pattern (`pattern memory_leak(r) when r.memory rising`).
    pub params: Vec<Ident>,
    pub condition: Spanned<Condition>,
    pub predicts: Option<Ident>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Compare(Comparison),
    Trend {
        metric: Spanned<Vec<String>>,
        trend: Spanned<TrendWord>,
    },
    Not(Box<Spanned<Condition>>),
    And(Vec<Spanned<Condition>>),
    Or(Vec<Spanned<Condition>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendWord {
    Rising,
    Falling,
    Flat,
    Anomalous,
}

impl TrendWord {
    pub fn as_str(self) -> &'static str {
        match self {
            TrendWord::Rising => "rising",
            TrendWord::Falling => "falling",
            TrendWord::Flat => "flat",
            TrendWord::Anomalous => "anomalous",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mitigate {
    pub trigger: Spanned<Trigger>,
    pub actions: Block,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Predicted(Ident),
    When(Spanned<Condition>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remediation {
    pub mode: Ident,
    pub text: Spanned<String>,
    pub settings: Block,
    #[serde(skip)]
    pub span: Span,
}

/// The settings of a `{ ... }` block, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Block {
    pub settings: Vec<Setting>,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// `key term term, term` on one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    pub key: Ident,
    pub terms: Vec<Spanned<Term>>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// A number with an optional unit suffix, as written (`120ms`, `5%`, `0.8`, `3/m`).
    Quantity {
        value: f64,
        unit: Option<String>,
    },
    String(String),
    Ident(String),
    Path(Vec<String>),
    Address(Address),
    List(Vec<Spanned<Term>>),
    /// `normal(120ms, 40ms)`, `ewma(alpha 0.3)`: each argument is a run of terms.
    Call {
        name: Ident,
        args: Vec<Spanned<Vec<Spanned<Term>>>>,
    },
    Op(String),
}

impl Term {
    /// A short description for diagnostics ("a duration", "a string").
    pub fn describe(&self) -> String {
        match self {
            Term::Quantity { unit: None, .. } => "a number".into(),
            Term::Quantity { unit: Some(u), .. } => format!("a quantity in `{u}`"),
            Term::String(_) => "a string".into(),
            Term::Ident(i) => format!("the name `{i}`"),
            Term::Path(p) => format!("`{}`", p.join(".")),
            Term::Address(a) => format!("the address `{a}`"),
            Term::List(_) => "a list".into(),
            Term::Call { name, .. } => format!("`{}(...)`", name.node),
            Term::Op(o) => format!("`{o}`"),
        }
    }
}

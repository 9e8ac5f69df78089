//! What a fault kind declares about its settings: each setting's name, the type of its value
//! and whether it is required. The checker reads these specs to check a fault's settings and
//! turn them into typed [`crate::plan::Value`]s; the kind's `build` then reads them back
//! through [`super::Settings`].

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueType {
    /// A duration that may be random (`120ms`, `normal(120ms, 40ms)`).
    DurationDist,
    /// A fixed, non-negative duration (`500ms`), in milliseconds.
    Duration,
    /// A non-negative size (`64MiB`), in bytes.
    Size,
    /// A non-negative bandwidth (`1MiB/s`), in bytes per second.
    Bandwidth,
    /// A plain number greater than 0 (`0.5` cores).
    Positive,
    /// A probability (`50%`, `0.5`).
    Probability,
    /// A whole number in a range (both ends included).
    Integer(i64, i64),
    /// One of a set of words.
    Word(&'static [&'static str]),
    /// A string.
    Text,
}

impl ValueType {
    /// An example value, for "missing setting" help.
    pub fn example(self) -> &'static str {
        match self {
            ValueType::DurationDist => "normal(120ms, 40ms)",
            ValueType::Duration => "500ms",
            ValueType::Size => "64MiB",
            ValueType::Bandwidth => "1MiB/s",
            ValueType::Positive => "0.5",
            ValueType::Probability => "50%",
            ValueType::Integer(min, _) if min >= 100 => "503",
            ValueType::Integer(..) => "1",
            ValueType::Word(choices) => match choices.first() {
                Some(first) => first,
                None => "x",
            },
            ValueType::Text => "\"...\"",
        }
    }
}

/// One setting of a fault kind.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub name: &'static str,
    pub ty: ValueType,
    pub required: bool,
}

/// A required setting.
pub const fn req(name: &'static str, ty: ValueType) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: true,
    }
}

/// An optional setting.
pub const fn opt(name: &'static str, ty: ValueType) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: false,
    }
}

/// Which way a link toxic acts (default: downstream on tcp links, upstream on http links).
pub const DIRECTION: SettingSpec = opt(
    "direction",
    ValueType::Word(&["upstream", "downstream", "both"]),
);
/// The probability that a link toxic applies to a connection (or an HTTP request).
pub const TOXICITY: SettingSpec = opt("toxicity", ValueType::Probability);
/// HTTP toxics: only requests with this method.
pub const METHOD: SettingSpec = opt("method", ValueType::Text);
/// HTTP toxics: only requests whose path starts with this.
pub const PATH: SettingSpec = opt("path", ValueType::Text);
/// HTTP toxics: only requests carrying this header (`"Name"` or `"Name: value"`).
pub const HEADER: SettingSpec = opt("header", ValueType::Text);
/// `stop`, `restart`: how long the target has to exit before SIGKILL.
pub const GRACE: SettingSpec = opt("grace", ValueType::Duration);

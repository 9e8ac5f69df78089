//! `Settings`: a planned fault's checked settings, read back typed by its kind's `build`,
//! with the helpers every kind shares: wrapping a process/container fault for the target's
//! family, and installing a toxic on a link with its direction, toxicity and HTTP filter.

use super::Fault;
use super::fault_action::FaultAction;
use crate::plan::{Distribution, FaultPlan, TargetFamily, Value};
use crate::proxy::{HttpMatch, Stream, Toxic, ToxicConfig};
use std::sync::Arc;
use std::time::Duration;

/// The settings of one planned fault, for its kind's `build`.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    fault: &'a FaultPlan,
    toxic_name: &'a str,
}

impl<'a> Settings<'a> {
    /// The settings of `fault`; a toxic it installs is named `toxic_name` on its link.
    pub fn new(fault: &'a FaultPlan, toxic_name: &'a str) -> Settings<'a> {
        Settings { fault, toxic_name }
    }

    /// The family of the fault's target.
    pub fn family(&self) -> TargetFamily {
        self.fault.target_family
    }

    /// Whether the target is an HTTP link.
    pub fn is_http(&self) -> bool {
        self.fault.target_family == TargetFamily::HttpLink
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        self.fault.params.get(name)
    }

    /// A numeric setting in its base unit (ms, bytes, bytes/s, a fraction); a random
    /// duration gives its mean.
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.value(name)? {
            Value::Size(x) | Value::Bandwidth(x) | Value::Fraction(x) | Value::Number(x) => {
                Some(*x)
            }
            Value::Integer(i) => Some(*i as f64),
            Value::Duration(d) => Some(d.mean()),
            Value::Text(_) | Value::Word(_) => None,
        }
    }

    /// A numeric setting the kind requires.
    pub fn required(&self, name: &str) -> Result<f64, String> {
        self.number(name)
            .ok_or_else(|| format!("needs a numeric `{name}`"))
    }

    /// A non-negative whole number (a size in bytes, a status code...), rounded.
    pub fn whole(&self, name: &str) -> Option<u64> {
        self.number(name).map(|x| x.max(0.0).round() as u64)
    }

    /// A required non-negative whole number.
    pub fn required_whole(&self, name: &str) -> Result<u64, String> {
        self.required(name).map(|x| x.max(0.0).round() as u64)
    }

    /// A duration setting in whole milliseconds (0 when absent).
    pub fn millis(&self, name: &str) -> u64 {
        self.whole(name).unwrap_or(0)
    }

    /// A duration setting, when given.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        self.number(name)
            .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }

    /// A duration setting that may be random.
    pub fn distribution(&self, name: &str) -> Option<&'a Distribution> {
        match self.value(name)? {
            Value::Duration(d) => Some(d),
            _ => None,
        }
    }

    /// A text or word setting.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        match self.value(name)? {
            Value::Text(text) | Value::Word(text) => Some(text),
            _ => None,
        }
    }

    /// A process or container fault, for the target's family.
    pub fn on_target(&self, fault: impl Fault + 'static) -> Result<FaultAction, String> {
        match self.family() {
            TargetFamily::Process => Ok(FaultAction::Process(Box::new(fault))),
            TargetFamily::Container => Ok(FaultAction::Container(Box::new(fault))),
            TargetFamily::TcpLink | TargetFamily::HttpLink => {
                Err(format!("`{}` cannot act on a link", self.fault.kind))
            }
        }
    }

    /// A toxic installed on the link, with the fault's `direction` (default: downstream on
    /// a tcp link, upstream on an http link, where it acts on the request) and `toxicity`.
    pub fn toxic(&self, toxic: impl Toxic) -> Result<FaultAction, String> {
        let toxicity = self.number("toxicity").unwrap_or(1.0);
        self.toxic_with(Arc::new(toxic), toxicity)
    }

    /// A toxic with an explicit toxicity (HTTP kinds take theirs from `rate`).
    pub fn toxic_with(&self, toxic: Arc<dyn Toxic>, toxicity: f64) -> Result<FaultAction, String> {
        if !matches!(
            self.family(),
            TargetFamily::TcpLink | TargetFamily::HttpLink
        ) {
            return Err(format!("`{}` acts on links only", self.fault.kind));
        }
        let stream = match self.text("direction") {
            Some(direction) => direction.parse::<Stream>().map_err(|err| err.0)?,
            None if self.is_http() => Stream::Upstream,
            None => Stream::Downstream,
        };
        Ok(FaultAction::Toxic(ToxicConfig {
            name: self.toxic_name.to_string(),
            stream,
            toxicity,
            toxic,
        }))
    }

    /// The HTTP request filter of the fault (`method`, `path`, `header`).
    pub fn http_match(&self) -> Result<HttpMatch, String> {
        HttpMatch::parse(self.text("method"), self.text("path"), self.text("header"))
            .map_err(|err| err.0)
    }
}

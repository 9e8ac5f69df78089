//! `Effect`: what a fault was seen to do once applied. Each kind checks its own effect right
//! after applying (a paused process is in state T, a stopped container is not running, a cut
//! container is off its networks...); a toxic's is read from its counters when it is
//! removed. The run records the faults that had no observable effect, and says so.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", content = "detail", rename_all = "snake_case")]
pub enum Effect {
    /// Checked and seen: what was observed.
    Observed(String),
    /// Checked and not seen: why the fault had no observable effect.
    NoEffect(String),
    /// This kind does not check its effect on this target.
    Unchecked,
}

impl Effect {
    /// Why the fault had no observable effect, if it had none.
    pub fn no_effect(&self) -> Option<&str> {
        match self {
            Effect::NoEffect(reason) => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Observed(what) => write!(f, "observed: {what}"),
            Effect::NoEffect(why) => write!(f, "no observable effect: {why}"),
            Effect::Unchecked => f.write_str("not checked"),
        }
    }
}

//! Mitigation: the hardened rhai sandbox that runs users' scripts (mitigation actions and
//! remediation scripts), with a capability API onto this run's metrics, predictions and
//! mitigation actions, and nothing else; and the mitigation engine (`engine.rs`).

pub mod actions;
pub mod engine;
pub mod host;
pub mod sandbox;

pub use engine::{Actions, Firing, ManualFiring, MitigationEngine, MitigationLog, Performed, Undo};
pub use host::{Host, StoreHost};
pub use sandbox::{Limits, Sandbox, ScriptError, compile_check};

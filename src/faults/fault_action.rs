//! `FaultAction`: what one planned fault does when it is applied, built by its kind from its
//! typed settings: a fault on a process or on the containers a resource selected, or a toxic
//! installed on a link. `FaultAction::build` (the kind looked up in the table) is in
//! `kinds.rs`, beside the table's other look-ups, so this file needs nothing of `Settings`.

use super::Fault;
use crate::proxy::ToxicConfig;

#[derive(Debug)]
pub enum FaultAction {
    Process(Box<dyn Fault>),
    /// Applied to every container the resource selected.
    Container(Box<dyn Fault>),
    Toxic(ToxicConfig),
}

//! `FaultAction`: what one planned fault does when it is applied, built by its kind from its
//! typed settings: a fault on a process or on the containers a resource selected, or a toxic
//! installed on a link.

use super::Fault;
use super::kinds::kind;
use super::settings::Settings;
use crate::plan::FaultPlan;
use crate::proxy::ToxicConfig;

#[derive(Debug)]
pub enum FaultAction {
    Process(Box<dyn Fault>),
    /// Applied to every container the resource selected.
    Container(Box<dyn Fault>),
    Toxic(ToxicConfig),
}

impl FaultAction {
    /// Builds the action of `fault` through its kind; `toxic_name` names the toxic on its
    /// link.
    pub fn build(fault: &FaultPlan, toxic_name: &str) -> Result<FaultAction, String> {
        let kind = kind(&fault.kind)
            .ok_or_else(|| format!("fault `{}`: unknown kind `{}`", fault.name, fault.kind))?;
        if !kind.targets().contains(&fault.target_family) {
            return Err(format!(
                "fault `{}`: `{}` cannot act on {}",
                fault.name,
                fault.kind,
                fault.target_family.describe()
            ));
        }
        kind.build(&Settings::new(fault, toxic_name))
            .map_err(|err| format!("fault `{}`: {err}", fault.name))
    }
}

//! `FaultTarget`: what a fault acts on, a process or a container.

use crate::targets::{ContainerTarget, ProcessTarget};

#[derive(Debug, Clone)]
pub enum FaultTarget {
    Process(ProcessTarget),
    Container(ContainerTarget),
}

impl FaultTarget {
    /// The process resource's name, or the container's name.
    pub fn name(&self) -> &str {
        match self {
            FaultTarget::Process(process) => process.name(),
            FaultTarget::Container(container) => container.name(),
        }
    }

    pub fn as_process(&self) -> Option<&ProcessTarget> {
        match self {
            FaultTarget::Process(process) => Some(process),
            FaultTarget::Container(_) => None,
        }
    }

    pub fn as_container(&self) -> Option<&ContainerTarget> {
        match self {
            FaultTarget::Container(container) => Some(container),
            FaultTarget::Process(_) => None,
        }
    }
}

impl From<ProcessTarget> for FaultTarget {
    fn from(process: ProcessTarget) -> FaultTarget {
        FaultTarget::Process(process)
    }
}

impl From<&ProcessTarget> for FaultTarget {
    fn from(process: &ProcessTarget) -> FaultTarget {
        FaultTarget::Process(process.clone())
    }
}

impl From<ContainerTarget> for FaultTarget {
    fn from(container: ContainerTarget) -> FaultTarget {
        FaultTarget::Container(container)
    }
}

impl From<&ContainerTarget> for FaultTarget {
    fn from(container: &ContainerTarget) -> FaultTarget {
        FaultTarget::Container(container.clone())
    }
}

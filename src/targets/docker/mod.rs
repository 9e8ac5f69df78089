//! Docker containers as targets, through the engine's API (bollard); the only module that
//! talks to it. Containers are found by name, id or label with a seeded blast radius, or
//! created from an image for a run and removed after it.

mod container_info;
mod container_limits;
mod container_lookup;
mod container_ref;
mod container_selector;
mod container_spec;
mod container_target;
mod docker_engine;
mod docker_error;
mod network_attachment;
mod stats_reading;
mod swarm_service;
mod swarm_tasks;

pub use container_info::{ContainerInfo, ContainerStatus};
pub use container_limits::{
    ContainerLimits, DEFAULT_BLKIO_WEIGHT, DEFAULT_CPU_PERIOD_US, UNLIMITED_MEMORY,
};
pub use container_ref::ContainerRef;
pub use container_selector::{ContainerSelector, pick_indices, plan_selection, validate_pick};
pub use container_spec::{ContainerSpec, PortMapping, RESOURCE_LABEL, RUN_LABEL};
pub use container_target::{ContainerTarget, CpuCounters, StatsStream};
pub use docker_engine::{DockerEngine, Removal};
pub use docker_error::DockerError;
pub use network_attachment::NetworkAttachment;
pub use stats_reading::StatsReading;
pub use swarm_service::{
    NodeAvailability, SERVICE_NAME_LABEL, ServiceLimits, SwarmService, SwarmTask,
};
pub use swarm_tasks::{PlacedTask, SwarmTasks};

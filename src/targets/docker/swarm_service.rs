//! `SwarmService`: a Docker Swarm service, through the manager's API: its replicas, its
//! resource limits, its running tasks (each a container on some node), and the node this
//! engine is. Changes are written with the service's version, so a concurrent update is
//! refused rather than overwritten.

use super::docker_engine::DockerEngine;
use super::docker_error::{DockerError, Object};
use bollard::models::{Limit, NodeSpecAvailabilityEnum, ServiceSpec, TaskSpecResources, TaskState};
use bollard::query_parameters::{ListTasksOptions, UpdateNodeOptions, UpdateServiceOptions};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The label the engine puts on every task container: the service's name.
pub const SERVICE_NAME_LABEL: &str = "com.docker.swarm.service.name";

/// A service's CPU and memory limits (`None`: not limited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<i64>,
}

impl ServiceLimits {
    pub fn describe(&self) -> String {
        let cpus = self
            .nano_cpus
            .filter(|n| *n > 0)
            .map_or("no CPU limit".to_string(), |n| {
                format!("{:.2} CPUs", n as f64 / 1e9)
            });
        let memory = self
            .memory_bytes
            .filter(|n| *n > 0)
            .map_or("no memory limit".to_string(), |n| format!("{n} bytes"));
        format!("{cpus}, {memory}")
    }
}

/// A running task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub container_id: Option<String>,
    pub node_id: Option<String>,
}

/// A service known by name or id.
#[derive(Clone)]
pub struct SwarmService {
    engine: DockerEngine,
    name: String,
}

impl SwarmService {
    pub fn new(engine: &DockerEngine, name: &str) -> SwarmService {
        SwarmService {
            engine: engine.clone(),
            name: name.to_string(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn inspect(&self) -> Result<(ServiceSpec, i32), DockerError> {
        self.engine.count();
        let service = self
            .engine
            .client()
            .inspect_service(&self.name, None)
            .await
            .map_err(|err| {
                self.engine
                    .error(err, "inspect", Object::Service(&self.name))
            })?;
        let version = service.version.and_then(|v| v.index).unwrap_or_default() as i32;
        let spec = service.spec.ok_or_else(|| self.invalid("it has no spec"))?;
        Ok((spec, version))
    }

    fn invalid(&self, reason: &str) -> DockerError {
        DockerError::Engine {
            action: "read",
            object: format!("service `{}`", self.name),
            status: 0,
            message: reason.to_string(),
        }
    }

    async fn update(&self, spec: ServiceSpec, version: i32) -> Result<(), DockerError> {
        self.engine.count();
        let options = UpdateServiceOptions {
            version,
            ..Default::default()
        };
        self.engine
            .client()
            .update_service(&self.name, spec, options, None)
            .await
            .map_err(|err| {
                self.engine
                    .error(err, "update", Object::Service(&self.name))
            })?;
        Ok(())
    }

    /// The replicas the service asks for (`None`: a global service).
    pub async fn replicas(&self) -> Result<Option<u64>, DockerError> {
        let (spec, _) = self.inspect().await?;
        Ok(spec
            .mode
            .and_then(|mode| mode.replicated)
            .map(|replicated| replicated.replicas.unwrap_or(1).max(0) as u64))
    }

    /// Asks for `replicas` tasks.
    pub async fn scale(&self, replicas: u64) -> Result<(), DockerError> {
        let (mut spec, version) = self.inspect().await?;
        let Some(replicated) = spec.mode.as_mut().and_then(|m| m.replicated.as_mut()) else {
            return Err(self.invalid("it is a global service, it cannot be scaled"));
        };
        replicated.replicas = Some(replicas as i64);
        self.update(spec, version).await
    }

    /// The first port it publishes (the agents' global service publishes its API port in
    /// host mode: each node's agent at that node's address and this port).
    pub async fn published_port(&self) -> Result<Option<u16>, DockerError> {
        let (spec, _) = self.inspect().await?;
        Ok(spec
            .endpoint_spec
            .and_then(|e| e.ports)
            .unwrap_or_default()
            .into_iter()
            .find_map(|p| p.published_port.and_then(|n| u16::try_from(n).ok())))
    }

    /// Its CPU and memory limits.
    pub async fn limits(&self) -> Result<ServiceLimits, DockerError> {
        let (spec, _) = self.inspect().await?;
        let limit = spec
            .task_template
            .and_then(|t| t.resources)
            .and_then(|r| r.limits)
            .unwrap_or_default();
        Ok(ServiceLimits {
            nano_cpus: limit.nano_cpus.filter(|n| *n > 0),
            memory_bytes: limit.memory_bytes.filter(|n| *n > 0),
        })
    }

    /// Sets its CPU and memory limits (the engine replaces its tasks to apply them).
    pub async fn set_limits(&self, limits: &ServiceLimits) -> Result<(), DockerError> {
        let (mut spec, version) = self.inspect().await?;
        let template = spec.task_template.get_or_insert_with(Default::default);
        let resources = template
            .resources
            .get_or_insert_with(TaskSpecResources::default);
        let previous = resources.limits.clone().unwrap_or_default();
        resources.limits = Some(Limit {
            nano_cpus: limits.nano_cpus,
            memory_bytes: limits.memory_bytes,
            ..previous
        });
        self.update(spec, version).await
    }

    /// Its tasks whose desired state is `running`, whatever their state now.
    async fn tasks_meant_to_run(&self) -> Result<Vec<bollard::models::Task>, DockerError> {
        self.engine.count();
        let options = ListTasksOptions {
            filters: Some(HashMap::from([
                ("service".to_string(), vec![self.name.clone()]),
                ("desired-state".to_string(), vec!["running".to_string()]),
            ])),
        };
        let tasks = self
            .engine
            .client()
            .list_tasks(Some(options))
            .await
            .map_err(|err| {
                self.engine
                    .error(err, "list the tasks of", Object::Service(&self.name))
            })?;
        Ok(tasks)
    }

    /// How many of its tasks meant to run are still `starting` (a task whose service has a
    /// healthcheck stays `starting` until its first check passes).
    pub async fn starting_tasks(&self) -> Result<usize, DockerError> {
        let tasks = self.tasks_meant_to_run().await?;
        Ok(tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::STARTING))
            .count())
    }

    /// Its tasks that are running now (and meant to be).
    pub async fn running_tasks(&self) -> Result<Vec<SwarmTask>, DockerError> {
        let tasks = self.tasks_meant_to_run().await?;
        Ok(tasks
            .into_iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
            .filter_map(|t| {
                Some(SwarmTask {
                    id: t.id?,
                    container_id: t
                        .status
                        .and_then(|s| s.container_status)
                        .and_then(|c| c.container_id),
                    node_id: t.node_id,
                })
            })
            .collect())
    }

    /// Whether the service runs as many tasks as it asks for (a global service: at least one).
    pub async fn converged(&self) -> Result<(bool, usize, Option<u64>), DockerError> {
        let wanted = self.replicas().await?;
        let running = self.running_tasks().await?.len();
        let ok = match wanted {
            Some(n) => running as u64 == n,
            None => running > 0,
        };
        Ok((ok, running, wanted))
    }

    /// Waits until the service has converged (see [`SwarmService::converged`]), up to
    /// `timeout`; how long that took.
    pub async fn wait_converged(&self, timeout: Duration) -> Result<Duration, DockerError> {
        let started = Instant::now();
        loop {
            let (ok, running, wanted) = self.converged().await?;
            if ok {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                let starting = match self.starting_tasks().await? {
                    0 => String::new(),
                    n => format!(
                        " ({n} starting: a task stays `starting` until its healthcheck passes)"
                    ),
                };
                return Err(self.invalid(&format!(
                    "{running} task(s) running after {:.1} s, {} wanted{starting}",
                    timeout.as_secs_f64(),
                    wanted.map_or("at least one".to_string(), |n| n.to_string())
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A node's availability (`active`, `pause`, `drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeAvailability {
    Active,
    Pause,
    Drain,
}

impl NodeAvailability {
    pub fn name(self) -> &'static str {
        match self {
            NodeAvailability::Active => "active",
            NodeAvailability::Pause => "pause",
            NodeAvailability::Drain => "drain",
        }
    }

    fn to_bollard(self) -> NodeSpecAvailabilityEnum {
        match self {
            NodeAvailability::Active => NodeSpecAvailabilityEnum::ACTIVE,
            NodeAvailability::Pause => NodeSpecAvailabilityEnum::PAUSE,
            NodeAvailability::Drain => NodeSpecAvailabilityEnum::DRAIN,
        }
    }
}

impl DockerEngine {
    /// The swarm node id of this engine, `None` when it is not in a swarm.
    pub async fn swarm_node_id(&self) -> Result<Option<String>, DockerError> {
        self.count();
        let info = self
            .client()
            .info()
            .await
            .map_err(|err| self.error(err, "read the swarm state of", Object::Engine))?;
        Ok(info
            .swarm
            .and_then(|swarm| swarm.node_id)
            .filter(|id| !id.is_empty()))
    }

    /// A node's availability.
    pub async fn node_availability(&self, node: &str) -> Result<NodeAvailability, DockerError> {
        self.count();
        let found = self
            .client()
            .inspect_node(node)
            .await
            .map_err(|err| self.error(err, "inspect", Object::Node(node)))?;
        Ok(match found.spec.and_then(|spec| spec.availability) {
            Some(NodeSpecAvailabilityEnum::DRAIN) => NodeAvailability::Drain,
            Some(NodeSpecAvailabilityEnum::PAUSE) => NodeAvailability::Pause,
            _ => NodeAvailability::Active,
        })
    }

    /// Sets a node's availability.
    pub async fn set_node_availability(
        &self,
        node: &str,
        availability: NodeAvailability,
    ) -> Result<(), DockerError> {
        self.count();
        let found = self
            .client()
            .inspect_node(node)
            .await
            .map_err(|err| self.error(err, "inspect", Object::Node(node)))?;
        let version = found.version.and_then(|v| v.index).unwrap_or_default() as i64;
        let mut spec = found.spec.unwrap_or_default();
        spec.availability = Some(availability.to_bollard());
        self.count();
        self.client()
            .update_node(node, spec, UpdateNodeOptions { version })
            .await
            .map_err(|err| self.error(err, "update", Object::Node(node)))
    }
}

//! `SwarmTasks`: the running tasks of a set of Swarm services — one service by name, or every
//! service carrying a label — read from the manager's task list (each with the node it runs
//! on), not from the local engine's containers, so that tasks on every node are seen. The
//! seeded pick is made over them sorted by container name, as for container resources.

use super::container_selector::{pick_indices, validate_pick};
use super::container_target::ContainerTarget;
use super::docker_engine::DockerEngine;
use super::docker_error::{DockerError, Object};
use crate::plan::Pick;
use bollard::models::TaskState;
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};
use std::collections::HashMap;

/// Which services: one by name or id, or every service whose labels match `key=value` (or
/// carry `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmTasks {
    Named(String),
    Labelled(String),
}

/// A running task and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedTask {
    pub service: String,
    pub task_id: String,
    pub container_id: String,
    pub node_id: String,
    /// The task container's name, as the engine of its node names it
    /// (`service.slot.task` for a replicated service, `service.node.task` for a global one).
    pub name: String,
}

impl std::fmt::Display for SwarmTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwarmTasks::Named(name) => write!(f, "service `{name}`"),
            SwarmTasks::Labelled(label) => write!(f, "services labelled `{label}`"),
        }
    }
}

impl SwarmTasks {
    /// The names of the services in the set (a label matching none is an error).
    pub async fn services(&self, engine: &DockerEngine) -> Result<Vec<String>, DockerError> {
        match self {
            SwarmTasks::Named(name) => Ok(vec![name.clone()]),
            SwarmTasks::Labelled(label) => {
                engine.count();
                let options = ListServicesOptions {
                    filters: Some(HashMap::from([("label".to_string(), vec![label.clone()])])),
                    ..Default::default()
                };
                let services = engine
                    .client()
                    .list_services(Some(options))
                    .await
                    .map_err(|err| engine.error(err, "list the services of", Object::Engine))?;
                let mut names: Vec<String> = services
                    .into_iter()
                    .filter_map(|s| s.spec.and_then(|spec| spec.name))
                    .collect();
                names.sort();
                if names.is_empty() {
                    return Err(DockerError::NoMatch {
                        selector: format!("{self} (no Swarm service carries the label)"),
                    });
                }
                Ok(names)
            }
        }
    }

    /// Every running task of the set's services, from the manager, sorted by container name.
    pub async fn running(&self, engine: &DockerEngine) -> Result<Vec<PlacedTask>, DockerError> {
        let mut placed = Vec::new();
        for service in self.services(engine).await? {
            engine.count();
            let options = ListTasksOptions {
                filters: Some(HashMap::from([
                    ("service".to_string(), vec![service.clone()]),
                    ("desired-state".to_string(), vec!["running".to_string()]),
                ])),
            };
            let tasks = engine
                .client()
                .list_tasks(Some(options))
                .await
                .map_err(|err| engine.error(err, "list the tasks of", Object::Service(&service)))?;
            for task in tasks {
                let status = task.status.unwrap_or_default();
                if status.state != Some(TaskState::RUNNING) {
                    continue;
                }
                let (Some(task_id), Some(node_id), Some(container_id)) = (
                    task.id,
                    task.node_id,
                    status.container_status.and_then(|c| c.container_id),
                ) else {
                    continue;
                };
                let middle = match task.slot {
                    Some(slot) if slot > 0 => slot.to_string(),
                    _ => node_id.clone(),
                };
                placed.push(PlacedTask {
                    name: format!("{service}.{middle}.{task_id}"),
                    service: service.clone(),
                    task_id,
                    container_id,
                    node_id,
                });
            }
        }
        placed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(placed)
    }

    /// The running tasks `pick` keeps, chosen with the run's `seed` on `stream`; at least one
    /// task must run.
    pub async fn select(
        &self,
        engine: &DockerEngine,
        pick: &Pick,
        seed: u64,
        stream: &str,
    ) -> Result<Vec<PlacedTask>, DockerError> {
        validate_pick(pick)?;
        let running = self.running(engine).await?;
        if running.is_empty() {
            return Err(DockerError::NoMatch {
                selector: format!("{self} (no running task)"),
            });
        }
        let keep = pick_indices(running.len(), pick, seed, stream);
        Ok(keep.into_iter().map(|i| running[i].clone()).collect())
    }
}

impl PlacedTask {
    /// The task id in a task container's name (`service.slot.TASKID`), if it is one.
    pub fn task_id_in(name: &str) -> Option<&str> {
        let mut parts = name.rsplitn(3, '.');
        let task = parts.next()?;
        let (_middle, _service) = (parts.next()?, parts.next()?);
        (task.len() == 25 && task.chars().all(|c| c.is_ascii_alphanumeric())).then_some(task)
    }
}

impl DockerEngine {
    /// The service name and node of a task, from the manager.
    pub async fn task_placement(&self, task: &str) -> Result<(String, String), DockerError> {
        self.count();
        let found = self
            .client()
            .inspect_task(task)
            .await
            .map_err(|err| self.error(err, "inspect the task", Object::Engine))?;
        let service_id = found.service_id.unwrap_or_default();
        self.count();
        let service = self
            .client()
            .inspect_service(&service_id, None)
            .await
            .map_err(|err| self.error(err, "inspect", Object::Service(&service_id)))?;
        let name = service.spec.and_then(|s| s.name).unwrap_or(service_id);
        Ok((name, found.node_id.unwrap_or_default()))
    }

    /// The container of a task on this engine's node.
    pub async fn local_task(&self, task: &PlacedTask) -> Result<ContainerTarget, DockerError> {
        self.find(&task.container_id).await
    }

    /// A task on another node, known by its container's id and name only: what an agent on
    /// that node needs to act on it. Calls on it through this engine fail (not its node).
    pub fn remote_task(&self, task: &PlacedTask) -> ContainerTarget {
        ContainerTarget::new(self.clone(), &task.container_id, &task.name, None)
    }

    /// A node's address as the swarm knows it (`Status.Addr`).
    pub async fn node_address(&self, node: &str) -> Result<Option<String>, DockerError> {
        self.count();
        let found = self
            .client()
            .inspect_node(node)
            .await
            .map_err(|err| self.error(err, "inspect", Object::Node(node)))?;
        Ok(found
            .status
            .and_then(|status| status.addr)
            .filter(|addr| !addr.is_empty() && addr != "0.0.0.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_id_is_read_from_a_task_containers_name() {
        assert_eq!(
            PlacedTask::task_id_in("shop_api.1.q0v7m2k9x3b8n4c6z1l5t0w2e"),
            Some("q0v7m2k9x3b8n4c6z1l5t0w2e")
        );
        assert_eq!(
            PlacedTask::task_id_in("agent.kx1z9node.q0v7m2k9x3b8n4c6z1l5t0w2e"),
            Some("q0v7m2k9x3b8n4c6z1l5t0w2e")
        );
        assert_eq!(PlacedTask::task_id_in("web-1"), None);
        assert_eq!(PlacedTask::task_id_in("a.b.short"), None);
        assert_eq!(PlacedTask::task_id_in("q0v7m2k9x3b8n4c6z1l5t0w2e"), None);
    }
}

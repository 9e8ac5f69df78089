//! `AgentRoutes`: which pfi agent applies a node-local fault on a Swarm task. The agents run
//! as a Swarm global service (`agent_service "name"` on the resource): one task per node,
//! publishing its API port in host mode, so the agent of node N is at N's address (the
//! manager's `Status.Addr`) and the service's published port. A task's fault goes to the agent
//! on the task's node; a task on this engine's node without an agent goes through the local
//! engine; a task on another node without an agent cannot be reached (an error naming the
//! node). Faults through the manager (`scale`, `update`, `drain`) are never routed.

use crate::targets::docker::{SwarmService, SwarmTasks};
use crate::targets::{AgentClient, DockerEngine};
use std::collections::BTreeMap;

/// Where a fault on a task goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// Through this engine (the task is on this node and no agent runs there).
    Local,
    /// Through the agent at this address.
    Agent(String),
}

#[derive(Clone, Default)]
pub(super) struct AgentRoutes {
    /// The agent of each node, by node id.
    by_node: BTreeMap<String, AgentClient>,
    /// This engine's node id.
    local_node: Option<String>,
}

impl AgentRoutes {
    /// The agents of `service`'s tasks, each at its node's address and the published port.
    pub(super) async fn discover(
        engine: &DockerEngine,
        service: &str,
        token: &str,
    ) -> Result<AgentRoutes, String> {
        let agents = SwarmService::new(engine, service);
        let port = agents
            .published_port()
            .await
            .map_err(|err| err.to_string())?
            .ok_or_else(|| {
                format!("the agents' service `{service}` publishes no port (publish its API port in host mode)")
            })?;
        let tasks = SwarmTasks::Named(service.to_string())
            .running(engine)
            .await
            .map_err(|err| err.to_string())?;
        let mut by_node = BTreeMap::new();
        for task in tasks {
            let address = engine
                .node_address(&task.node_id)
                .await
                .map_err(|err| err.to_string())?
                .ok_or_else(|| format!("node `{}` has no address", task.node_id))?;
            by_node.insert(
                task.node_id,
                AgentClient::new(&format!("{address}:{port}"), token),
            );
        }
        if by_node.is_empty() {
            return Err(format!("the agents' service `{service}` runs no task"));
        }
        let local_node = engine
            .swarm_node_id()
            .await
            .map_err(|err| err.to_string())?;
        Ok(AgentRoutes {
            by_node,
            local_node,
        })
    }

    /// Every agent found (one call each at the start proves they hold the token).
    pub(super) fn agents(&self) -> impl Iterator<Item = (&String, &AgentClient)> {
        self.by_node.iter()
    }

    /// Where a fault on a task of `node` goes.
    pub(super) fn route(&self, node: &str) -> Result<Route, String> {
        route(
            self.by_node.get(node).map(AgentClient::address),
            self.local_node.as_deref() == Some(node),
            node,
        )
    }

    /// The client of the agent at `address`.
    pub(super) fn client(&self, address: &str) -> Option<AgentClient> {
        self.by_node
            .values()
            .find(|client| client.address() == address)
            .cloned()
    }
}

/// The rule: the node's agent if it has one, else the local engine for a local task.
fn route(agent: Option<&str>, local: bool, node: &str) -> Result<Route, String> {
    match (agent, local) {
        (Some(address), _) => Ok(Route::Agent(address.to_string())),
        (None, true) => Ok(Route::Local),
        (None, false) => Err(format!(
            "the task runs on node `{node}`, where no agent of the agents' service runs"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_goes_to_its_nodes_agent_else_local_else_nowhere() {
        assert_eq!(
            route(Some("10.0.0.2:7311"), false, "n2"),
            Ok(Route::Agent("10.0.0.2:7311".into()))
        );
        assert_eq!(
            route(Some("127.0.0.1:7311"), true, "n1"),
            Ok(Route::Agent("127.0.0.1:7311".into()))
        );
        assert_eq!(route(None, true, "n1"), Ok(Route::Local));
        assert!(route(None, false, "n3").unwrap_err().contains("node `n3`"));
    }
}

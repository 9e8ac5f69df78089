//! `ContainerInfo`: what inspect says about a container, in pfi's terms.

use super::container_limits::ContainerLimits;
use super::network_attachment::NetworkAttachment;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
            ContainerStatus::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    pub status: ContainerStatus,
    /// Running, possibly paused.
    pub running: bool,
    pub paused: bool,
    /// The main process's pid on the host, while running.
    pub pid: Option<u32>,
    pub exit_code: Option<i64>,
    pub started_at: String,
    pub restart_count: i64,
    pub limits: ContainerLimits,
    pub networks: Vec<NetworkAttachment>,
    /// Published ports: container port (`7000/tcp`) → host address.
    pub ports: BTreeMap<String, Vec<SocketAddr>>,
    pub labels: BTreeMap<String, String>,
    /// Its Docker healthcheck's status (`starting`, `healthy`, `unhealthy`); `None` when the
    /// container has no healthcheck.
    pub health: Option<String>,
}

impl ContainerInfo {
    pub(super) fn from_inspect(response: ContainerInspectResponse) -> ContainerInfo {
        let id = response.id.unwrap_or_default();
        let name = response
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        let state = response.state.unwrap_or_default();
        let status = match state.status {
            Some(ContainerStateStatusEnum::CREATED) => ContainerStatus::Created,
            Some(ContainerStateStatusEnum::RUNNING) => ContainerStatus::Running,
            Some(ContainerStateStatusEnum::PAUSED) => ContainerStatus::Paused,
            Some(ContainerStateStatusEnum::RESTARTING) => ContainerStatus::Restarting,
            Some(ContainerStateStatusEnum::REMOVING) => ContainerStatus::Removing,
            Some(ContainerStateStatusEnum::EXITED) => ContainerStatus::Exited,
            Some(ContainerStateStatusEnum::DEAD) => ContainerStatus::Dead,
            _ => ContainerStatus::Unknown,
        };
        let health = state
            .health
            .as_ref()
            .and_then(|health| health.status)
            .map(|status| status.to_string())
            .filter(|status| !status.is_empty() && status != "none");
        let host = response.host_config.unwrap_or_default();
        let limits = ContainerLimits {
            nano_cpus: Some(host.nano_cpus.unwrap_or(0)),
            cpu_quota: Some(host.cpu_quota.unwrap_or(0)),
            cpu_period: Some(host.cpu_period.unwrap_or(0)),
            memory: Some(host.memory.unwrap_or(0)),
            memory_swap: Some(host.memory_swap.unwrap_or(0)),
            blkio_weight: Some(host.blkio_weight.unwrap_or(0)),
        };
        let settings = response.network_settings.unwrap_or_default();
        let mut networks: Vec<NetworkAttachment> = settings
            .networks
            .iter()
            .flatten()
            .map(|(network, endpoint)| NetworkAttachment::from_endpoint(network, endpoint, &id))
            .collect();
        networks.sort_by(|a, b| a.network.cmp(&b.network));
        let mut ports = BTreeMap::new();
        for (port, bindings) in settings.ports.iter().flatten() {
            let addresses: Vec<SocketAddr> = bindings
                .iter()
                .flatten()
                .filter_map(|binding| {
                    let ip = match binding.host_ip.as_deref() {
                        None | Some("") | Some("0.0.0.0") => "127.0.0.1",
                        Some("::") => "::1",
                        Some(ip) => ip,
                    };
                    let port: u16 = binding.host_port.as_deref()?.parse().ok()?;
                    Some(SocketAddr::new(ip.parse().ok()?, port))
                })
                .collect();
            if !addresses.is_empty() {
                ports.insert(port.clone(), addresses);
            }
        }
        let config = response.config.unwrap_or_default();
        ContainerInfo {
            id,
            name,
            image: config.image.unwrap_or_default(),
            status,
            running: state.running.unwrap_or(false),
            paused: state.paused.unwrap_or(false),
            pid: state
                .pid
                .and_then(|pid| u32::try_from(pid).ok())
                .filter(|pid| *pid > 0),
            exit_code: state.exit_code,
            started_at: state.started_at.unwrap_or_default(),
            restart_count: response.restart_count.unwrap_or(0),
            limits,
            networks,
            ports,
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            health,
        }
    }

    /// The host address a container port is published on (`7000` or `7000/udp`), reachable
    /// from this machine (a wildcard binding is given as loopback).
    pub fn host_address(&self, container_port: &str) -> Option<SocketAddr> {
        let key = if container_port.contains('/') {
            container_port.to_string()
        } else {
            format!("{container_port}/tcp")
        };
        let addresses = self.ports.get(&key)?;
        addresses
            .iter()
            .find(|address| address.is_ipv4())
            .or_else(|| addresses.first())
            .copied()
    }

    /// The attachment to a network, by name or id.
    pub fn network(&self, network: &str) -> Option<&NetworkAttachment> {
        self.networks.iter().find(|n| {
            n.network == network || (!network.is_empty() && n.network_id.starts_with(network))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerState, EndpointSettings, HostConfig, NetworkSettings, PortBinding,
    };
    use std::collections::HashMap;

    #[test]
    fn reads_state_limits_networks_and_ports() {
        let response = ContainerInspectResponse {
            id: Some("abcdef0123456789".into()),
            name: Some("/web-1".into()),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::PAUSED),
                running: Some(true),
                paused: Some(true),
                pid: Some(4242),
                ..ContainerState::default()
            }),
            host_config: Some(HostConfig {
                nano_cpus: Some(1_500_000_000),
                memory: Some(256 << 20),
                ..HostConfig::default()
            }),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([(
                    "bridge".to_string(),
                    EndpointSettings {
                        ip_address: Some("172.17.0.3".into()),
                        ..EndpointSettings::default()
                    },
                )])),
                ports: Some(HashMap::from([(
                    "7000/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("0.0.0.0".into()),
                        host_port: Some("49153".into()),
                    }]),
                )])),
                ..NetworkSettings::default()
            }),
            config: Some(ContainerConfig {
                image: Some("pfi-demo:local".into()),
                ..ContainerConfig::default()
            }),
            ..ContainerInspectResponse::default()
        };
        let info = ContainerInfo::from_inspect(response);
        assert_eq!(info.name, "web-1");
        assert_eq!(info.status, ContainerStatus::Paused);
        assert!(info.running && info.paused);
        assert_eq!(info.pid, Some(4242));
        assert_eq!(info.limits.nano_cpus, Some(1_500_000_000));
        assert_eq!(info.limits.cpu_quota, Some(0));
        assert_eq!(info.networks[0].network, "bridge");
        assert_eq!(
            info.host_address("7000"),
            Some("127.0.0.1:49153".parse().unwrap())
        );
        assert!(info.network("bridge").is_some());
        assert!(info.network("shop").is_none());
    }
}

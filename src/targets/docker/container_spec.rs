//! `ContainerSpec`: a container pfi creates from an image for a run and removes after it.

use super::docker_error::DockerError;
use crate::plan::ResourceTarget;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use std::collections::{BTreeMap, HashMap};

/// The label every container pfi creates carries, with the run id as its value.
pub const RUN_LABEL: &str = "pfi.run";
/// The label naming the scenario resource a created container belongs to.
pub const RESOURCE_LABEL: &str = "pfi.resource";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The resource's name in the scenario.
    pub resource: String,
    pub image: String,
    /// Arguments to the image's entrypoint (the image's own command when empty).
    pub cmd: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Published ports, as `docker run -p` writes them: `[ip:][host_port:]port[/proto]`
    /// (`7000`, `8080:7000`, `127.0.0.1::7000/tcp`; an empty host port picks a free one).
    pub ports: Vec<String>,
    /// A network to attach to instead of the default bridge.
    pub network: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The container's name; `pfi-<run id>-<resource>` unless given.
    pub name: Option<String>,
}

/// One parsed `ports` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// `7000/tcp`.
    pub container_port: String,
    pub host_ip: String,
    /// Empty: the engine picks a free port.
    pub host_port: String,
}

impl PortMapping {
    pub fn parse(text: &str) -> Result<PortMapping, String> {
        let parts: Vec<&str> = text.rsplitn(3, ':').collect();
        let (container, host_port, host_ip) = match parts.as_slice() {
            [container] => (*container, "", ""),
            [container, host_port] => (*container, *host_port, ""),
            [container, host_port, host_ip] => (*container, *host_port, *host_ip),
            _ => return Err(format!("`{text}` is not a port mapping")),
        };
        let (port, proto) = container.split_once('/').unwrap_or((container, "tcp"));
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!(
                "`{text}`: the container port must be a number from 1 to 65535"
            ));
        }
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(format!("`{text}`: the protocol is tcp, udp or sctp"));
        }
        if !host_port.is_empty() && host_port.parse::<u16>().is_err() {
            return Err(format!("`{text}`: the host port must be a number"));
        }
        if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("`{text}`: `{host_ip}` is not an IP address"));
        }
        Ok(PortMapping {
            container_port: format!("{port}/{proto}"),
            host_ip: host_ip.to_string(),
            host_port: host_port.to_string(),
        })
    }
}

impl ContainerSpec {
    pub fn new(resource: impl Into<String>, image: impl Into<String>) -> ContainerSpec {
        ContainerSpec {
            resource: resource.into(),
            image: image.into(),
            cmd: Vec::new(),
            env: BTreeMap::new(),
            ports: Vec::new(),
            network: None,
            labels: BTreeMap::new(),
            name: None,
        }
    }

    /// The spec of a plan's `image` resource; `None` for other targets.
    pub fn from_plan(resource: &str, target: &ResourceTarget) -> Option<ContainerSpec> {
        match target {
            ResourceTarget::Image {
                image,
                cmd,
                env,
                ports,
            } => Some(ContainerSpec {
                cmd: cmd.clone(),
                env: env.clone(),
                ports: ports.clone(),
                ..ContainerSpec::new(resource, image.clone())
            }),
            _ => None,
        }
    }

    pub fn cmd(mut self, cmd: &[&str]) -> ContainerSpec {
        self.cmd = cmd.iter().map(|part| part.to_string()).collect();
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> ContainerSpec {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn port(mut self, mapping: impl Into<String>) -> ContainerSpec {
        self.ports.push(mapping.into());
        self
    }

    pub fn network(mut self, network: impl Into<String>) -> ContainerSpec {
        self.network = Some(network.into());
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> ContainerSpec {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> ContainerSpec {
        self.name = Some(name.into());
        self
    }

    /// The container's name in a run.
    pub fn container_name(&self, run_id: &str) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("pfi-{run_id}-{}", self.resource))
    }

    /// The create request for a run, or what is wrong with the spec.
    pub(super) fn create_body(&self, run_id: &str) -> Result<ContainerCreateBody, DockerError> {
        let invalid = |reason: String| DockerError::InvalidSpec {
            resource: self.resource.clone(),
            reason,
        };
        if self.image.trim().is_empty() {
            return Err(invalid("the image is empty".to_string()));
        }
        if let Some(key) = self
            .env
            .keys()
            .find(|key| key.is_empty() || key.contains('='))
        {
            return Err(invalid(format!(
                "`{key}` is not an environment variable name"
            )));
        }
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for text in &self.ports {
            let mapping = PortMapping::parse(text).map_err(invalid)?;
            bindings
                .entry(mapping.container_port)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(mapping.host_ip),
                    host_port: Some(mapping.host_port),
                });
        }
        let mut labels: HashMap<String, String> = self.labels.clone().into_iter().collect();
        labels.insert(RUN_LABEL.to_string(), run_id.to_string());
        labels.insert(RESOURCE_LABEL.to_string(), self.resource.clone());
        let mut exposed: Vec<String> = bindings.keys().cloned().collect();
        exposed.sort();
        Ok(ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            env: Some(
                self.env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect(),
            ),
            labels: Some(labels),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(HostConfig {
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                network_mode: self.network.clone(),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_mappings_like_docker_run() {
        let parse = |text| PortMapping::parse(text).unwrap();
        assert_eq!(
            parse("7000"),
            PortMapping {
                container_port: "7000/tcp".into(),
                host_ip: String::new(),
                host_port: String::new()
            }
        );
        assert_eq!(parse("8080:7000").host_port, "8080");
        let full = parse("127.0.0.1::7000/udp");
        assert_eq!(full.host_ip, "127.0.0.1");
        assert_eq!(full.host_port, "");
        assert_eq!(full.container_port, "7000/udp");
        for bad in ["", "0", "x:7000", "7000/icmp", "nope::7000", "70000"] {
            assert!(PortMapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_the_create_request_with_run_labels() {
        let spec = ContainerSpec::new("api", "pfi-demo:local")
            .cmd(&["backend", "--port", "7000"])
            .env("RUST_LOG", "info")
            .port("127.0.0.1::7000")
            .network("pfi-test-net");
        assert_eq!(spec.container_name("r1"), "pfi-r1-api");
        let body = spec.create_body("r1").unwrap();
        assert_eq!(body.image.as_deref(), Some("pfi-demo:local"));
        assert_eq!(body.env, Some(vec!["RUST_LOG=info".to_string()]));
        let labels = body.labels.unwrap();
        assert_eq!(labels[RUN_LABEL], "r1");
        assert_eq!(labels[RESOURCE_LABEL], "api");
        assert_eq!(body.exposed_ports, Some(vec!["7000/tcp".to_string()]));
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("pfi-test-net"));
        let binding = &host.port_bindings.unwrap()["7000/tcp"];
        assert_eq!(
            binding.as_ref().unwrap()[0].host_ip.as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn reads_a_plans_image_resource() {
        let target = ResourceTarget::Image {
            image: "pfi-demo:local".into(),
            cmd: vec!["backend".into()],
            env: BTreeMap::from([("A".to_string(), "1".to_string())]),
            ports: vec!["7000".into()],
        };
        let spec = ContainerSpec::from_plan("db", &target).unwrap();
        assert_eq!(spec.resource, "db");
        assert_eq!(spec.cmd, vec!["backend".to_string()]);
        assert_eq!(spec.ports, vec!["7000".to_string()]);
        assert_eq!(spec.env["A"], "1");
        let container = ResourceTarget::Container { name: "x".into() };
        assert!(ContainerSpec::from_plan("db", &container).is_none());
    }

    #[test]
    fn a_bad_spec_is_input() {
        let err = ContainerSpec::new("api", " ")
            .create_body("r1")
            .unwrap_err();
        assert!(err.is_input());
        let err = ContainerSpec::new("api", "img")
            .port("7000/icmp")
            .create_body("r1")
            .unwrap_err();
        assert!(err.to_string().contains("tcp, udp or sctp"), "{err}");
    }
}

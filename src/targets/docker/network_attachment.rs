//! `NetworkAttachment`: how a container is attached to one network, kept so that a partition
//! can reconnect it the same way (aliases, static addresses, links).

use bollard::models::{EndpointIpamConfig, EndpointSettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The network's name (as inspect shows it: `bridge`, `shop_default`...).
    pub network: String,
    #[serde(default)]
    pub network_id: String,
    /// Aliases given by the user (not the container's own short id, which the engine adds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Addresses the user fixed (IPAM config); empty when the engine chose them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The address the container had (for messages; the engine may give another back).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_address: String,
}

impl NetworkAttachment {
    pub(super) fn from_endpoint(
        network: &str,
        endpoint: &EndpointSettings,
        container_id: &str,
    ) -> NetworkAttachment {
        let short_id: String = container_id.chars().take(12).collect();
        let nonempty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let ipam = endpoint.ipam_config.as_ref();
        NetworkAttachment {
            network: network.to_string(),
            network_id: endpoint.network_id.clone().unwrap_or_default(),
            aliases: endpoint
                .aliases
                .iter()
                .flatten()
                .filter(|alias| **alias != short_id)
                .cloned()
                .collect(),
            ipv4_address: ipam.and_then(|ipam| nonempty(&ipam.ipv4_address)),
            ipv6_address: ipam.and_then(|ipam| nonempty(&ipam.ipv6_address)),
            links: endpoint.links.clone().unwrap_or_default(),
            ip_address: endpoint.ip_address.clone().unwrap_or_default(),
        }
    }

    /// The endpoint settings that reconnect the container as it was.
    pub(super) fn endpoint(&self) -> EndpointSettings {
        let ipam_config = (self.ipv4_address.is_some() || self.ipv6_address.is_some()).then(|| {
            EndpointIpamConfig {
                ipv4_address: self.ipv4_address.clone(),
                ipv6_address: self.ipv6_address.clone(),
                link_local_ips: None,
            }
        });
        EndpointSettings {
            ipam_config,
            aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
            links: (!self.links.is_empty()).then(|| self.links.clone()),
            ..EndpointSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_user_aliases_and_fixed_addresses_only() {
        let id = "0123456789abcdef0123";
        let endpoint = EndpointSettings {
            aliases: Some(vec!["db".into(), "0123456789ab".into()]),
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some("10.9.0.5".into()),
                ipv6_address: Some(String::new()),
                link_local_ips: None,
            }),
            network_id: Some("n1".into()),
            ip_address: Some("10.9.0.5".into()),
            ..EndpointSettings::default()
        };
        let attachment = NetworkAttachment::from_endpoint("shop", &endpoint, id);
        assert_eq!(attachment.aliases, vec!["db".to_string()]);
        assert_eq!(attachment.ipv4_address.as_deref(), Some("10.9.0.5"));
        assert_eq!(attachment.ipv6_address, None);
        let back = attachment.endpoint();
        assert_eq!(back.aliases, Some(vec!["db".to_string()]));
        assert_eq!(
            back.ipam_config.unwrap().ipv4_address.as_deref(),
            Some("10.9.0.5")
        );
        let json = serde_json::to_string(&attachment).unwrap();
        let parsed: NetworkAttachment = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, attachment);
    }

    #[test]
    fn a_default_bridge_attachment_reconnects_plainly() {
        let endpoint = EndpointSettings {
            ip_address: Some("172.17.0.2".into()),
            ..EndpointSettings::default()
        };
        let attachment = NetworkAttachment::from_endpoint("bridge", &endpoint, "abc");
        assert_eq!(attachment.endpoint(), EndpointSettings::default());
    }
}

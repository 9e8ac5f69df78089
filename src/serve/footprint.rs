//! `Footprint`: the resources and ports a plan touches. Two runs whose footprints meet are
//! not run together: the later one waits in the queue.

use crate::plan::{CheckKind, Plan, ProbeCheck, ResourceTarget};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint(BTreeSet<String>);

impl Footprint {
    pub fn of(plan: &Plan) -> Footprint {
        let mut set = BTreeSet::new();
        for resource in &plan.resources {
            match &resource.target {
                ResourceTarget::Process { argv, .. } => {
                    set.insert(format!("process:{}", argv.join(" ")));
                }
                ResourceTarget::Container { name } => {
                    set.insert(format!("container:{name}"));
                }
                ResourceTarget::ContainerLabel { selector, .. } => {
                    set.insert(format!("label:{selector}"));
                }
                ResourceTarget::Service { name, .. } => {
                    set.insert(format!("service:{name}"));
                }
                ResourceTarget::ServiceLabel { selector, .. } => {
                    set.insert(format!("service-label:{selector}"));
                }
                ResourceTarget::Image { ports, .. } => {
                    for port in ports {
                        let host = port.split(':').next().unwrap_or(port);
                        set.insert(format!("port:{host}"));
                    }
                }
            }
            for check in [&resource.ready, &resource.health].into_iter().flatten() {
                let address = match &check.check {
                    CheckKind::Http { url } => url,
                    CheckKind::Tcp { address } => address,
                };
                set.extend(port_of(address));
            }
        }
        for link in &plan.links {
            set.extend(port_of(&link.listen));
        }
        for probe in &plan.probes {
            match &probe.check {
                ProbeCheck::Http { url, .. } => set.extend(port_of(url)),
                ProbeCheck::Tcp { address } => set.extend(port_of(address)),
                ProbeCheck::Command { .. } => {}
            }
        }
        Footprint(set)
    }

    pub fn meets(&self, other: &Footprint) -> bool {
        self.0.intersection(&other.0).next().is_some()
    }

    pub fn items(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }

    pub fn from_items(items: &[String]) -> Footprint {
        Footprint(items.iter().cloned().collect())
    }
}

/// `port:N` of `host:N`, `http://host:N/path` or `:N`; none without a port.
fn port_of(address: &str) -> Option<String> {
    let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (_, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    Some(format!("port:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_from_addresses_and_urls() {
        assert_eq!(port_of("127.0.0.1:8080").as_deref(), Some("port:8080"));
        assert_eq!(
            port_of("http://127.0.0.1:9000/health").as_deref(),
            Some("port:9000")
        );
        assert_eq!(port_of("http://example/health"), None);
        let a = Footprint::from_items(&["port:1".into(), "port:2".into()]);
        assert!(a.meets(&Footprint::from_items(&["port:2".into()])));
        assert!(!a.meets(&Footprint::from_items(&["port:3".into()])));
    }
}

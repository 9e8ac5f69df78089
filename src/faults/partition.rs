//! `partition`: cuts a container off its networks (all of them, or the one named) by
//! disconnecting it; reverting reconnects it with the same aliases and fixed addresses.
//! Processes are partitioned through a proxied link instead.

use super::{
    BoxFuture, Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params,
};
use crate::targets::ContainerTarget;
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "partition",
    summary: "disconnect the container from its networks (or the one named); reconnected when the fault ends",
    build: |value| Ok(Box::new(params::<Partition>("partition", value)?)),
};

/// Network modes that are not networks one can disconnect from.
const NOT_DISCONNECTABLE: &[&str] = &["host", "none"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The network to cut; every network of the container when absent.
    #[serde(default)]
    pub network: Option<String>,
}

impl Fault for Partition {
    fn keyword(&self) -> &'static str {
        "partition"
    }

    fn describe(&self) -> String {
        match &self.network {
            Some(network) => format!("partition from network {network}"),
            None => "partition from every network".to_string(),
        }
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let info = target.info().await?;
            let unsupported = |reason: String| FaultError::Unsupported {
                fault: "partition",
                reason,
            };
            let on: Vec<&str> = info.networks.iter().map(|n| n.network.as_str()).collect();
            let networks = match &self.network {
                Some(network) => vec![info.network(network).cloned().ok_or_else(|| {
                    unsupported(format!(
                        "container `{}` is not on network `{network}` (it is on: {})",
                        target.name(),
                        if on.is_empty() {
                            "none".to_string()
                        } else {
                            on.join(", ")
                        }
                    ))
                })?],
                None => info.networks.clone(),
            };
            if let Some(mode) = networks
                .iter()
                .find(|n| NOT_DISCONNECTABLE.contains(&n.network.as_str()))
            {
                return Err(unsupported(format!(
                    "container `{}` uses the `{}` network mode, which cannot be disconnected",
                    target.name(),
                    mode.network
                )));
            }
            if networks.is_empty() {
                return Err(unsupported(format!(
                    "container `{}` is on no network",
                    target.name()
                )));
            }
            let revert = RevertAction::ReconnectContainer {
                container: target.reference(),
                networks: networks.clone(),
            };
            let target = target.clone();
            Ok(Prepared::new(revert, move || async move {
                for attachment in &networks {
                    target.disconnect(&attachment.network).await?;
                }
                let names: Vec<&str> = networks.iter().map(|n| n.network.as_str()).collect();
                Ok(format!(
                    "disconnected container `{}` from {}",
                    target.name(),
                    names.join(", ")
                ))
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_parameters() {
        let all = (KIND.build)(serde_json::Value::Null).unwrap();
        assert_eq!(all.describe(), "partition from every network");
        let one = (KIND.build)(serde_json::json!({"network": "shop"})).unwrap();
        assert_eq!(one.describe(), "partition from network shop");
        assert!((KIND.build)(serde_json::json!({"net": "x"})).is_err());
    }

    #[tokio::test]
    async fn a_process_cannot_be_partitioned_here() {
        let logs = tempfile::tempdir().unwrap();
        let spec = crate::targets::ProcessSpec::new("api", vec!["true".into()], logs.path());
        let target = crate::targets::ProcessTarget::new(spec).unwrap();
        let ctx = FaultContext::new("r1", "f1");
        let Err(err) = Partition { network: None }.prepare_process(&target, &ctx) else {
            panic!("a process was partitioned");
        };
        assert_eq!(
            err.to_string(),
            "cannot apply `partition`: `api` is a process, and this fault does not act on processes"
        );
    }
}

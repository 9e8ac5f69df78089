//! `partition`: cuts a container off its networks (all of them, or the one named) by
//! disconnecting it; reverting reconnects it with the same aliases and fixed addresses.
//! Processes are partitioned through a proxied link instead.

use super::Effect;
use super::setting_spec::*;
use super::{BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::Down;
use crate::targets::ContainerTarget;
use serde::{Deserialize, Serialize};

const SETTINGS: &[SettingSpec] = &[opt("network", ValueType::Text)];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "partition"
    }

    fn summary(&self) -> &'static str {
        "disconnect the container from its networks (or the one named); reconnected when the fault ends"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Container, TcpLink, HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::DependencyFailure
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        match settings.family() {
            // A link is cut by refusing its connections.
            TcpLink | HttpLink => settings.toxic(Down),
            Process | Container => settings.on_target(Partition {
                network: settings.text("network").map(str::to_string),
            }),
        }
    }
}

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
            let check = target.clone();
            let cut: Vec<String> = networks.iter().map(|n| n.network.clone()).collect();
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
            })
            .verified_by(move || async move {
                let info = match check.info().await {
                    Ok(info) => info,
                    Err(err) => return Effect::NoEffect(format!("cannot inspect it: {err}")),
                };
                let still: Vec<&str> = cut
                    .iter()
                    .filter(|network| info.network(network).is_some())
                    .map(String::as_str)
                    .collect();
                if still.is_empty() {
                    Effect::Observed(format!(
                        "container `{}` is off {}",
                        check.name(),
                        cut.join(", ")
                    ))
                } else {
                    Effect::NoEffect(format!(
                        "container `{}` is still on {}",
                        check.name(),
                        still.join(", ")
                    ))
                }
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

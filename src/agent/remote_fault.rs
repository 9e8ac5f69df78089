//! `RemoteFault`: a container fault applied through the pfi agent of the container's node
//! instead of the local engine. The run's ledger records `RevertAction::Agent` (the agent's
//! address and the fault's id) before the agent is asked to apply it; once applied, a task
//! renews its lease every [`RENEW_INTERVAL`] until the agent no longer holds it (reverted),
//! so the fault outlives the run by at most the lease if the run dies.

use crate::faults::{BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction};
use crate::plan::Params;
use crate::targets::{AgentClient, AgentError, ApplyRequest, ContainerTarget};
use std::time::Duration;

/// How often the run renews a lease.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RemoteFault {
    client: AgentClient,
    keyword: &'static str,
    described: String,
    params: Params,
    lease: Duration,
}

impl std::fmt::Debug for RemoteFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RemoteFault({} via {})",
            self.described,
            self.client.address()
        )
    }
}

impl RemoteFault {
    /// `fault` (built from `kind` and `params`) applied through `client` under `lease`.
    pub fn new(
        client: AgentClient,
        fault: &dyn Fault,
        params: Params,
        lease: Duration,
    ) -> RemoteFault {
        RemoteFault {
            client,
            keyword: fault.keyword(),
            described: fault.describe(),
            params,
            lease,
        }
    }
}

impl Fault for RemoteFault {
    fn keyword(&self) -> &'static str {
        self.keyword
    }

    fn describe(&self) -> String {
        format!(
            "{} (through the agent at {})",
            self.described,
            self.client.address()
        )
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let id = format!("{}/{}", ctx.run_id, ctx.fault_id);
            let revert = RevertAction::Agent {
                agent: self.client.address().to_string(),
                id: id.clone(),
                container: target.name().to_string(),
            };
            let request = ApplyRequest {
                id: id.clone(),
                container: target.id().to_string(),
                kind: self.keyword.to_string(),
                params: self.params.clone(),
                lease_ms: self.lease.as_millis() as u64,
            };
            let client = self.client.clone();
            let keyword = self.keyword;
            Ok(Prepared::new(revert, move || async move {
                let applied =
                    client
                        .apply(&request)
                        .await
                        .map_err(|err| FaultError::Unsupported {
                            fault: keyword,
                            reason: err.to_string(),
                        })?;
                tokio::spawn(renew(client.clone(), id));
                Ok(format!(
                    "{} (agent {}, lease {} ms; {})",
                    applied.detail,
                    client.address(),
                    request.lease_ms,
                    applied.effect
                ))
            }))
        })
    }
}

/// Renews the lease of `id` until the agent no longer holds it.
async fn renew(client: AgentClient, id: String) {
    loop {
        tokio::time::sleep(RENEW_INTERVAL).await;
        match client.renew(&id).await {
            Ok(()) => {}
            Err(AgentError::Refused { status: 404, .. }) => return,
            Err(err) => tracing::warn!(fault = %id, "cannot renew the lease: {err}"),
        }
    }
}

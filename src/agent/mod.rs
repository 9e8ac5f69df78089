//! The pfi agent: a small authenticated HTTP service on each node (`pfi agent`) that applies
//! and reverts node-local faults on that node's containers (pause, stop, kill, limits) for a
//! run elsewhere, and the client the run uses to reach it.
//!
//! Every fault the agent applies is held under a **lease** (the dead-man's switch): the run
//! renews it (every second); when it lapses — the controller was SIGKILLed, lost the network,
//! or simply stopped renewing — the agent reverts the fault by itself. The agent keeps its own
//! ledger (a JSON file written before each apply), so a restarted agent reverts what it had
//! applied once the leases it recorded lapse.
//!
//! Authentication is mutual: the run sends `Authorization: Bearer TOKEN` and a fresh nonce;
//! the agent answers with `SHA-256(TOKEN ":" nonce)` (the client: `crate::targets::AgentClient`), which the client checks, so neither
//! side acts for a peer that does not hold the token.

mod agent_ledger;
mod agent_server;
mod remote_fault;

pub use crate::targets::{AgentClient, AgentError, AppliedResponse, ApplyRequest, FaultSummary};
pub use agent_ledger::{AgentLedger, LeasedFault};
pub use agent_server::{AGENT_OPENAPI, Agent, AgentConfig, DEFAULT_AGENT_LISTEN, DEFAULT_LEASE};
pub use remote_fault::{RENEW_INTERVAL, RemoteFault};

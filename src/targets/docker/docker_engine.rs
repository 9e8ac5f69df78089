//! `DockerEngine`: the connection to the Docker engine (bollard), with a count of the API
//! calls made through it. Finding, selecting and creating containers (the methods that give
//! a `ContainerTarget`) are in `container_lookup.rs`, so this file does not import the target,
//! which holds an engine.

use super::container_info::ContainerInfo;
use super::container_ref::ContainerRef;
use super::container_spec::RUN_LABEL;
use super::docker_error::{DockerError, Object};
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one API call may take (a graceful stop waits up to its grace period inside one).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a removal already under way (HTTP 409) is waited for before it is reported.
const REMOVAL_WAIT: Duration = Duration::from_secs(30);

/// The engine. Cheap to clone; clones share the connection pool and the call count.
#[derive(Clone)]
pub struct DockerEngine {
    client: Docker,
    host: Arc<str>,
    calls: Arc<AtomicU64>,
    /// How many create calls are in flight (see `settle_creations`).
    creating: Arc<tokio::sync::watch::Sender<usize>>,
}

/// What removing a container pfi created found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// It was already gone.
    AlreadyGone,
    /// A container has the name but another run (or no run) created it: left alone.
    NotOwned,
}

impl DockerEngine {
    /// Connects to the engine `DOCKER_HOST` names (a `unix://`, `tcp://` or `http://`
    /// address), else to the local socket, and agrees on an API version with it (one call,
    /// which also tells whether the engine is there).
    pub async fn connect() -> Result<DockerEngine, DockerError> {
        match std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
            Some(host) => DockerEngine::connect_to(&host).await,
            None => {
                let host = "unix:///var/run/docker.sock";
                let client = Docker::connect_with_local_defaults().map_err(|err| {
                    DockerError::from_bollard(err, host, "connect to", Object::Engine)
                })?;
                DockerEngine::negotiate(client, host).await
            }
        }
    }

    /// Connects to the engine at `host` (`unix:///var/run/docker.sock`, `tcp://host:2375`).
    pub async fn connect_to(host: &str) -> Result<DockerEngine, DockerError> {
        let client = Docker::connect_with_host(host)
            .map_err(|err| DockerError::from_bollard(err, host, "connect to", Object::Engine))?;
        DockerEngine::negotiate(client, host).await
    }

    async fn negotiate(client: Docker, host: &str) -> Result<DockerEngine, DockerError> {
        let client = client
            .with_timeout(CALL_TIMEOUT)
            .negotiate_version()
            .await
            .map_err(|err| DockerError::from_bollard(err, host, "connect to", Object::Engine))?;
        let engine = DockerEngine {
            client,
            host: Arc::from(host),
            calls: Arc::new(AtomicU64::new(1)),
            creating: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        tracing::debug!(host, api = %engine.client.client_version(), "connected to the Docker engine");
        Ok(engine)
    }

    /// The address of the engine.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How many API calls went through this engine (and its clones) so far.
    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Running containers carrying a label (`key` or `key=value`).
    pub async fn list_labelled(&self, label: &str) -> Result<Vec<ContainerRef>, DockerError> {
        self.count();
        let options = ListContainersOptions {
            all: false,
            limit: None,
            size: false,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![label.to_string()],
            )])),
        };
        let summaries = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|err| self.error(err, "list the containers labelled", Object::Engine))?;
        Ok(summaries
            .into_iter()
            .filter_map(|summary| {
                let id = summary.id?;
                let name = summary
                    .names
                    .and_then(|names| names.into_iter().next())
                    .map(|name| name.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.chars().take(12).collect());
                Some(ContainerRef { id, name })
            })
            .collect())
    }

    /// Waits (up to `CALL_TIMEOUT`) until no create call of this engine or its clones is in
    /// flight, so that a container whose creation was interrupted exists (or never will)
    /// before the teardown looks for it.
    pub async fn settle_creations(&self) {
        let mut in_flight = self.creating.subscribe();
        let _ = tokio::time::timeout(CALL_TIMEOUT, in_flight.wait_for(|n| *n == 0)).await;
    }

    /// Removes the container `name` if the run `run_id` created it (its `pfi.run` label says
    /// so), with its anonymous volumes. For `pfi recover`.
    pub async fn remove_created(&self, name: &str, run_id: &str) -> Result<Removal, DockerError> {
        let info = match self.inspect(name).await {
            Ok(info) => info,
            Err(err) if err.is_gone() => return Ok(Removal::AlreadyGone),
            Err(err) => return Err(err),
        };
        if info.labels.get(RUN_LABEL).map(String::as_str) != Some(run_id) {
            return Ok(Removal::NotOwned);
        }
        match self.remove(&info.id, name).await {
            Ok(()) => Ok(Removal::Removed),
            Err(err) if err.is_gone() => Ok(Removal::AlreadyGone),
            Err(err) => Err(err),
        }
    }

    pub(super) async fn inspect(&self, reference: &str) -> Result<ContainerInfo, DockerError> {
        self.count();
        self.client
            .inspect_container(reference, None)
            .await
            .map(ContainerInfo::from_inspect)
            .map_err(|err| self.error(err, "inspect", Object::Container(reference)))
    }

    pub(super) async fn remove(&self, id: &str, name: &str) -> Result<(), DockerError> {
        self.count();
        let options = RemoveContainerOptions {
            v: true,
            force: true,
            link: false,
        };
        let removed = self
            .client
            .remove_container(id, Some(options))
            .await
            .map_err(|err| self.error(err, "remove", Object::Container(name)));
        match removed {
            Err(err) if err.is_removal_in_progress() => self.await_removal(id, name, err).await,
            other => other,
        }
    }

    /// Waits for a removal already under way (another DELETE, from a run that was killed while
    /// it removed its container) to finish: gone is confirmed by a 404, not assumed from the
    /// 409. Gives up after `REMOVAL_WAIT` with the engine's refusal.
    async fn await_removal(
        &self,
        id: &str,
        name: &str,
        refusal: DockerError,
    ) -> Result<(), DockerError> {
        let deadline = tokio::time::Instant::now() + REMOVAL_WAIT;
        loop {
            match self.inspect(id).await {
                Err(err) if err.is_gone() => return Ok(()),
                Err(err) => return Err(err),
                Ok(_) if tokio::time::Instant::now() >= deadline => return Err(refusal),
                Ok(_) => {
                    tracing::debug!(container = %name, "removal in progress; waiting for it");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The bollard client, for the swarm calls (`swarm_service`) and creating containers
    /// (`container_lookup`).
    pub(super) fn client(&self) -> &Docker {
        &self.client
    }

    /// The count of create calls in flight (`container_lookup` creates, `settle_creations`
    /// waits for them).
    pub(super) fn creating(&self) -> &Arc<tokio::sync::watch::Sender<usize>> {
        &self.creating
    }

    /// Counts one API call.
    pub(super) fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn error(
        &self,
        err: bollard::errors::Error,
        action: &'static str,
        object: Object<'_>,
    ) -> DockerError {
        DockerError::from_bollard(err, &self.host, action, object)
    }
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("host", &self.host)
            .field("api_calls", &self.api_calls())
            .finish()
    }
}

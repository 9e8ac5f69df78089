//! `ContainerTarget`: one container that faults act on. Every operation is one API call,
//! addressed by id; errors name the container.

use super::container_info::ContainerInfo;
use super::container_limits::ContainerLimits;
use super::container_ref::ContainerRef;
use super::docker_engine::DockerEngine;
use super::docker_error::{DockerError, Object};
use super::network_attachment::NetworkAttachment;
use super::stats_reading::StatsReading;
use crate::targets::{LifecycleRecorder, Signal};
use bollard::models::{
    ContainerStatsResponse, ContainerUpdateBody, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    KillContainerOptions, RestartContainerOptions, StatsOptions, StopContainerOptions,
};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A container. Cheap to clone; clones share the engine connection.
#[derive(Clone)]
pub struct ContainerTarget {
    engine: DockerEngine,
    id: Arc<str>,
    name: Arc<str>,
    created: Option<Arc<Created>>,
}

/// A container pfi created for a run: removed at the end, and the removal recorded.
pub(super) struct Created {
    resource: String,
    recorder: Option<Arc<dyn LifecycleRecorder>>,
    removed: AtomicBool,
}

impl Created {
    pub(super) fn new(resource: String, recorder: Option<Arc<dyn LifecycleRecorder>>) -> Created {
        Created {
            resource,
            recorder,
            removed: AtomicBool::new(false),
        }
    }
}

impl ContainerTarget {
    pub(super) fn new(
        engine: DockerEngine,
        id: &str,
        name: &str,
        created: Option<Arc<Created>>,
    ) -> ContainerTarget {
        ContainerTarget {
            engine,
            id: Arc::from(id),
            name: Arc::from(name),
            created,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn engine(&self) -> &DockerEngine {
        &self.engine
    }

    /// Id and name, as a ledger records them.
    pub fn reference(&self) -> ContainerRef {
        ContainerRef {
            id: self.id.to_string(),
            name: self.name.to_string(),
        }
    }

    /// Whether pfi created this container for the run.
    pub fn is_created_by_pfi(&self) -> bool {
        self.created.is_some()
    }

    /// What the engine says about the container now.
    pub async fn info(&self) -> Result<ContainerInfo, DockerError> {
        self.engine
            .inspect(&self.id)
            .await
            .map_err(|err| self.named(err))
    }

    /// Sends a signal to the container's main process.
    pub async fn kill(&self, signal: Signal) -> Result<(), DockerError> {
        let options = KillContainerOptions {
            signal: signal.number().to_string(),
        };
        self.call("kill", |client, id| async move {
            client.kill_container(&id, Some(options)).await
        })
        .await
    }

    /// Stops the container: its stop signal, then SIGKILL after `grace` (the container's own
    /// stop timeout when `None`).
    pub async fn stop(&self, grace: Option<Duration>) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            signal: None,
            t: grace.map(seconds),
        };
        self.call("stop", |client, id| async move {
            client.stop_container(&id, Some(options)).await
        })
        .await
    }

    pub async fn start(&self) -> Result<(), DockerError> {
        self.call("start", |client, id| async move {
            client.start_container(&id, None).await
        })
        .await
    }

    /// Stops (as [`stop`](Self::stop)) and starts the container again.
    pub async fn restart(&self, grace: Option<Duration>) -> Result<(), DockerError> {
        let options = RestartContainerOptions {
            signal: None,
            t: grace.map(seconds),
        };
        self.call("restart", |client, id| async move {
            client.restart_container(&id, Some(options)).await
        })
        .await
    }

    /// Freezes every process of the container (cgroup freezer).
    pub async fn pause(&self) -> Result<(), DockerError> {
        self.call("pause", |client, id| async move {
            client.pause_container(&id).await
        })
        .await
    }

    pub async fn unpause(&self) -> Result<(), DockerError> {
        self.call("unpause", |client, id| async move {
            client.unpause_container(&id).await
        })
        .await
    }

    /// Changes the resource limits that `limits` sets (`docker update`).
    pub async fn update_limits(&self, limits: &ContainerLimits) -> Result<(), DockerError> {
        let body = ContainerUpdateBody {
            nano_cpus: limits.nano_cpus,
            cpu_quota: limits.cpu_quota,
            cpu_period: limits.cpu_period,
            memory: limits.memory,
            memory_swap: limits.memory_swap,
            blkio_weight: limits.blkio_weight,
            ..ContainerUpdateBody::default()
        };
        self.call("update the limits of", |client, id| async move {
            client.update_container(&id, body).await
        })
        .await
    }

    /// Disconnects the container from a network.
    pub async fn disconnect(&self, network: &str) -> Result<(), DockerError> {
        self.engine.count();
        let request = NetworkDisconnectRequest {
            container: self.id.to_string(),
            force: Some(false),
        };
        self.engine
            .client()
            .disconnect_network(network, request)
            .await
            .map_err(|err| self.network_error(err, "disconnect", network))
    }

    /// Connects the container to a network as `attachment` describes (aliases, addresses).
    pub async fn connect(&self, attachment: &NetworkAttachment) -> Result<(), DockerError> {
        self.engine.count();
        let request = NetworkConnectRequest {
            container: self.id.to_string(),
            endpoint_config: Some(attachment.endpoint()),
        };
        self.engine
            .client()
            .connect_network(&attachment.network, request)
            .await
            .map_err(|err| self.network_error(err, "connect", &attachment.network))
    }

    /// The engine's stats stream for the container (one reading about every second, while it
    /// runs; it ends when the container stops).
    pub fn stats(&self) -> StatsStream {
        self.engine.count();
        let options = StatsOptions {
            stream: true,
            one_shot: false,
        };
        StatsStream {
            inner: Box::pin(self.engine.client().stats(&self.id, Some(options))),
            target: self.clone(),
        }
    }

    /// The container's CPU counters now, from one stats reading of the engine: CPU time used
    /// (nanoseconds) and the CFS periods it ran in and was throttled in. What a `cpu_limit`
    /// measures its effect with (two readings a window apart).
    pub async fn cpu_counters(&self) -> Result<CpuCounters, DockerError> {
        self.engine.count();
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.engine.client().stats(&self.id, Some(options));
        let response = match stream.next().await {
            Some(Ok(response)) => response,
            Some(Err(err)) => {
                return Err(self.engine.error(
                    err,
                    "read the stats of",
                    Object::Container(&self.name),
                ));
            }
            None => {
                return Err(DockerError::Engine {
                    action: "read the stats of",
                    object: format!("container `{}`", self.name),
                    status: 0,
                    message: "the engine sent no stats".to_string(),
                });
            }
        };
        let cpu = response.cpu_stats.unwrap_or_default();
        let throttling = cpu.throttling_data.unwrap_or_default();
        Ok(CpuCounters {
            usage_ns: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
            periods: throttling.periods.unwrap_or(0),
            throttled_periods: throttling.throttled_periods.unwrap_or(0),
        })
    }

    /// Removes a container pfi created (forcefully, with its anonymous volumes) and records
    /// the removal. Removing a container that is gone is fine; a container pfi did not create
    /// is never removed.
    pub async fn remove(&self) -> Result<(), DockerError> {
        let Some(created) = &self.created else {
            return Err(DockerError::NotCreatedByPfi {
                container: self.name.to_string(),
            });
        };
        match self.engine.remove(&self.id, &self.name).await {
            Ok(()) => {}
            Err(err) if err.is_gone() => {}
            Err(err) => return Err(err),
        }
        if !created.removed.swap(true, Ordering::SeqCst)
            && let Some(recorder) = &created.recorder
            && let Err(err) = recorder.container_removed(&created.resource, &self.name)
        {
            tracing::warn!(container = %self.name, "cannot record the removal: {err}");
        }
        Ok(())
    }

    /// One counted call with the container's id; a 404 says the container is gone.
    async fn call<F, Fut>(&self, action: &'static str, request: F) -> Result<(), DockerError>
    where
        F: FnOnce(bollard::Docker, String) -> Fut,
        Fut: std::future::Future<Output = Result<(), bollard::errors::Error>>,
    {
        self.engine.count();
        request(self.engine.client().clone(), self.id.to_string())
            .await
            .map_err(|err| {
                self.engine
                    .error(err, action, Object::Container(&self.name))
            })
    }

    fn network_error(
        &self,
        err: bollard::errors::Error,
        action: &'static str,
        network: &str,
    ) -> DockerError {
        match self.engine.error(err, action, Object::Network(network)) {
            DockerError::Engine {
                status: 404,
                message,
                ..
            } if message.to_ascii_lowercase().contains("container") => {
                DockerError::NoSuchContainer {
                    container: self.name.to_string(),
                }
            }
            DockerError::Engine {
                action,
                status,
                message,
                ..
            } => DockerError::Engine {
                action,
                object: format!("container `{}` from network `{network}`", self.name),
                status,
                message,
            },
            other => other,
        }
    }

    /// An error about `self.id` reworded to name the container.
    fn named(&self, err: DockerError) -> DockerError {
        match err {
            DockerError::NoSuchContainer { .. } => DockerError::NoSuchContainer {
                container: self.name.to_string(),
            },
            other => other,
        }
    }
}

/// Seconds for the engine's `t` parameter.
fn seconds(grace: Duration) -> i32 {
    i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)
}

/// A container's CPU counters at one moment (see [`ContainerTarget::cpu_counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuCounters {
    pub usage_ns: u64,
    pub periods: u64,
    pub throttled_periods: u64,
}

/// The stats of one container, as they arrive.
pub struct StatsStream {
    inner:
        Pin<Box<dyn Stream<Item = Result<ContainerStatsResponse, bollard::errors::Error>> + Send>>,
    target: ContainerTarget,
}

impl StatsStream {
    /// The next reading; `None` when the stream ended (the container stopped).
    pub async fn next(&mut self) -> Option<Result<StatsReading, DockerError>> {
        let item = self.inner.next().await?;
        Some(
            item.map(|response| StatsReading::from_response(&response))
                .map_err(|err| {
                    self.target.engine.error(
                        err,
                        "read the stats of",
                        Object::Container(&self.target.name),
                    )
                }),
        )
    }
}

impl std::fmt::Debug for ContainerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerTarget")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("created_by_pfi", &self.created.is_some())
            .finish()
    }
}

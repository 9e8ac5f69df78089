//! Finding, selecting and creating containers: the `DockerEngine` methods that give a
//! `ContainerTarget`. They live here, not in `docker_engine.rs`, because a target holds its
//! engine: the engine's own file then never imports the target.

use super::container_ref::ContainerRef;
use super::container_selector::{ContainerSelector, pick_indices, validate_pick};
use super::container_spec::ContainerSpec;
use super::container_target::{ContainerTarget, Created};
use super::docker_engine::DockerEngine;
use super::docker_error::{DockerError, Object};
use crate::plan::Pick;
use crate::targets::LifecycleRecorder;
use bollard::query_parameters::CreateContainerOptions;
use std::sync::Arc;

impl DockerEngine {
    /// A target for a container known by id and name (from a ledger), without a call.
    pub fn container(&self, reference: &ContainerRef) -> ContainerTarget {
        ContainerTarget::new(self.clone(), &reference.id, &reference.name, None)
    }

    /// The container with this name or id.
    pub async fn find(&self, reference: &str) -> Result<ContainerTarget, DockerError> {
        let info = self.inspect(reference).await?;
        Ok(ContainerTarget::new(
            self.clone(),
            &info.id,
            &info.name,
            None,
        ))
    }

    /// Every container the selectors name (names and ids must exist; labels match running
    /// containers and must match at least one), without duplicates, sorted by name; then the
    /// ones `pick` keeps, chosen with the run's `seed` on `stream` (one stream per resource).
    pub async fn select(
        &self,
        selectors: &[ContainerSelector],
        pick: &Pick,
        seed: u64,
        stream: &str,
    ) -> Result<Vec<ContainerTarget>, DockerError> {
        if selectors.is_empty() {
            return Err(DockerError::InvalidSelector {
                selector: "(none)".to_string(),
                reason: "give at least one name, id or label".to_string(),
            });
        }
        for selector in selectors {
            selector.validate()?;
        }
        validate_pick(pick)?;
        let mut found: Vec<(String, String)> = Vec::new();
        for selector in selectors {
            if let Some(reference) = selector.reference() {
                let info = self.inspect(reference).await?;
                found.push((info.name, info.id));
            } else if let Some(filter) = selector.label_filter() {
                let matched = self.list_labelled(&filter).await?;
                if matched.is_empty() {
                    return Err(DockerError::NoMatch {
                        selector: selector.to_string(),
                    });
                }
                found.extend(matched.into_iter().map(|r| (r.name, r.id)));
            }
        }
        found.sort();
        found.dedup_by(|a, b| a.1 == b.1);
        let chosen = pick_indices(found.len(), pick, seed, stream);
        Ok(chosen
            .into_iter()
            .map(|index| {
                let (name, id) = &found[index];
                ContainerTarget::new(self.clone(), id, name, None)
            })
            .collect())
    }

    /// Creates and starts a container for a run. Its name is recorded first (`recorder`, the
    /// run's ledger), so `pfi recover` removes it even if pfi dies right after creating it.
    pub async fn create(
        &self,
        spec: &ContainerSpec,
        run_id: &str,
        recorder: Option<Arc<dyn LifecycleRecorder>>,
    ) -> Result<ContainerTarget, DockerError> {
        let body = spec.create_body(run_id)?;
        let name = spec.container_name(run_id);
        let resource = spec.resource.clone();
        if let Some(recorder) = &recorder {
            recorder
                .container_creating(&resource, &name)
                .map_err(|source| DockerError::Record {
                    resource: resource.clone(),
                    source,
                })?;
        }
        let forget = |recorder: &Option<Arc<dyn LifecycleRecorder>>| {
            if let Some(recorder) = recorder
                && let Err(err) = recorder.container_removed(&resource, &name)
            {
                tracing::warn!(resource = %resource, "cannot record the removal: {err}");
            }
        };
        self.count();
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            platform: String::new(),
        };
        // The create call runs as a task of its own: a run interrupted (Ctrl-C) while it is in
        // flight drops this future, but the engine finishes the creation anyway. The task
        // finishes too, and `settle_creations` lets the teardown wait for it before it looks
        // for the container (an inspect before the engine is done answers 404).
        let client = self.client().clone();
        let creating = self.creating().clone();
        creating.send_modify(|n| *n += 1);
        let call = tokio::spawn(async move {
            let created = client.create_container(Some(options), body).await;
            creating.send_modify(|n| *n -= 1);
            created
        });
        let created = match call.await {
            Ok(created) => created,
            Err(join) => Err(bollard::errors::Error::IOError {
                err: std::io::Error::other(format!("the create call failed: {join}")),
            }),
        };
        let created = match created {
            Ok(created) => created,
            Err(err) => {
                forget(&recorder);
                return Err(self.error(err, "create a container from", Object::Image(&spec.image)));
            }
        };
        for warning in &created.warnings {
            tracing::warn!(resource = %resource, container = %name, "{warning}");
        }
        let target = ContainerTarget::new(
            self.clone(),
            &created.id,
            &name,
            Some(Arc::new(Created::new(resource.clone(), recorder.clone()))),
        );
        if let Err(err) = target.start().await {
            // Never leave a container that did not start behind.
            if let Err(cleanup) = target.remove().await {
                tracing::warn!(container = %name, "cannot remove the container that did not start: {cleanup}");
            }
            return Err(err);
        }
        tracing::info!(resource = %resource, container = %name, image = %spec.image, "container started");
        Ok(target)
    }
}

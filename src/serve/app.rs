//! `App`: what every request handler shares — the configuration, the store, the runner and
//! the metrics.

use super::ServeConfig;
use super::alertmanager::Alertmanager;
use super::metrics::Metrics;
use super::runner::Runner;
use super::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct App(Arc<AppParts>);

pub struct AppParts {
    pub config: ServeConfig,
    pub store: Arc<Store>,
    pub runner: Arc<Runner>,
    pub metrics: Arc<Metrics>,
}

impl App {
    pub fn new(
        config: ServeConfig,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        alerts: Option<Arc<Alertmanager>>,
        webhooks: Option<Arc<super::webhooks::Webhooks>>,
    ) -> App {
        let runner = Runner::new(
            store.clone(),
            metrics.clone(),
            config.state_dir.clone(),
            alerts,
            webhooks,
        );
        App(Arc::new(AppParts {
            config,
            store,
            runner,
            metrics,
        }))
    }
}

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

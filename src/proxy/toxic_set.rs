//! The toxics installed on a link at one moment: an immutable snapshot that connections
//! read through a watch channel, replaced as a whole on every change.

use super::stats::ToxicCounters;
use super::stream::Direction;
use super::toxic::Layer;
use super::toxic_config::ToxicConfig;
use std::sync::Arc;

/// One installed toxic.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub(crate) config: ToxicConfig,
    /// How many times it was changed since it was added.
    pub(crate) revision: u64,
    pub(crate) counters: Arc<ToxicCounters>,
}

/// The toxics of a link, in the order they were added (the pipeline order).
#[derive(Debug, Clone, Default)]
pub(crate) struct ToxicSet {
    pub(crate) toxics: Vec<Installed>,
}

impl ToxicSet {
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.toxics.iter().position(|t| t.config.name == name)
    }

    /// Stream toxics acting on `direction`.
    pub(crate) fn stream_toxics(&self, direction: Direction) -> impl Iterator<Item = &Installed> {
        self.toxics.iter().filter(move |t| {
            t.config.toxic.layer() == Layer::Stream && t.config.stream.covers(direction)
        })
    }

    /// HTTP toxics.
    pub(crate) fn http_toxics(&self) -> impl Iterator<Item = &Installed> {
        self.toxics
            .iter()
            .filter(|t| t.config.toxic.layer() == Layer::Http)
    }

    /// Toxics that refuse connections.
    pub(crate) fn refusing(&self) -> impl Iterator<Item = &Installed> {
        self.toxics
            .iter()
            .filter(|t| t.config.toxic.refuses_connections())
    }
}

//! The wrapper every toxic is installed in: name, stream and toxicity, as in Toxiproxy.

use super::stream::Stream;
use super::toxic::Toxic;
use serde::Serialize;
use std::sync::Arc;

/// A toxic to install on a link, with the metadata every toxic shares.
#[derive(Debug, Clone)]
pub struct ToxicConfig {
    /// Unique on its link.
    pub name: String,
    /// The directions it acts on (HTTP toxics: upstream acts on the request before it is
    /// forwarded, downstream on the response).
    pub stream: Stream,
    /// Probability, per connection (stream toxics) or per request (HTTP toxics), that it
    /// applies.
    pub toxicity: f64,
    pub toxic: Arc<dyn Toxic>,
}

impl ToxicConfig {
    /// A downstream toxic that always applies.
    pub fn new(name: impl Into<String>, toxic: impl Toxic) -> Self {
        ToxicConfig {
            name: name.into(),
            stream: Stream::Downstream,
            toxicity: 1.0,
            toxic: Arc::new(toxic),
        }
    }

    pub fn with_stream(mut self, stream: Stream) -> Self {
        self.stream = stream;
        self
    }

    pub fn with_toxicity(mut self, toxicity: f64) -> Self {
        self.toxicity = toxicity;
        self
    }

    /// Checks the shared metadata; the toxic's own attributes were checked when it was built.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("a toxic needs a non-empty name".into());
        }
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(format!(
                "toxicity must be between 0 and 1 (a probability), got {}",
                self.toxicity
            ));
        }
        Ok(())
    }

    /// What the API shows.
    pub fn info(&self) -> ToxicInfo {
        ToxicInfo {
            name: self.name.clone(),
            type_name: self.toxic.type_name().to_string(),
            stream: self.stream,
            toxicity: self.toxicity,
            attributes: self.toxic.attributes(),
        }
    }
}

/// A toxic as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToxicInfo {
    pub name: String,
    pub type_name: String,
    pub stream: Stream,
    pub toxicity: f64,
    pub attributes: serde_json::Value,
}

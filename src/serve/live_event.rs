//! `LiveEvent`: what the subscribers of a live run receive (the runner sends, the live view
//! and the event stream read; in a file of its own so that those two need not import each
//! other).

use super::store::StoredEvent;
use serde_json::Value;

/// What subscribers of a live run receive.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    Event(StoredEvent),
    /// About once a second while the run is measured (see `LiveView`); not stored.
    Sample(Value),
    End {
        status: String,
        exit_code: i64,
    },
}

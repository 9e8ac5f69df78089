//! The run's journal: every event with its time since the run began, kept for `--journal`
//! and handed live to a sink (the CLI prints one line per event).

use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEvent {
    /// Milliseconds since the run began.
    pub at_ms: f64,
    pub message: String,
}

/// Receives each event as it happens.
pub type EventSink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

#[derive(Clone)]
pub struct Journal {
    began: Instant,
    events: Arc<Mutex<Vec<RunEvent>>>,
    sink: EventSink,
}

impl Journal {
    pub fn new(sink: EventSink) -> Journal {
        Journal {
            began: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
            sink,
        }
    }

    /// Milliseconds since the run began.
    pub fn elapsed_ms(&self) -> f64 {
        self.began.elapsed().as_secs_f64() * 1000.0
    }

    pub fn event(&self, message: impl Into<String>) {
        let event = RunEvent {
            at_ms: self.elapsed_ms(),
            message: message.into(),
        };
        tracing::info!("{}", event.message);
        (self.sink)(&event);
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }

    pub fn events(&self) -> Vec<RunEvent> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn keeps_events_in_order_and_tells_the_sink() {
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let journal = Journal::new(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        journal.event("one");
        journal.event("two");
        let events = journal.events();
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert_eq!(events[0].message, "one");
        assert!(events[0].at_ms <= events[1].at_ms);
    }
}

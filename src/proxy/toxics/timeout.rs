//! `timeout`: stops all data; closes the connection after `timeout` ms (never, if 0).

use crate::proxy::attributes::{AttributeError, Attributes, MAX_DELAY_MS};
use crate::proxy::stage::{Chunk, Ended, Ending, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};
use std::time::Duration;

/// A blackhole: data is dropped while the toxic is installed, and the connection is closed
/// `timeout` ms after the toxic started acting on it (0: kept open until the toxic goes).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeout {
    timeout_ms: u64,
}

impl Timeout {
    pub fn new(timeout_ms: u64) -> Self {
        Timeout {
            timeout_ms: timeout_ms.min(MAX_DELAY_MS),
        }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(Timeout::new(a.millis("timeout")?))
    }
}

impl Toxic for Timeout {
    fn type_name(&self) -> &'static str {
        "timeout"
    }

    fn attributes(&self) -> Value {
        json!({"timeout": self.timeout_ms})
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        let close_at = (self.timeout_ms > 0).then(|| Ended {
            at: ctx.now + Duration::from_millis(self.timeout_ms),
            how: Ending::Close,
        });
        Some(Box::new(TimeoutStage { close_at }))
    }
}

struct TimeoutStage {
    close_at: Option<Ended>,
}

impl Stage for TimeoutStage {
    fn chunk(&mut self, _chunk: Chunk, _out: &mut Vec<Chunk>) -> Option<Ended> {
        None
    }

    fn deadline(&self) -> Option<Ended> {
        self.close_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use std::time::Instant;

    fn stage(ms: u64, now: Instant) -> Box<dyn Stage> {
        let ctx = StageContext {
            now,
            direction: Direction::Upstream,
            rng: rng_for(1, "to"),
            bytes_through: 0,
            counters: Default::default(),
        };
        Timeout::new(ms).stage(ctx).unwrap()
    }

    #[test]
    fn data_is_dropped_and_the_close_is_scheduled() {
        let now = Instant::now();
        let mut s = stage(500, now);
        let mut out = Vec::new();
        assert_eq!(
            s.chunk(
                Chunk {
                    data: bytes::Bytes::from_static(b"x"),
                    due: now
                },
                &mut out
            ),
            None
        );
        assert!(out.is_empty());
        assert_eq!(
            s.deadline(),
            Some(Ended {
                at: now + Duration::from_millis(500),
                how: Ending::Close
            })
        );
    }

    #[test]
    fn zero_means_hold_the_connection_open() {
        assert_eq!(stage(0, Instant::now()).deadline(), None);
    }
}

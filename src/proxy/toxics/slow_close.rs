//! `slow_close`: delays the close of the stream by `delay` milliseconds.

use crate::proxy::attributes::{AttributeError, Attributes, MAX_DELAY_MS};
use crate::proxy::stage::{Chunk, Ended, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// When one side closes, the other sees the close `delay` later.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowClose {
    delay_ms: u64,
}

impl SlowClose {
    pub fn new(delay_ms: u64) -> Self {
        SlowClose {
            delay_ms: delay_ms.min(MAX_DELAY_MS),
        }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(SlowClose::new(a.millis("delay")?))
    }
}

impl Toxic for SlowClose {
    fn type_name(&self) -> &'static str {
        "slow_close"
    }

    fn attributes(&self) -> Value {
        json!({"delay": self.delay_ms})
    }

    fn stage(&self, _ctx: StageContext) -> Option<Box<dyn Stage>> {
        Some(Box::new(SlowCloseStage {
            delay: Duration::from_millis(self.delay_ms),
        }))
    }
}

struct SlowCloseStage {
    delay: Duration,
}

impl Stage for SlowCloseStage {
    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        out.push(chunk);
        None
    }

    fn end_of_stream(&mut self, at: Instant) -> Instant {
        at + self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;

    #[test]
    fn the_end_of_stream_is_delayed_and_data_is_not() {
        let now = Instant::now();
        let ctx = StageContext {
            now,
            direction: Direction::Downstream,
            rng: rng_for(1, "sc"),
            bytes_through: 0,
            counters: Default::default(),
        };
        let mut stage = SlowClose::new(250).stage(ctx).unwrap();
        let mut out = Vec::new();
        stage.chunk(
            Chunk {
                data: bytes::Bytes::from_static(b"a"),
                due: now,
            },
            &mut out,
        );
        assert_eq!(out[0].due, now);
        assert_eq!(stage.end_of_stream(now), now + Duration::from_millis(250));
    }
}

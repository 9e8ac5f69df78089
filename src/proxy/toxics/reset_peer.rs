//! `reset_peer`: resets the connection (TCP RST) after `timeout` ms (at once, if 0).

use crate::proxy::attributes::{AttributeError, Attributes, MAX_DELAY_MS};
use crate::proxy::stage::{Chunk, Ended, Ending, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};
use std::time::Duration;

/// Simulates "connection reset by peer": data flows until `timeout` ms after the toxic
/// started acting on the connection, then both sides get a RST.
#[derive(Debug, Clone, PartialEq)]
pub struct ResetPeer {
    timeout_ms: u64,
}

impl ResetPeer {
    pub fn new(timeout_ms: u64) -> Self {
        ResetPeer {
            timeout_ms: timeout_ms.min(MAX_DELAY_MS),
        }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(ResetPeer::new(a.millis("timeout")?))
    }
}

impl Toxic for ResetPeer {
    fn type_name(&self) -> &'static str {
        "reset_peer"
    }

    fn attributes(&self) -> Value {
        json!({"timeout": self.timeout_ms})
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        Some(Box::new(ResetPeerStage {
            reset_at: Ended {
                at: ctx.now + Duration::from_millis(self.timeout_ms),
                how: Ending::Reset,
            },
        }))
    }
}

struct ResetPeerStage {
    reset_at: Ended,
}

impl Stage for ResetPeerStage {
    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        out.push(chunk);
        None
    }

    fn deadline(&self) -> Option<Ended> {
        Some(self.reset_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use std::time::Instant;

    #[test]
    fn data_flows_until_the_reset() {
        let now = Instant::now();
        let ctx = StageContext {
            now,
            direction: Direction::Downstream,
            rng: rng_for(1, "rp"),
            bytes_through: 0,
            counters: Default::default(),
        };
        let mut s = ResetPeer::new(100).stage(ctx).unwrap();
        let mut out = Vec::new();
        s.chunk(
            Chunk {
                data: bytes::Bytes::from_static(b"x"),
                due: now,
            },
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            s.deadline(),
            Some(Ended {
                at: now + Duration::from_millis(100),
                how: Ending::Reset
            })
        );
    }
}

//! `limit_data`: closes the connection once `bytes` bytes went through.

use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::stage::{Chunk, Ended, Ending, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};
use std::time::Instant;

/// Lets `bytes` bytes through on each connection and direction it acts on, then closes.
/// The count carries over when the toxic is changed, as in Toxiproxy.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitData {
    bytes: u64,
}

impl LimitData {
    pub fn new(bytes: u64) -> Self {
        LimitData { bytes }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(LimitData::new(a.whole_or_zero("bytes", "bytes")?))
    }
}

impl Toxic for LimitData {
    fn type_name(&self) -> &'static str {
        "limit_data"
    }

    fn attributes(&self) -> Value {
        json!({"bytes": self.bytes})
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        // A changed toxic whose limit was already reached closes at once.
        let exhausted = (ctx.bytes_through >= self.bytes).then_some(ctx.now);
        Some(Box::new(LimitDataStage {
            limit: self.bytes,
            passed: ctx.bytes_through,
            exhausted,
        }))
    }
}

struct LimitDataStage {
    limit: u64,
    passed: u64,
    exhausted: Option<Instant>,
}

impl Stage for LimitDataStage {
    fn chunk(&mut self, mut chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        let remaining = self.limit.saturating_sub(self.passed);
        if remaining == 0 {
            return Some(Ended {
                at: chunk.due,
                how: Ending::Close,
            });
        }
        if chunk.data.len() as u64 > remaining {
            chunk
                .data
                .truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
        }
        self.passed += chunk.data.len() as u64;
        let at = chunk.due;
        out.push(chunk);
        (self.passed >= self.limit).then_some(Ended {
            at,
            how: Ending::Close,
        })
    }

    fn deadline(&self) -> Option<Ended> {
        self.exhausted.map(|at| Ended {
            at,
            how: Ending::Close,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use bytes::Bytes;

    fn stage(limit: u64, through: u64, now: Instant) -> Box<dyn Stage> {
        let ctx = StageContext {
            now,
            direction: Direction::Downstream,
            rng: rng_for(1, "ld"),
            bytes_through: through,
            counters: Default::default(),
        };
        LimitData::new(limit).stage(ctx).unwrap()
    }

    #[test]
    fn data_is_cut_at_the_limit_and_the_connection_closes() {
        let now = Instant::now();
        let mut s = stage(10, 0, now);
        let mut out = Vec::new();
        assert_eq!(
            s.chunk(
                Chunk {
                    data: Bytes::from_static(b"12345"),
                    due: now
                },
                &mut out
            ),
            None
        );
        let end = s.chunk(
            Chunk {
                data: Bytes::from_static(b"6789abcdef"),
                due: now,
            },
            &mut out,
        );
        assert_eq!(
            end,
            Some(Ended {
                at: now,
                how: Ending::Close
            })
        );
        assert_eq!(out[1].data, Bytes::from_static(b"6789a"));
        assert_eq!(s.deadline(), None, "the close waits for the data");
    }

    #[test]
    fn bytes_already_through_count() {
        let now = Instant::now();
        let s = stage(10, 10, now);
        assert_eq!(
            s.deadline(),
            Some(Ended {
                at: now,
                how: Ending::Close
            })
        );
        assert_eq!(stage(10, 3, now).deadline(), None);
    }
}

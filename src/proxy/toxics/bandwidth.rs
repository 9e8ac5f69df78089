//! `bandwidth`: limits the rate data goes through, per connection (Toxiproxy) or shared by
//! every connection of the link (`"scope": "link"`).

use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::stage::{Chunk, Ended, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Who shares one rate budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthScope {
    Connection,
    Link,
}

/// Data goes through at no more than `rate` KB/s (1 KB = 1000 bytes, as in Toxiproxy).
#[derive(Debug)]
pub struct Bandwidth {
    rate: u64,
    scope: BandwidthScope,
    /// Each direction's link-wide budget.
    link_budget: [Budget; 2],
}

impl Bandwidth {
    pub fn new(rate_kb_per_s: u64, scope: BandwidthScope) -> Result<Self, AttributeError> {
        if rate_kb_per_s == 0 {
            return Err(AttributeError(
                "attribute `rate` must be at least 1 (KB/s); to stop all data use a `timeout` toxic".into(),
            ));
        }
        let now = Instant::now();
        Ok(Bandwidth {
            rate: rate_kb_per_s,
            scope,
            link_budget: [Arc::new(Mutex::new(now)), Arc::new(Mutex::new(now))],
        })
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        let scope = match a.text("scope")? {
            None | Some("connection") => BandwidthScope::Connection,
            Some("link") => BandwidthScope::Link,
            Some(other) => {
                return Err(AttributeError(format!(
                    "attribute `scope` must be \"connection\" or \"link\", got {other:?}"
                )));
            }
        };
        Bandwidth::new(a.whole_or_zero("rate", "KB/s")?, scope)
    }
}

impl Toxic for Bandwidth {
    fn type_name(&self) -> &'static str {
        "bandwidth"
    }

    fn attributes(&self) -> Value {
        match self.scope {
            BandwidthScope::Connection => json!({"rate": self.rate}),
            BandwidthScope::Link => json!({"rate": self.rate, "scope": "link"}),
        }
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        let budget = match self.scope {
            BandwidthScope::Connection => Arc::new(Mutex::new(ctx.now)),
            BandwidthScope::Link => Arc::clone(&self.link_budget[ctx.direction.index()]),
        };
        Some(Box::new(BandwidthStage {
            bytes_per_ms: self.rate,
            budget,
        }))
    }
}

/// When the budget is next free: the stage's own, or one shared by the link.
type Budget = Arc<Mutex<Instant>>;

struct BandwidthStage {
    bytes_per_ms: u64,
    budget: Budget,
}

impl Stage for BandwidthStage {
    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        // Release data in slices worth 10 ms each so the rate is smooth, not bursty.
        let slice = usize::try_from(self.bytes_per_ms.saturating_mul(10))
            .unwrap_or(usize::MAX)
            .max(1);
        let mut data = chunk.data;
        while !data.is_empty() {
            let piece = data.split_to(slice.min(data.len()));
            let cost = Duration::from_nanos(
                (piece.len() as u64).saturating_mul(1_000_000) / self.bytes_per_ms,
            );
            let mut free = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
            *free = (*free).max(chunk.due) + cost;
            let due = *free;
            drop(free);
            out.push(Chunk { data: piece, due });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use bytes::Bytes;

    fn ctx(now: Instant, direction: Direction) -> StageContext {
        StageContext {
            now,
            direction,
            rng: rng_for(1, "bw"),
            bytes_through: 0,
            counters: Arc::default(),
        }
    }

    #[test]
    fn data_is_spread_at_the_rate() {
        let now = Instant::now();
        let toxic = Bandwidth::new(100, BandwidthScope::Connection).unwrap(); // 100 bytes/ms
        let mut stage = toxic.stage(ctx(now, Direction::Downstream)).unwrap();
        let mut out = Vec::new();
        stage.chunk(
            Chunk {
                data: Bytes::from(vec![0u8; 10_000]),
                due: now,
            },
            &mut out,
        );
        assert_eq!(out.iter().map(|c| c.data.len()).sum::<usize>(), 10_000);
        assert_eq!(out.len(), 10);
        assert_eq!(out.last().unwrap().due, now + Duration::from_millis(100));
    }

    #[test]
    fn link_scope_shares_one_budget_between_connections() {
        let toxic = Bandwidth::new(100, BandwidthScope::Link).unwrap();
        let now = Instant::now();
        let mut a = toxic.stage(ctx(now, Direction::Upstream)).unwrap();
        let mut b = toxic.stage(ctx(now, Direction::Upstream)).unwrap();
        let mut out = Vec::new();
        a.chunk(
            Chunk {
                data: Bytes::from(vec![0u8; 1_000]),
                due: now,
            },
            &mut out,
        );
        b.chunk(
            Chunk {
                data: Bytes::from(vec![0u8; 1_000]),
                due: now,
            },
            &mut out,
        );
        assert_eq!(out.last().unwrap().due, now + Duration::from_millis(20));
    }

    #[test]
    fn a_zero_rate_is_refused_and_scope_is_checked() {
        assert!(Bandwidth::new(0, BandwidthScope::Connection).is_err());
        let v = serde_json::json!({"rate": 5, "scope": "planet"});
        assert!(Bandwidth::from_attributes(&Attributes::new(&v).unwrap()).is_err());
        let v = serde_json::json!({"rate": 5, "scope": "link"});
        let t = Bandwidth::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        assert_eq!(t.attributes(), v);
    }
}

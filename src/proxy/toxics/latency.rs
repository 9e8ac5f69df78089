//! `latency`: delays every chunk of data by a drawn delay, keeping the stream's order.
//! Toxiproxy's `latency` ± `jitter` is uniform; `latency_distribution` takes any distribution.

use crate::plan::Distribution;
use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::delay_spec::DelaySpec;
use crate::proxy::stage::{Chunk, Ended, Stage, StageContext};
use crate::proxy::stats::ToxicCounters;
use crate::proxy::toxic::Toxic;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// Adds a delay to each chunk of data.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    delay: DelaySpec,
}

impl Latency {
    /// Toxiproxy's form: `latency_ms` ± `jitter_ms`, uniform.
    pub fn toxiproxy(latency_ms: u64, jitter_ms: u64) -> Self {
        Latency {
            delay: DelaySpec::toxiproxy(latency_ms, jitter_ms),
        }
    }

    /// Any distribution, in milliseconds.
    pub fn distribution(delay: Distribution) -> Result<Self, AttributeError> {
        Ok(Latency {
            delay: DelaySpec::distribution(delay)?,
        })
    }

    /// The `latency` type: `{"latency": ms, "jitter": ms}`.
    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(Latency {
            delay: DelaySpec::from_toxiproxy_attributes(a)?,
        })
    }

    /// The `latency_distribution` type: `{"distribution": {...}}`.
    pub fn from_distribution_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(Latency {
            delay: DelaySpec::from_distribution_attributes(a)?,
        })
    }

    pub fn delay(&self) -> &Distribution {
        self.delay.as_distribution()
    }
}

impl Toxic for Latency {
    fn type_name(&self) -> &'static str {
        if self.delay.is_toxiproxy() {
            "latency"
        } else {
            "latency_distribution"
        }
    }

    fn attributes(&self) -> Value {
        let mut map = Map::new();
        self.delay.write_attributes(&mut map);
        Value::Object(map)
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        Some(Box::new(LatencyStage {
            delay: self.delay.clone(),
            rng: ctx.rng,
            last_due: ctx.now,
            counters: ctx.counters,
        }))
    }
}

struct LatencyStage {
    delay: DelaySpec,
    rng: ChaCha8Rng,
    last_due: Instant,
    counters: Arc<ToxicCounters>,
}

impl Stage for LatencyStage {
    fn chunk(&mut self, mut chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        let delay = self.delay.sample(&mut self.rng);
        self.counters.record_delay(delay);
        chunk.due = (chunk.due + delay).max(self.last_due);
        self.last_due = chunk.due;
        out.push(chunk);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use bytes::Bytes;
    use std::time::Duration;

    fn ctx(now: Instant) -> StageContext {
        StageContext {
            now,
            direction: Direction::Downstream,
            rng: rng_for(7, "latency-test"),
            bytes_through: 0,
            counters: Arc::default(),
        }
    }

    #[test]
    fn each_chunk_is_delayed_and_order_is_kept() {
        let now = Instant::now();
        let toxic = Latency::distribution(Distribution::Uniform {
            min: 0.0,
            max: 50.0,
        })
        .unwrap();
        let mut stage = toxic.stage(ctx(now)).unwrap();
        let mut out = Vec::new();
        for i in 0..100u64 {
            let due = now + Duration::from_micros(i);
            stage.chunk(
                Chunk {
                    data: Bytes::from_static(b"x"),
                    due,
                },
                &mut out,
            );
        }
        assert_eq!(out.len(), 100);
        assert!(out.windows(2).all(|w| w[0].due <= w[1].due));
        assert!(
            out.iter()
                .all(|c| c.due >= now && c.due <= now + Duration::from_millis(51))
        );
    }

    #[test]
    fn toxiproxy_attributes_round_trip() {
        let v = serde_json::json!({"latency": 100, "jitter": 10});
        let toxic = Latency::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        assert_eq!(toxic.type_name(), "latency");
        assert_eq!(toxic.attributes(), v);
        assert_eq!(
            toxic.delay(),
            &Distribution::Uniform {
                min: 90.0,
                max: 110.0
            }
        );
    }

    #[test]
    fn fixed_delays_are_recorded() {
        let now = Instant::now();
        let c = ctx(now);
        let counters = Arc::clone(&c.counters);
        let mut stage = Latency::toxiproxy(20, 0).stage(c).unwrap();
        let mut out = Vec::new();
        stage.chunk(
            Chunk {
                data: Bytes::from_static(b"x"),
                due: now,
            },
            &mut out,
        );
        assert_eq!(out[0].due, now + Duration::from_millis(20));
        assert_eq!(counters.delay.snapshot().count(), 1);
    }
}

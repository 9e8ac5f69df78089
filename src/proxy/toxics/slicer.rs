//! `slicer`: cuts data into small pieces of about `average_size` bytes (± `size_variation`),
//! `delay` microseconds apart.

use crate::proxy::attributes::{AttributeError, Attributes, MAX_DELAY_MS};
use crate::proxy::stage::{Chunk, Ended, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The largest average slice: 1 GiB.
const MAX_SLICE: u64 = 1 << 30;

/// Slices data the way a congested network would deliver it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slicer {
    average_size: u64,
    size_variation: u64,
    delay_us: u64,
}

impl Slicer {
    pub fn new(
        average_size: u64,
        size_variation: u64,
        delay_us: u64,
    ) -> Result<Self, AttributeError> {
        if !(1..=MAX_SLICE).contains(&average_size) {
            return Err(AttributeError(format!(
                "attribute `average_size` must be from 1 to {MAX_SLICE} (bytes), got {average_size}"
            )));
        }
        if size_variation > average_size {
            return Err(AttributeError(format!(
                "attribute `size_variation` ({size_variation}) must not exceed `average_size` ({average_size})"
            )));
        }
        Ok(Slicer {
            average_size,
            size_variation,
            delay_us: delay_us.min(MAX_DELAY_MS * 1_000),
        })
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Slicer::new(
            a.whole_or_zero("average_size", "bytes")?,
            a.whole_or_zero("size_variation", "bytes")?,
            a.micros("delay")?,
        )
    }
}

impl Toxic for Slicer {
    fn type_name(&self) -> &'static str {
        "slicer"
    }

    fn attributes(&self) -> Value {
        json!({"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us})
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        Some(Box::new(SlicerStage {
            slicer: self.clone(),
            rng: ctx.rng,
            last_due: ctx.now,
        }))
    }
}

struct SlicerStage {
    slicer: Slicer,
    rng: ChaCha8Rng,
    last_due: Instant,
}

impl Stage for SlicerStage {
    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended> {
        let s = &self.slicer;
        let gap = Duration::from_micros(s.delay_us);
        let mut due = chunk.due.max(self.last_due);
        let mut data = chunk.data;
        let mut first = true;
        while !data.is_empty() {
            let size = self
                .rng
                .random_range(s.average_size - s.size_variation..=s.average_size + s.size_variation)
                .max(1);
            let piece = data.split_to(usize::try_from(size).unwrap_or(usize::MAX).min(data.len()));
            if !first {
                due += gap;
            }
            first = false;
            out.push(Chunk { data: piece, due });
        }
        self.last_due = due;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use bytes::Bytes;

    #[test]
    fn pieces_are_about_the_average_size_and_spaced_by_the_delay() {
        let now = Instant::now();
        let ctx = StageContext {
            now,
            direction: Direction::Downstream,
            rng: rng_for(3, "slicer"),
            bytes_through: 0,
            counters: Default::default(),
        };
        let mut stage = Slicer::new(10, 4, 100).unwrap().stage(ctx).unwrap();
        let mut out = Vec::new();
        let data: Vec<u8> = (0..=255).collect();
        stage.chunk(
            Chunk {
                data: Bytes::from(data.clone()),
                due: now,
            },
            &mut out,
        );
        let joined: Vec<u8> = out.iter().flat_map(|c| c.data.to_vec()).collect();
        assert_eq!(joined, data);
        assert!(
            out[..out.len() - 1]
                .iter()
                .all(|c| (6..=14).contains(&c.data.len()))
        );
        assert_eq!(out[1].due - out[0].due, Duration::from_micros(100));
    }

    #[test]
    fn sizes_are_validated() {
        assert!(Slicer::new(0, 0, 0).is_err());
        assert!(Slicer::new(u64::MAX, 1, 0).is_err());
        assert!(
            Slicer::new(5, 6, 0)
                .unwrap_err()
                .0
                .contains("size_variation")
        );
    }
}

//! `down`: the service is down. New connections are reset as soon as they are accepted
//! (clients see them refused); connections already open are reset. A fault, not a flag: it
//! has a name, a toxicity (the share of connections refused) and is removed like any toxic.

use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::stage::{Chunk, Ended, Ending, Stage, StageContext};
use crate::proxy::toxic::Toxic;
use serde_json::{Value, json};

/// Refuses connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Down;

impl Down {
    pub fn from_attributes(_a: &Attributes) -> Result<Self, AttributeError> {
        Ok(Down)
    }
}

impl Toxic for Down {
    fn type_name(&self) -> &'static str {
        "down"
    }

    fn attributes(&self) -> Value {
        json!({})
    }

    fn refuses_connections(&self) -> bool {
        true
    }

    fn stage(&self, ctx: StageContext) -> Option<Box<dyn Stage>> {
        Some(Box::new(DownStage {
            reset: Ended {
                at: ctx.now,
                how: Ending::Reset,
            },
        }))
    }
}

/// Resets a connection that was open when the toxic was added.
struct DownStage {
    reset: Ended,
}

impl Stage for DownStage {
    fn chunk(&mut self, _chunk: Chunk, _out: &mut Vec<Chunk>) -> Option<Ended> {
        Some(self.reset)
    }

    fn deadline(&self) -> Option<Ended> {
        Some(self.reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use crate::proxy::stream::Direction;
    use std::time::Instant;

    #[test]
    fn down_refuses_and_resets_at_once() {
        let now = Instant::now();
        assert!(Down.refuses_connections());
        let ctx = StageContext {
            now,
            direction: Direction::Upstream,
            rng: rng_for(1, "down"),
            bytes_through: 0,
            counters: Default::default(),
        };
        let stage = Down.stage(ctx).unwrap();
        assert_eq!(
            stage.deadline(),
            Some(Ended {
                at: now,
                how: Ending::Reset
            })
        );
    }
}

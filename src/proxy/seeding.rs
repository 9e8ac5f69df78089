//! The names of the seeded random streams behind every proxy decision.
//!
//! This is the reproducibility contract: a decision draws from
//! `crate::plan::seed::rng_for(seed, name)` where the name depends only on the link, the
//! toxic and the index of the connection or request on that link (counted from 0 in accept
//! or arrival order). So the same seed gives the same decisions however tasks interleave,
//! and adding one toxic does not change the decisions of another.

use super::stream::Direction;
use crate::plan::seed::rng_for;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Whether `toxic` applies to connection `connection` of `link`: the first draw of this
/// stream is compared with the toxicity. It does not depend on the toxic's attributes, so
/// raising the toxicity keeps the connections already selected.
pub fn toxicity_stream(link: &str, toxic: &str, connection: u64) -> String {
    format!("proxy/{link}/{toxic}/connection/{connection}")
}

/// The samples (delays, slice sizes) of `toxic` on one direction of one connection.
/// `revision` counts the updates of the toxic, so a changed toxic draws fresh values.
pub fn stage_stream(
    link: &str,
    toxic: &str,
    revision: u64,
    connection: u64,
    direction: Direction,
) -> String {
    format!(
        "proxy/{link}/{toxic}/r{revision}/connection/{connection}/{}",
        direction.as_str()
    )
}

/// Everything `toxic` decides about HTTP request `request` of `link`: the first draw is the
/// toxicity, later draws are the toxic's own (a delay, say).
pub fn request_stream(link: &str, toxic: &str, request: u64) -> String {
    format!("proxy/{link}/{toxic}/request/{request}")
}

/// Draws whether a toxic with `toxicity` applies, from a fresh stream.
pub fn applies(seed: u64, stream: &str, toxicity: f64) -> bool {
    applies_with(&mut rng_for(seed, stream), toxicity)
}

/// Draws whether a toxic with `toxicity` applies, from `rng` (always one draw).
pub fn applies_with(rng: &mut ChaCha8Rng, toxicity: f64) -> bool {
    let draw: f64 = rng.random();
    draw < toxicity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_per_connection_direction_and_revision() {
        let a = stage_stream("db", "lat", 0, 1, Direction::Upstream);
        let b = stage_stream("db", "lat", 0, 1, Direction::Downstream);
        let c = stage_stream("db", "lat", 1, 1, Direction::Upstream);
        let d = stage_stream("db", "lat", 0, 2, Direction::Upstream);
        assert!(a != b && a != c && a != d);
        assert_ne!(
            toxicity_stream("db", "lat", 1),
            request_stream("db", "lat", 1)
        );
    }

    #[test]
    fn toxicity_draws_are_reproducible_and_monotone() {
        let n = 2_000;
        let picked = |p: f64| -> Vec<bool> {
            (0..n)
                .map(|i| applies(42, &toxicity_stream("l", "t", i), p))
                .collect()
        };
        assert_eq!(picked(0.3), picked(0.3));
        let low = picked(0.3);
        let high = picked(0.6);
        assert!(low.iter().zip(&high).all(|(l, h)| !l || *h));
        let rate = low.iter().filter(|b| **b).count() as f64 / n as f64;
        assert!((rate - 0.3).abs() < 0.05, "{rate}");
        assert!(picked(1.0).iter().all(|b| *b));
        assert!(picked(0.0).iter().all(|b| !*b));
    }
}

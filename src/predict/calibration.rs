//! `Calibration`: a monotone map from a detector's raw probability to the frequency with which
//! what it forecasts actually happened, fitted offline and shipped as data.
//!
//! [`FORECAST`] calibrates `forecast`'s P(limit reached within the horizon). It was fitted by
//! isotonic regression (pool-adjacent-violators) in `cargo bench --bench precursors` on the
//! development corpus (seed 1: every scored sample is an event, "the fault came within the
//! horizon"); the bench prints the table it fits, and the reliability buckets and Brier score of
//! the held-out corpus (seed 2) raw, with the freshly fitted table, and with this shipped one.
//! The corpus is generated, not recorded, and its horizon is 15 minutes: the table assumes that
//! the forecaster's miscalibration (under-confident once a trend is seen) does not depend on
//! the horizon. The raw probability stays the detector's score (thresholds and predicted stops
//! are defined on it); the calibrated one is what a user is shown as the confidence of a
//! forecast (`Crossing::confidence`, `pfi detect --explain`, `pfi run`'s predictions).

/// Isotonic steps: `(highest raw score of the block, observed frequency)`, both ascending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub steps: &'static [(f64, f64)],
}

impl Calibration {
    /// The calibrated probability of `raw`: the frequency of the first block whose highest raw
    /// score is at least `raw` (the last block beyond them). A non-finite `raw` maps to 0.
    pub fn apply(&self, raw: f64) -> f64 {
        apply_steps(self.steps, raw)
    }
}

/// [`Calibration::apply`] on any step table (the bench applies its freshly fitted one).
pub fn apply_steps(steps: &[(f64, f64)], raw: f64) -> f64 {
    if !raw.is_finite() {
        return 0.0;
    }
    let at = steps.partition_point(|(s, _)| *s < raw);
    steps
        .get(at)
        .or(steps.last())
        .map_or(raw, |(_, p)| *p)
        .clamp(0.0, 1.0)
}

/// `forecast`'s calibration (printed by `cargo bench --bench precursors`, development corpus).
pub const FORECAST: Calibration = Calibration {
    steps: &[
        (1.8512149886961126e-11, 0.0078),
        (1.7886923821816282e-10, 0.0238),
        (5.879449238812576e-10, 0.0399),
        (1.4582600460343122e-9, 0.0525),
        (2.8690111729963307e-7, 0.0745),
        (2.0796016852074494e-6, 0.1001),
        (5.017867046253383e-6, 0.1204),
        (9.105545046000748e-6, 0.1600),
        (2.2011286988234047e-5, 0.1818),
        (6.049926927974203e-5, 0.2219),
        (8.252009509867438e-5, 0.2469),
        (0.00024272270593439025, 0.2670),
        (0.00026347554812602536, 0.3103),
        (0.0003141221627803931, 0.3333),
        (0.000477511168062141, 0.3611),
        (0.0004792274479621487, 0.5000),
        (0.0031017222129552597, 0.5551),
        (0.0035895745388708263, 0.6316),
        (0.003965074497481225, 0.6667),
        (0.00799990208823642, 0.7023),
        (0.048525917378279056, 0.7407),
        (0.05296319365123275, 0.8222),
        (0.14597306339977142, 0.8650),
        (0.999999950900131, 0.9041),
        (0.9999999999946311, 0.9268),
        (0.9999999999999994, 0.9692),
        (1.0, 0.9978),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_is_monotone_and_within_bounds() {
        let steps = FORECAST.steps;
        assert!(!steps.is_empty());
        for w in steps.windows(2) {
            assert!(w[0].0 < w[1].0, "raw scores not ascending: {w:?}");
            assert!(w[0].1 <= w[1].1, "frequencies not ascending: {w:?}");
        }
        for (raw, p) in steps {
            assert!((0.0..=1.0).contains(raw) && (0.0..=1.0).contains(p));
        }
        // Monotone over the whole range, and a certainty stays near certain.
        let mut last = 0.0;
        for i in 0..=100 {
            let p = FORECAST.apply(f64::from(i) / 100.0);
            assert!(p >= last, "not monotone at {i}");
            last = p;
        }
        assert!(FORECAST.apply(1.0) > 0.9);
        assert_eq!(FORECAST.apply(f64::NAN), 0.0);
    }

    #[test]
    fn steps_map_each_block_to_its_frequency() {
        let steps = [(0.1, 0.0), (0.5, 0.3), (0.9, 0.8)];
        assert_eq!(apply_steps(&steps, 0.05), 0.0);
        assert_eq!(apply_steps(&steps, 0.1), 0.0);
        assert_eq!(apply_steps(&steps, 0.2), 0.3);
        assert_eq!(apply_steps(&steps, 0.95), 0.8);
    }
}

//! Turning a tail probability into a score in [0, 1].
//!
//! The single-model detectors (`ewma`, `robust_z`, `holt_winters`, `isolation_forest`) report
//! *surprise*: how improbable the sample is under the detector's running model of normal
//! behaviour. With `d = log10(1/p)` the orders of magnitude of improbability of a tail
//! probability `p`, the score is `d / (d + HALF_DECADES)`: 0 for an unremarkable sample, 0.33 for
//! one in a thousand (about 3.3 sigma), 0.5 for one in a million (about 4.9 sigma), 0.67 for one in
//! 10^12, approaching 1 without reaching it. Working in logarithms, and never saturating, keeps
//! extreme samples ordered (a plain `1 - p` rounds to 1.0 beyond about eight standard
//! deviations, and ties at 1.0 make a threshold useless).

use std::f64::consts::{LN_10, SQRT_2};

/// Orders of magnitude of improbability that map to a score of 0.5 (one in a million).
pub const HALF_DECADES: f64 = 6.0;

/// Natural log of the complementary error function, `ln(erfc(x))`, accurate to a relative error
/// of about 1.2e-7 in `erfc` for every `x`, without underflow for large `x`. The coefficients are
/// the published Chebyshev fit to erfc (Numerical Recipes, section 6.2), evaluated in logs.
pub fn ln_erfc(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    if x < 0.0 {
        // erfc(x) = 2 - erfc(-x), which lies in [1, 2]: no precision problem.
        return (2.0 - ln_erfc(-x).exp()).ln();
    }
    let t = 1.0 / (1.0 + 0.5 * x);
    // Estrin's scheme: the same polynomial in t, evaluated in a shallow tree of independent
    // products instead of nine dependent steps (this function is the hot path of `ewma` and
    // `robust_z`).
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let p01 = -1.265_512_23 + 1.000_023_68 * t;
    let p23 = 0.374_091_96 + 0.096_784_18 * t;
    let p45 = -0.186_288_06 + 0.278_868_07 * t;
    let p67 = -1.135_203_98 + 1.488_515_87 * t;
    let p89 = -0.822_152_23 + 0.170_872_77 * t;
    let poly = (p01 + p23 * t2) + (p45 + p67 * t2) * t4 + p89 * t8;
    t.ln() - x * x + poly
}

/// `ln P(|Z| >= |z|)` for a standard normal `Z`: the two-sided tail.
pub fn ln_two_sided_p(z: f64) -> f64 {
    ln_erfc(z.abs() / SQRT_2).min(0.0)
}

/// The surprise score of a tail probability given by its natural log.
pub fn score_from_ln_p(ln_p: f64) -> f64 {
    if ln_p.is_nan() {
        return 0.0;
    }
    let decades = (-ln_p / LN_10).max(0.0);
    if decades.is_infinite() {
        return 1.0;
    }
    decades / (decades + HALF_DECADES)
}

/// The surprise score of a z-score, two-sided (both directions are anomalous).
pub fn score_from_z(z: f64) -> f64 {
    score_from_ln_p(ln_two_sided_p(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207050285, erfc(3) = 2.20904969985854e-5,
        // erfc(10) = 2.08848758376254e-45.
        for (x, expected) in [
            (0.0, 1.0_f64),
            (1.0, 0.157_299_207_050_285),
            (3.0, 2.209_049_699_858_54e-5),
            (10.0, 2.088_487_583_762_54e-45),
            (-1.0, 1.842_700_792_949_715),
        ] {
            let got = ln_erfc(x);
            assert!(
                (got - expected.ln()).abs() < 1e-6,
                "ln erfc({x}) = {got}, want {}",
                expected.ln()
            );
        }
    }

    #[test]
    fn scores_are_monotone_and_bounded() {
        let mut previous = -1.0;
        for i in 0..200 {
            let z = f64::from(i) * 0.1;
            let s = score_from_z(z);
            assert!((0.0..=1.0).contains(&s));
            assert!(s >= previous, "score must not decrease with |z|");
            previous = s;
        }
        assert_eq!(score_from_z(0.0), 0.0);
        assert!(score_from_z(100.0) > 0.99 && score_from_z(100.0) < 1.0);
        assert!(
            score_from_z(40.0) < score_from_z(41.0),
            "extremes stay ordered"
        );
        assert_eq!(score_from_z(f64::NAN), 0.0);
        assert_eq!(score_from_z(f64::INFINITY), 1.0);
        // Three sigma is about a one-in-370 event: 2.57 / (2.57 + 6) = 0.300.
        assert!((score_from_z(3.0) - 0.300).abs() < 0.001);
    }
}

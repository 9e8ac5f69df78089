//! `ensemble`: several views of one metric combined into one early alarm score.
//!
//! Views, each scored against the metric's own history (so one parameter set fits quiet and
//! noisy metrics alike):
//! - **extremes**: a value beyond the range of the last `extreme_window` values, scored by its
//!   excess as a fraction of that range (catches spikes, drops and breaks out of the usual band
//!   the moment they happen);
//! - **level**: the robust z-score of each value against the median/MAD of the last
//!   `level_window` values (`robust_z`), averaged over `sustain` samples; a record of that
//!   sustained deviation scores (catches level shifts inside the historical range);
//! - **season**: the Holt-Winters forecast residual (`holt_winters`, daily season from the
//!   timestamps) as a z-score, averaged and scored as a record in the same way (catches a broken
//!   daily rhythm: a missing peak, a flat day, a peak at the wrong time);
//! - **forest** (off by default): the isolation-forest score of the last few values' shape
//!   (`isolation_forest`), averaged and scored as a record;
//! - **forecast** (only when the metric's limit is given, `limit` and `direction`): the
//!   probability that the limit is reached within `horizon` seconds (`forecast`). With a limit
//!   the question is "will it fail?", so an anomaly of the other views counts as an early
//!   warning only as far as the forecast agrees: the score is
//!   `max(P, min(anomaly, agree · P))` (an odd value while the limit is far away — a blip, a
//!   level shift that stays below it — is not a warning). The probability is not held by the
//!   suppressor: it is a state, not an event, and it rises as the breach comes closer.
//!
//! The score is the strongest view; then a `Suppressor` raises one alarm per incident (NAB
//! rewards the earliest detection in a window and counts every repeat as a false positive).
//! The weights, tolerances and windows were chosen once for the whole NAB corpus (see the
//! module documentation of `predict`); nothing adapts per file beyond the streaming state.

use super::crossing::Crossing;
use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::extremes::Extremes;
use super::forecast::{self, Forecast};
use super::holt_winters::{HoltWinters, HoltWintersConfig};
use super::isolation_forest::{IsolationForest, IsolationForestConfig};
use super::param_spec::{ParamSpec, WARMUP};
use super::params::Params;
use super::robust_z::RobustZ;
use super::suppressor::Suppressor;
use super::sustained::SustainedRecord;

/// The registry entry of `ensemble`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "ensemble",
    doc: "the best on NAB: new extremes, sustained robust level shifts and sustained \
          Holt-Winters residuals (plus, optionally, isolation-forest shapes), each scored \
          against the metric's own history; the strongest view wins and one alarm is raised \
          per incident",
    params: &[
        ParamSpec::real(
            "w_extreme",
            1.0,
            0.0,
            1.0,
            "weight of the extremes view (0 = off)",
        ),
        ParamSpec::real(
            "w_level",
            1.0,
            0.0,
            1.0,
            "weight of the level view (0 = off)",
        ),
        ParamSpec::real(
            "w_season",
            1.0,
            0.0,
            1.0,
            "weight of the Holt-Winters view (0 = off)",
        ),
        ParamSpec::real(
            "w_forest",
            0.0,
            0.0,
            1.0,
            "weight of the isolation-forest view (0 = off)",
        ),
        ParamSpec::integer(
            "extreme_window",
            4000.0,
            0.0,
            10_000_000.0,
            "samples the extremes view remembers (0 = all)",
        ),
        ParamSpec::real(
            "extreme_tol",
            0.01,
            1.0e-9,
            10.0,
            "excess beyond the range, as a fraction of it, that scores 0.5",
        ),
        ParamSpec::integer(
            "level_window",
            512.0,
            3.0,
            100_000.0,
            "samples in the level view's median/MAD window",
        ),
        ParamSpec::real(
            "level_tol",
            0.03,
            1.0e-9,
            100.0,
            "relative excess over the level record that scores 0.5",
        ),
        ParamSpec::real(
            "season_alpha",
            0.1,
            1.0e-4,
            1.0,
            "Holt-Winters level smoothing",
        ),
        ParamSpec::real(
            "season_gamma",
            0.5,
            0.0,
            1.0,
            "Holt-Winters seasonal smoothing",
        ),
        ParamSpec::real(
            "season_tol",
            0.12,
            1.0e-9,
            100.0,
            "relative excess over the season record that scores 0.5",
        ),
        ParamSpec::real(
            "forest_tol",
            0.1,
            1.0e-9,
            100.0,
            "relative excess over the forest record that scores 0.5",
        ),
        ParamSpec::integer(
            "sustain",
            40.0,
            1.0,
            10_000.0,
            "samples a deviation is averaged over before it counts",
        ),
        ParamSpec::real(
            "settle",
            0.5,
            0.0,
            1.0,
            "fraction of the warm-up after which scoring views start keeping records",
        ),
        ParamSpec::real(
            "alarm",
            0.45,
            0.0,
            1.0,
            "score that raises an alarm and starts the hold",
        ),
        ParamSpec::integer(
            "hold",
            100.0,
            0.0,
            1_000_000.0,
            "samples silenced after an alarm",
        ),
        ParamSpec::real(
            "escalate",
            2.0,
            1.0,
            1000.0,
            "a score this many times the alarm's gets through the hold",
        ),
        ParamSpec::real(
            "limit",
            0.0,
            -1.0e300,
            1.0e300,
            "the value at which the metric fails (with `direction`): adds the forecast view",
        ),
        ParamSpec::integer(
            "direction",
            0.0,
            -1.0,
            1.0,
            "1 = fails when rising to `limit`, -1 = when falling to it, 0 = no limit (no \
             forecast view)",
        ),
        ParamSpec::real(
            "horizon",
            900.0,
            1.0e-3,
            1.0e9,
            "seconds ahead the forecast view looks for a breach",
        ),
        ParamSpec::real(
            "agree",
            2.0,
            0.0,
            1.0e9,
            "with a limit, an anomaly scores at most this many times the breach probability",
        ),
        WARMUP,
    ],
    build: |p| Box::new(Ensemble::from_params(p)),
};

/// The combined detector (see the module documentation).
#[derive(Debug, Clone)]
pub struct Ensemble {
    extremes: Extremes,
    extreme_weight: f64,
    extreme_tol: f64,
    level: RobustZ,
    level_record: SustainedRecord,
    level_weight: f64,
    season: HoltWinters,
    season_record: SustainedRecord,
    season_weight: f64,
    forest: Option<(IsolationForest, SustainedRecord)>,
    forest_weight: f64,
    suppressor: Suppressor,
    /// The forecast view and `agree`, when a limit is given.
    forecast: Option<(Forecast, f64)>,
    warmup: usize,
    settle: usize,
    seen: usize,
    /// The view that gave the latest score, its score and its raw reading (for `explain`).
    winner: (&'static str, f64, f64),
}

impl Ensemble {
    pub fn from_params(p: &Params) -> Ensemble {
        let warmup = p.count("warmup");
        let sustain = p.count("sustain");
        let forest_weight = p.get("w_forest");
        Ensemble {
            extremes: Extremes::new(p.count("extreme_window")),
            extreme_weight: p.get("w_extreme"),
            extreme_tol: p.get("extreme_tol"),
            level: RobustZ::new(p.count("level_window"), 0.0, 0),
            level_record: SustainedRecord::new(sustain, p.get("level_tol")),
            level_weight: p.get("w_level"),
            season: HoltWinters::new(HoltWintersConfig {
                alpha: p.get("season_alpha"),
                beta: 0.01,
                gamma: p.get("season_gamma"),
                season: 0,
                scale_rate: 0.01,
                range_floor: 0.0,
                warmup: 0,
            }),
            season_record: SustainedRecord::new(sustain, p.get("season_tol")),
            season_weight: p.get("w_season"),
            forest: (forest_weight > 0.0).then(|| {
                let forest = IsolationForest::new(IsolationForestConfig {
                    trees: 32,
                    sample_size: 64,
                    shingle: 4,
                    window: 1024,
                    rebuild_every: 16,
                    scale_rate: 0.01,
                    seed: 1,
                    warmup: 0,
                });
                (forest, SustainedRecord::new(sustain, p.get("forest_tol")))
            }),
            forest_weight,
            suppressor: Suppressor::new(p.get("alarm"), p.count("hold"), p.get("escalate")),
            forecast: forecast_view(p),
            warmup,
            settle: (p.get("settle") * warmup as f64).ceil() as usize,
            seen: 0,
            winner: ("none", 0.0, 0.0),
        }
    }
}

/// The `forecast` detector towards the ensemble's limit (`None` without one), with its
/// defaults but the ensemble's limit, direction, horizon and warm-up.
fn forecast_view(p: &Params) -> Option<(Forecast, f64)> {
    let direction = p.get("direction");
    if direction == 0.0 {
        return None;
    }
    let mut own = Params::defaults(forecast::SPEC.params);
    for (i, spec) in forecast::SPEC.params.iter().enumerate() {
        if matches!(spec.name, "limit" | "direction" | "horizon" | "warmup") {
            own.set(i, p.get(spec.name));
        }
    }
    Some((Forecast::from_params(&own), p.get("agree")))
}

impl Detector for Ensemble {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let settled = self.seen >= self.settle;
        let mut best: f64 = 0.0;
        let mut winner = ("none", 0.0, 0.0);
        let mut consider = |view: &'static str, score: f64, raw: f64| {
            if score > best {
                best = score;
                winner = (view, score, raw);
            }
        };
        if self.extreme_weight > 0.0 {
            if settled {
                let excess = self.extremes.excess(value);
                consider(
                    "extremes",
                    self.extreme_weight * excess / (excess + self.extreme_tol),
                    excess,
                );
            }
            self.extremes.learn(value);
        }
        if self.level_weight > 0.0 {
            let z = self.level.z(value);
            self.level.learn(value);
            consider(
                "level",
                self.level_weight * self.level_record.update(z, settled),
                z,
            );
        }
        if self.season_weight > 0.0 {
            let z = self.season.residual_z(timestamp_secs, value);
            consider(
                "season",
                self.season_weight * self.season_record.update(z, settled),
                z,
            );
        }
        if let Some((forest, record)) = self.forest.as_mut() {
            let z = forest.observe(value).1.max(0.0);
            consider("forest", self.forest_weight * record.update(z, settled), z);
        }
        let scoring = self.seen >= self.warmup;
        self.seen = self.seen.saturating_add(1);
        let anomaly = if scoring {
            self.suppressor.apply(best)
        } else {
            0.0
        };
        let Some((forecast, agree)) = self.forecast.as_mut() else {
            self.winner = winner;
            return anomaly;
        };
        let p = forecast.update(timestamp_secs, value);
        let agreed = anomaly.min(*agree * p);
        if p >= agreed {
            self.winner = ("forecast", p, p);
            p
        } else {
            self.winner = (winner.0, agreed, winner.2);
            agreed
        }
    }

    fn crossing(&self) -> Option<Crossing> {
        self.forecast.as_ref().and_then(|(f, _)| f.crossing())
    }

    fn footprint(&self) -> usize {
        self.extremes.footprint()
            + self.level.footprint()
            + self.level_record.footprint()
            + self.season.footprint()
            + self.season_record.footprint()
            + self
                .forest
                .as_ref()
                .map_or(0, |(f, r)| f.footprint() + r.footprint())
            + self.forecast.as_ref().map_or(0, |(f, _)| f.footprint())
            + 8
    }

    fn explain(&self) -> Option<String> {
        let (view, score, raw) = self.winner;
        let detail = match view {
            "extremes" => format!(
                "the value lies beyond the range of the last values by {raw:.3} of its width"
            ),
            "level" => format!(
                "a sustained shift of the level: robust z {raw:+.2} against the rolling median, \
                 beyond the metric's own record"
            ),
            "season" => format!(
                "a broken daily rhythm: Holt-Winters residual z {raw:+.2}, sustained beyond the \
                 metric's own record"
            ),
            "forest" => format!("an unusual shape: isolation score {raw:.2}, beyond its record"),
            "forecast" => {
                let why = self.forecast.as_ref().and_then(|(f, _)| f.explain())?;
                return Some(format!("ensemble: the forecast view ({score:.2}): {why}"));
            }
            _ => return None,
        };
        Some(format!("ensemble: the {view} view ({score:.2}): {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::registry::resolve;

    fn ensemble(warmup: f64) -> Ensemble {
        let params =
            resolve("ensemble", &[("warmup".into(), warmup)]).unwrap_or_else(|e| panic!("{e}"));
        Ensemble::from_params(&params)
    }

    fn noisy(i: usize) -> f64 {
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        50.0 + 10.0 * phase.sin() + ((i * 7919) % 17) as f64 / 17.0
    }

    #[test]
    fn a_spike_after_the_warmup_raises_one_alarm() {
        let mut d = ensemble(600.0);
        let mut worst: f64 = 0.0;
        for i in 0..3000 {
            let s = d.update(i as f64 * 300.0, noisy(i));
            if i > 600 {
                worst = worst.max(s);
            }
        }
        assert!(worst < 0.45, "a regular series raised an alarm: {worst}");
        let alarm = d.update(3000.0 * 300.0, 200.0);
        assert!(alarm > 0.9, "spike scored {alarm}");
        // The hold silences the echo of the same incident.
        assert_eq!(d.update(3001.0 * 300.0, 190.0), 0.0);
    }

    #[test]
    fn a_level_shift_inside_the_range_is_seen() {
        let mut d = ensemble(600.0);
        let mut rng = 12345_u64;
        let mut noise = || {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (rng >> 33) as f64 / f64::from(u32::MAX) - 0.5
        };
        // One early spike sets a wide range; later a shift well inside it.
        let mut best_after_shift: f64 = 0.0;
        let mut quiet_max: f64 = 0.0;
        for i in 0..4000 {
            let base = if i == 700 {
                100.0
            } else if i >= 3000 {
                14.0
            } else {
                10.0
            };
            let s = d.update(i as f64 * 300.0, base + noise());
            if i >= 3000 {
                best_after_shift = best_after_shift.max(s);
            } else if i > 800 {
                quiet_max = quiet_max.max(s);
            }
        }
        assert!(
            best_after_shift > 0.3 && best_after_shift > quiet_max,
            "shift scored {best_after_shift}, quiet stretch {quiet_max}"
        );
    }

    #[test]
    fn with_a_limit_a_leak_warns_before_it_and_a_blip_far_below_it_does_not() {
        let with_limit = |limit: f64| {
            let params = resolve(
                "ensemble",
                &[
                    ("warmup".into(), 720.0),
                    ("limit".into(), limit),
                    ("direction".into(), 1.0),
                    ("horizon".into(), 900.0),
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
            Ensemble::from_params(&params)
        };
        let wobble = |i: usize| ((i * 7919) % 17) as f64 / 17.0 - 0.5;
        // Memory at 100 MB, leaking 0.1 MB/s from t = 2 h towards a 200 MB limit (1000 s).
        let mut leak = with_limit(200.0);
        let mut warned_at = None;
        for i in 0..3000 {
            let t = i as f64 * 5.0;
            let v = 100.0 + wobble(i) + 0.1 * (t - 7200.0).max(0.0);
            if v >= 200.0 {
                break;
            }
            let s = leak.update(t, v);
            if s >= 0.5 && warned_at.is_none() {
                warned_at = Some(t);
                let why = leak.explain().unwrap_or_default();
                assert!(why.starts_with("ensemble: the forecast view"), "{why}");
                assert!(leak.crossing().is_some());
            }
        }
        let warned_at = warned_at.unwrap_or_else(|| panic!("no warning before the limit"));
        assert!(
            (7200.0..=7200.0 + 1000.0 - 60.0).contains(&warned_at),
            "warned at {warned_at}"
        );
        // The same metric with a blip to 130 MB and a step to 120 MB, never near the limit: the
        // anomaly views fire (without a limit the ensemble alarms), the forecast does not agree.
        let mut blip = with_limit(200.0);
        let mut plain = ensemble(720.0);
        let (mut worst, mut plain_worst) = (0.0_f64, 0.0_f64);
        for i in 0..3000 {
            let t = i as f64 * 5.0;
            let v = match i {
                1500 => 130.0,
                _ if i >= 2000 => 120.0 + wobble(i),
                _ => 100.0 + wobble(i),
            };
            worst = worst.max(blip.update(t, v));
            plain_worst = plain_worst.max(plain.update(t, v));
        }
        assert!(
            plain_worst >= 0.9,
            "the plain ensemble scored {plain_worst}"
        );
        assert!(worst < 0.5, "with the limit the blip scored {worst}");
    }
}

//! `forecast`: the probability that a metric reaches its limit within a horizon, from a robust
//! local linear trend with prediction intervals ([`LocalTrend`]).
//!
//! With the limit `L` approached from below (`direction 1`; mirrored for `-1`), the trend's
//! forecast `h` seconds ahead (mean `μ(h)` and its standard deviation `s(h)`) gives two ways to
//! reach `L` within the horizon `H`:
//! - the *trend* carries the level there: `P_trend = Φ((μ(H) − L) / s(H))`;
//! - the *noise* takes one sample there (a variance that grows, errors that flap): with `m` the
//!   samples in the horizon, `σ` the residual scale and `p = Φ((max(μ(0), μ(H)) − L) / σ)`,
//!   `P_noise = 1 − (1 − p)^m`.
//!
//! The score is `max(P_trend, P_noise)` (1 when the latest value is already at or beyond the
//! limit): a probability, so 0.5 means "more likely than not
//! within the horizon". The expected time to the limit is `(L − μ(0)) / slope`, with a 90%
//! interval from the slope's: [`Crossing`].
//!
//! Without a limit (`direction 0`, what `pfi detect` does unless told) the limits are learnt: the
//! highest and lowest fitted level since the warm-up began, widened on each side by `margin`
//! times their distance (at least 6 residual scales); both directions are watched.
//!
//! Cost: O(1) per sample, a few normal-distribution evaluations; memory: about 25 numbers.

use super::calibration::FORECAST;
use super::crossing::{Crossing, human_secs};
use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::local_trend::{LocalTrend, normal_cdf};
use super::param_spec::{ParamSpec, WARMUP};
use super::params::Params;

/// The registry entry of `forecast`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "forecast",
    doc: "probability that the metric reaches its limit within the horizon, from a robust \
          exponentially weighted local linear trend with prediction intervals (level shifts \
          restart the trend); `--explain` gives the expected time to the limit with an interval",
    params: &[
        ParamSpec::real(
            "limit",
            0.0,
            -1.0e300,
            1.0e300,
            "the value at which the metric fails (memory limit, 100% disk, an SLO)",
        ),
        ParamSpec::integer(
            "direction",
            0.0,
            -1.0,
            1.0,
            "1 = fails when rising to `limit`, -1 = when falling to it, 0 = no limit given: \
             limits learnt from the range of the level",
        ),
        ParamSpec::real(
            "horizon",
            900.0,
            1.0e-3,
            1.0e9,
            "seconds ahead the breach is forecast over",
        ),
        ParamSpec::real(
            "tau",
            600.0,
            1.0e-3,
            1.0e9,
            "seconds of memory of the trend (weights decay as exp(-age/tau))",
        ),
        ParamSpec::real(
            "clip",
            4.0,
            0.5,
            100.0,
            "residual scales beyond which a sample is clipped (and counts towards a shift)",
        ),
        ParamSpec::integer(
            "shift_run",
            5.0,
            0.0,
            10_000.0,
            "consecutive clipped samples on one side that make a level shift (0 = never)",
        ),
        ParamSpec::real(
            "margin",
            0.5,
            0.0,
            100.0,
            "learnt limits: the level's range widened by this fraction of it on each side",
        ),
        ParamSpec::integer(
            "min_samples",
            10.0,
            2.0,
            1_000_000.0,
            "samples since the last level shift before the trend is trusted",
        ),
        WARMUP,
    ],
    build: |p| Box::new(Forecast::from_params(p)),
};

/// z of a two-sided 90% interval.
const Z90: f64 = 1.644_853_6;

/// Why the latest score is what it is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reason {
    Quiet,
    Trend,
    Noise,
    Reached,
}

/// The forecasting detector (see the module documentation).
#[derive(Debug, Clone)]
pub struct Forecast {
    trend: LocalTrend,
    limit: f64,
    direction: i8,
    horizon: f64,
    margin: f64,
    min_samples: usize,
    warmup: usize,
    seen: usize,
    /// Learnt range of the fitted level (direction 0).
    high: f64,
    low: f64,
    last_value: f64,
    /// The latest reading: the limit and side it concerns, why, and the crossing.
    reason: Reason,
    watched: Option<(f64, i8)>,
    crossing: Option<Crossing>,
    score: f64,
}

impl Forecast {
    pub fn from_params(p: &Params) -> Forecast {
        Forecast {
            trend: LocalTrend::new(p.get("tau"), p.get("clip"), p.count("shift_run")),
            limit: p.get("limit"),
            direction: p.get("direction") as i8,
            horizon: p.get("horizon"),
            margin: p.get("margin"),
            min_samples: p.count("min_samples"),
            warmup: p.count("warmup"),
            seen: 0,
            high: f64::NEG_INFINITY,
            low: f64::INFINITY,
            last_value: f64::NAN,
            reason: Reason::Quiet,
            watched: None,
            crossing: None,
            score: 0.0,
        }
    }

    /// The probability of reaching `limit` from side `side` (1 = from below) within the
    /// horizon, why, and the expected crossing.
    fn breach(&self, limit: f64, side: f64) -> (f64, Reason, Option<Crossing>) {
        let trend = &self.trend;
        let now = trend.forecast(0.0);
        let ahead = trend.forecast(self.horizon);
        // Distances to the limit (positive = not reached yet).
        let d_now = side * (limit - now.mean);
        let d_ahead = side * (limit - ahead.mean);
        let p_trend = if ahead.mean_sd > 0.0 {
            normal_cdf(-d_ahead / ahead.mean_sd)
        } else if d_ahead <= 0.0 {
            1.0
        } else {
            0.0
        };
        let samples = if trend.step() > 0.0 {
            (self.horizon / trend.step()).clamp(1.0, 1.0e6)
        } else {
            1.0
        };
        let nearest = d_now.min(d_ahead);
        // The noise alone (the trend's own uncertainty is `P_trend`'s, and is shared by every
        // future sample, so it must not be raised to the power of their number).
        let noise = trend.scale();
        let p_one = if noise > 0.0 {
            normal_cdf(-nearest / noise)
        } else if nearest <= 0.0 {
            1.0
        } else {
            0.0
        };
        let p_noise = -(samples * (-p_one).ln_1p()).exp_m1();
        let (p, reason) = if side * (self.last_value - limit) >= 0.0 {
            (1.0, Reason::Reached)
        } else if p_trend >= p_noise {
            (p_trend, Reason::Trend)
        } else {
            (p_noise, Reason::Noise)
        };
        let slope = side * trend.slope();
        let crossing = (slope > 0.0 || d_now <= 0.0).then(|| {
            let sd = trend.slope_sd();
            let at = |rate: f64| {
                if d_now <= 0.0 {
                    0.0
                } else if rate > 0.0 {
                    d_now / rate
                } else {
                    f64::INFINITY
                }
            };
            Crossing {
                limit,
                eta_secs: at(slope),
                low_secs: at(slope + Z90 * sd),
                high_secs: at(slope - Z90 * sd),
                probability: p.clamp(0.0, 1.0),
                confidence: FORECAST.apply(p),
                horizon_secs: self.horizon,
            }
        });
        (p.clamp(0.0, 1.0), reason, crossing)
    }

    /// The limits watched now: `(limit, side)` pairs.
    fn limits(&self) -> [Option<(f64, i8)>; 2] {
        match self.direction {
            1 => [Some((self.limit, 1)), None],
            -1 => [Some((self.limit, -1)), None],
            _ if self.high.is_finite() && self.low.is_finite() => {
                let widen = (self.margin * (self.high - self.low)).max(6.0 * self.trend.scale());
                if widen <= 0.0 {
                    return [None, None];
                }
                [Some((self.high + widen, 1)), Some((self.low - widen, -1))]
            }
            _ => [None, None],
        }
    }
}

impl Detector for Forecast {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        self.trend.update(timestamp_secs, value);
        self.last_value = value;
        self.seen = self.seen.saturating_add(1);
        let trusted = self.trend.samples() >= self.min_samples;
        let scoring = self.seen > self.warmup && trusted;
        self.reason = Reason::Quiet;
        self.watched = None;
        self.crossing = None;
        self.score = 0.0;
        if scoring {
            for (limit, side) in self.limits().into_iter().flatten() {
                let (p, reason, crossing) = self.breach(limit, f64::from(side));
                if self.watched.is_none() || p > self.score {
                    self.score = p;
                    self.reason = if p > 0.0 { reason } else { Reason::Quiet };
                    self.watched = Some((limit, side));
                    self.crossing = crossing;
                }
            }
        }
        if self.direction == 0 && trusted {
            let level = self.trend.level();
            if level.is_finite() {
                self.high = self.high.max(level);
                self.low = self.low.min(level);
            }
        }
        if self.score.is_finite() {
            self.score
        } else {
            0.0
        }
    }

    fn footprint(&self) -> usize {
        self.trend.footprint() + 12
    }

    fn explain(&self) -> Option<String> {
        let (limit, side) = self.watched?;
        let towards = if side > 0 { "rising to" } else { "falling to" };
        let per_min = self.trend.slope() * 60.0;
        let reach = match self.crossing {
            Some(c) => format!("; {c}"),
            None => String::new(),
        };
        let calibrated = FORECAST.apply(self.score);
        let why = match self.reason {
            Reason::Quiet => "no breach in sight",
            Reason::Trend => "the trend reaches it",
            Reason::Noise => "the noise reaches it",
            Reason::Reached => "the latest value is beyond it",
        };
        Some(format!(
            "forecast: P(breach of {limit:.6} within {}) = {:.2}, calibrated {calibrated:.2} \
             ({why}): level {:.6} {towards} it at {per_min:+.4}/min, noise sd {:.4}{reach}",
            human_secs(self.horizon),
            self.score,
            self.trend.level(),
            self.trend.scale(),
        ))
    }

    fn crossing(&self) -> Option<Crossing> {
        self.crossing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::registry::build;

    fn forecast(params: &[(&str, f64)]) -> Box<dyn Detector> {
        let params: Vec<(String, f64)> = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        build("forecast", &params).unwrap_or_else(|e| panic!("{e}"))
    }

    fn noise(i: usize) -> f64 {
        ((i * 7919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn a_leak_is_forecast_before_the_limit_with_an_interval_around_the_truth() {
        // 5 s samples; memory 100 ± 0.5, leaking 0.05/s from t = 3000 s; limit 200, reached at
        // t = 5000 s.
        let mut d = forecast(&[
            ("limit", 200.0),
            ("direction", 1.0),
            ("horizon", 900.0),
            ("warmup", 100.0),
        ]);
        let mut first_alarm = None;
        for i in 0..1000 {
            let t = i as f64 * 5.0;
            let v = 100.0 + noise(i) + if t > 3000.0 { 0.05 * (t - 3000.0) } else { 0.0 };
            let s = d.update(t, v);
            if t < 3000.0 {
                assert!(s < 0.01, "quiet stretch scored {s} at {t}");
            }
            if s >= 0.5 && first_alarm.is_none() {
                first_alarm = Some(t);
                let c = d.crossing().unwrap_or_else(|| panic!("no crossing at {t}"));
                let truth = 5000.0 - t;
                assert!(
                    c.low_secs <= truth && truth <= c.high_secs,
                    "{truth} outside {c:?}"
                );
                let why = d.explain().unwrap_or_default();
                assert!(why.contains("expected in"), "{why}");
            }
        }
        let at = first_alarm.unwrap_or_else(|| panic!("no alarm"));
        // Warned with at least 10 minutes to spare, after the leak began.
        assert!(at > 3000.0 && 5000.0 - at >= 600.0, "first alarm at {at}");
    }

    #[test]
    fn a_level_shift_and_a_daily_cycle_below_the_limit_do_not_alarm() {
        let mut d = forecast(&[("limit", 100.0), ("direction", 1.0), ("warmup", 50.0)]);
        for i in 0..3000 {
            let t = i as f64 * 10.0;
            let step = if i >= 1500 { 30.0 } else { 0.0 };
            let s = d.update(t, 40.0 + step + 2.0 * noise(i));
            assert!(s < 0.5, "level shift scored {s} at sample {i}");
        }
        let mut d = forecast(&[("limit", 100.0), ("direction", 1.0), ("warmup", 50.0)]);
        for i in 0..4320 {
            let t = i as f64 * 60.0;
            let day = (t / 86_400.0 * std::f64::consts::TAU).sin();
            let s = d.update(t, 50.0 + 30.0 * day + noise(i));
            assert!(s < 0.5, "daily cycle scored {s} at sample {i}");
        }
    }

    #[test]
    fn growing_variance_is_caught_by_the_noise_term() {
        let mut d = forecast(&[("limit", 50.0), ("direction", 1.0), ("warmup", 50.0)]);
        let mut alarm = None;
        for i in 0..3900 {
            let spread = 1.0 + i as f64 / 100.0;
            let s = d.update(i as f64, 10.0 + spread * 2.0 * noise(i));
            if s >= 0.5 {
                alarm = Some(i);
                break;
            }
        }
        let i = alarm.unwrap_or_else(|| panic!("growing variance never alarmed"));
        // The first sample at 50 comes when 10 + spread ≥ 50, i.e. after i = 3900; warned well
        // before, but not while the spread was small.
        assert!((500..3900).contains(&i), "alarm at {i}");
    }

    #[test]
    fn without_a_limit_a_runaway_trend_is_still_forecast() {
        let mut d = forecast(&[("warmup", 200.0)]);
        let mut best: f64 = 0.0;
        for i in 0..1000 {
            let t = i as f64 * 10.0;
            let ramp = if i > 600 { 0.5 * (i - 600) as f64 } else { 0.0 };
            let s = d.update(t, 20.0 + noise(i) + ramp);
            if i <= 600 {
                assert!(s < 0.5, "quiet scored {s} at {i}");
            }
            best = best.max(s);
        }
        assert!(best > 0.9, "{best}");
        assert!(d.explain().unwrap_or_default().contains("rising to"));
    }
}

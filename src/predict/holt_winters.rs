//! `holt_winters`: additive Holt-Winters forecast (level, damped trend, daily season); the score
//! is the surprise of the forecast residual.

use super::cadence::Cadence;
use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::extremes::Extremes;
use super::param_spec::{ParamSpec, RANGE_FLOOR, WARMUP};
use super::surprise::score_from_z;

/// The registry entry of `holt_winters`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "holt_winters",
    doc: "forecasts each sample from level, damped trend and a seasonal profile (by default one \
          day, from the timestamps) and scores the forecast error against its running scale; \
          sees anomalies that break a daily rhythm without leaving the normal range",
    params: &[
        ParamSpec::real("alpha", 0.2, 1.0e-4, 1.0, "level smoothing"),
        ParamSpec::real("beta", 0.01, 0.0, 1.0, "trend smoothing"),
        ParamSpec::real("gamma", 0.1, 0.0, 1.0, "seasonal smoothing"),
        ParamSpec::integer(
            "season",
            0.0,
            0.0,
            MAX_SEASON as f64,
            "samples per season; 0 = one day, from the timestamps; 1 = no season",
        ),
        ParamSpec::real(
            "scale_rate",
            0.01,
            1.0e-4,
            1.0,
            "forgetting rate of the residual scale",
        ),
        RANGE_FLOOR,
        WARMUP,
    ],
    build: |p| {
        Box::new(HoltWinters::new(HoltWintersConfig {
            range_floor: p.get("range_floor"),
            alpha: p.get("alpha"),
            beta: p.get("beta"),
            gamma: p.get("gamma"),
            season: p.count("season"),
            scale_rate: p.get("scale_rate"),
            warmup: p.count("warmup"),
        }))
    },
};

/// The longest season kept (a week of five-minute samples).
pub const MAX_SEASON: usize = 2016;
/// Trend damping per step: a trend fades instead of extrapolating forever.
const DAMPING: f64 = 0.98;
/// Residuals beyond this many scale units are clipped before they update the model, so one
/// outlier does not drag the level and the season.
const CLIP: f64 = 4.0;
/// Mean absolute error × this estimates the standard deviation of normal residuals.
const MAE_TO_SD: f64 = 1.2533;

/// Parameters of `HoltWinters`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoltWintersConfig {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    /// 0 = infer one day from the timestamps, 1 = no season, n = n samples.
    pub season: usize,
    pub scale_rate: f64,
    /// The residual scale never counts as less than this fraction of the range seen so far.
    pub range_floor: f64,
    pub warmup: usize,
}

/// Additive Holt-Winters with a damped trend and a robust (clipped) update.
#[derive(Debug, Clone)]
pub struct HoltWinters {
    config: HoltWintersConfig,
    range: Extremes,
    cadence: Cadence,
    period: Option<usize>,
    first_season: Vec<f64>,
    season: Vec<f64>,
    phase: usize,
    level: f64,
    trend: f64,
    ready: bool,
    last: Option<f64>,
    mae: f64,
    seen: usize,
    /// The latest sample's forecast and residual z (for `explain`).
    explained: (f64, f64),
}

impl HoltWinters {
    pub fn new(config: HoltWintersConfig) -> HoltWinters {
        let period = match config.season {
            0 => None,
            n => Some(n.min(MAX_SEASON)),
        };
        HoltWinters {
            config,
            range: Extremes::new(0),
            cadence: Cadence::new(),
            period,
            first_season: Vec::new(),
            season: Vec::new(),
            phase: 0,
            level: 0.0,
            trend: 0.0,
            ready: false,
            last: None,
            mae: 0.0,
            seen: 0,
            explained: (f64::NAN, 0.0),
        }
    }

    /// The forecast for the next sample (the previous value until the model is initialised).
    pub fn forecast(&self) -> Option<f64> {
        if self.ready {
            Some(self.level + DAMPING * self.trend + self.season[self.phase])
        } else {
            self.last
        }
    }

    /// The standardised forecast residual of `value`, then learns it. Non-finite values are
    /// ignored (residual 0).
    pub fn residual_z(&mut self, timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        if self.period.is_none() && self.cadence.observe(timestamp_secs) {
            let day = self.cadence.samples_per(86_400.0).unwrap_or(1);
            self.period = Some(if day <= MAX_SEASON { day } else { 1 });
        }
        let forecast = self.forecast().unwrap_or(value);
        let residual = value - forecast;
        let sd = MAE_TO_SD * self.mae;
        let z = if residual == 0.0 {
            0.0
        } else {
            let floor = (1.0e-9 * forecast.abs().max(1.0))
                .max(self.config.range_floor * self.range.range());
            residual / sd.max(floor)
        };
        self.range.learn(value);
        let settled = self.seen > 10;
        let clipped = if settled && sd > 0.0 {
            residual.clamp(-CLIP * sd, CLIP * sd)
        } else {
            residual
        };
        self.learn(forecast + clipped, value);
        let rate = self.config.scale_rate.max(1.0 / (self.seen as f64 + 1.0));
        self.mae += rate * (clipped.abs() - self.mae);
        self.seen = self.seen.saturating_add(1);
        z
    }

    /// Learns a sample: level and trend from `clipped` (robust to outliers), the seasonal profile
    /// from `value` itself (clipping would stop it from ever learning a sharp daily edge).
    fn learn(&mut self, clipped: f64, value: f64) {
        self.last = Some(clipped);
        if self.ready {
            let c = &self.config;
            let seasonal = self.season[self.phase];
            let level = c.alpha * (clipped - seasonal)
                + (1.0 - c.alpha) * (self.level + DAMPING * self.trend);
            self.trend = c.beta * (level - self.level) + (1.0 - c.beta) * DAMPING * self.trend;
            self.level = level;
            if self.season.len() > 1 {
                self.season[self.phase] = c.gamma * (value - level) + (1.0 - c.gamma) * seasonal;
            }
            // `(phase + 1) % len` without the division.
            self.phase = if self.phase + 1 >= self.season.len() {
                0
            } else {
                self.phase + 1
            };
            return;
        }
        let Some(period) = self.period else {
            return;
        };
        self.first_season.push(value);
        if self.first_season.len() >= period {
            let count = self.first_season.len() as f64;
            self.level = self.first_season.iter().sum::<f64>() / count;
            self.season = if period > 1 {
                self.first_season.iter().map(|v| v - self.level).collect()
            } else {
                vec![0.0]
            };
            self.first_season = Vec::new();
            self.phase = 0;
            self.ready = true;
        }
    }

    /// Samples per season, once known.
    pub fn period(&self) -> Option<usize> {
        self.period
    }
}

impl Detector for HoltWinters {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let scoring = self.seen >= self.config.warmup;
        let forecast = self.forecast().unwrap_or(value);
        let z = self.residual_z(timestamp_secs, value);
        self.explained = (forecast, z);
        if scoring { score_from_z(z) } else { 0.0 }
    }

    fn footprint(&self) -> usize {
        self.season.len() + self.first_season.len() + self.range.footprint() + 8
    }

    fn explain(&self) -> Option<String> {
        let (forecast, z) = self.explained;
        if !forecast.is_finite() {
            return None;
        }
        let season = match self.period {
            Some(n) if n > 1 => format!("a season of {n} samples"),
            Some(_) => "no season".to_string(),
            None => "the season not known yet".to_string(),
        };
        Some(format!(
            "holt_winters: the value missed the forecast {forecast:.6} by {z:+.2} residual \
             scales (level, damped trend and {season})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(season: usize) -> HoltWintersConfig {
        HoltWintersConfig {
            alpha: 0.2,
            beta: 0.01,
            gamma: 0.1,
            season,
            scale_rate: 0.01,
            range_floor: 0.1,
            warmup: 100,
        }
    }

    fn daily(i: usize) -> f64 {
        let phase = (i % 24) as f64 / 24.0 * std::f64::consts::TAU;
        50.0 + 20.0 * phase.sin() + 0.5 * ((i * 7919) % 13) as f64 / 13.0
    }

    #[test]
    fn learns_a_daily_season_from_hourly_timestamps() {
        let mut d = HoltWinters::new(config(0));
        let mut worst: f64 = 0.0;
        for i in 0..24 * 30 {
            let score = d.update(i as f64 * 3600.0, daily(i));
            if i > 24 * 10 {
                worst = worst.max(score);
            }
        }
        assert_eq!(d.period(), Some(24));
        assert!(worst < 0.35, "a clean daily rhythm scored {worst}");
    }

    #[test]
    fn a_broken_rhythm_scores_high_even_inside_the_normal_range() {
        let mut d = HoltWinters::new(config(24));
        let n = 24 * 30;
        for i in 0..n {
            d.update(i as f64 * 3600.0, daily(i));
        }
        // At the daily trough (value ~30) the series shows its peak level (~70): in range, but
        // twelve hours early.
        let trough = (0..24).map(|k| n + k).find(|i| i % 24 == 18).unwrap_or(n);
        for i in n..trough {
            d.update(i as f64 * 3600.0, daily(i));
        }
        // The range floor (10% of the 40-wide range) caps the z-score near 10: one in 10^23.
        let score = d.update(trough as f64 * 3600.0, 70.0);
        assert!(score > 0.75, "broken rhythm scored {score}");
        // `--explain` says what was expected and by how much it was missed.
        let why = d.explain().unwrap_or_default();
        let forecast: f64 = why
            .strip_prefix("holt_winters: the value missed the forecast ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        assert!(
            (25.0..35.0).contains(&forecast)
                && why.contains("by +")
                && why.contains("a season of 24 samples"),
            "{why}"
        );
    }

    #[test]
    fn flat_series_scores_zero() {
        let mut d = HoltWinters::new(config(0));
        for i in 0..2000 {
            let score = d.update(f64::from(i) * 300.0, 12.0);
            assert!(score < 1.0e-6, "flat series scored {score}");
        }
    }
}

//! The registry: the one table of detectors, their parameters, and `build`.
//!
//! The language's checker validates `detector ewma(alpha 0.3)` against this table with
//! `resolve` (no detector is built); the run engine then calls `build`.

use super::detector::Detector;
use super::detector_error::DetectorError;
use super::params::Params;
use super::{
    changepoint, ensemble, ewma, forecast, holt_winters, isolation_forest, robust_z, seasonal,
};

pub use super::detector_spec::DetectorSpec;

/// Every detector, in the order `pfi detect --list` shows them.
pub const DETECTORS: &[DetectorSpec] = &[
    ensemble::SPEC,
    ewma::SPEC,
    robust_z::SPEC,
    holt_winters::SPEC,
    isolation_forest::SPEC,
    forecast::SPEC,
    changepoint::SPEC,
    seasonal::SPEC,
];

/// The detector used when none is named: the best on NAB.
pub const DEFAULT_DETECTOR: &str = ensemble::SPEC.name;

/// The spec of detector `name`.
pub fn spec(name: &str) -> Option<&'static DetectorSpec> {
    DETECTORS.iter().find(|d| d.name == name)
}

/// The names of every detector.
pub fn names() -> Vec<&'static str> {
    DETECTORS.iter().map(|d| d.name).collect()
}

/// Checks `params` against detector `name`'s table without building anything: unknown names,
/// repeated parameters, values out of range or not whole where a count is expected.
pub fn resolve(name: &str, params: &[(String, f64)]) -> Result<Params, DetectorError> {
    let spec = spec(name).ok_or_else(|| DetectorError::UnknownDetector {
        name: name.to_string(),
        known: names(),
    })?;
    let mut resolved = Params::defaults(spec.params);
    let mut given: Vec<&str> = Vec::with_capacity(params.len());
    for (key, value) in params {
        let Some(index) = spec.params.iter().position(|p| p.name == key) else {
            return Err(DetectorError::UnknownParam {
                detector: spec.name,
                param: key.clone(),
                known: spec.params.iter().map(|p| p.name).collect(),
            });
        };
        if given.contains(&key.as_str()) {
            return Err(DetectorError::DuplicateParam {
                detector: spec.name,
                param: key.clone(),
            });
        }
        given.push(key);
        let param = &spec.params[index];
        if !value.is_finite() || *value < param.min || *value > param.max {
            return Err(DetectorError::OutOfRange {
                detector: spec.name,
                param: param.name,
                value: *value,
                min: param.min,
                max: param.max,
            });
        }
        if !param.accepts(*value) {
            return Err(DetectorError::NotInteger {
                detector: spec.name,
                param: param.name,
                value: *value,
            });
        }
        resolved.set(index, *value);
    }
    Ok(resolved)
}

/// Builds detector `name` with `params` (the others keep their defaults).
pub fn build(name: &str, params: &[(String, f64)]) -> Result<Box<dyn Detector>, DetectorError> {
    let resolved = resolve(name, params)?;
    let spec = spec(name).ok_or_else(|| DetectorError::UnknownDetector {
        name: name.to_string(),
        known: names(),
    })?;
    Ok((spec.build)(&resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: &str, params: &[(&str, f64)]) -> String {
        let params: Vec<(String, f64)> = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        match build(name, &params) {
            Ok(_) => panic!("{name} {params:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_detector_lists_the_detectors() {
        let message = err("ewmaa", &[]);
        assert!(message.contains("unknown detector `ewmaa`"), "{message}");
        for spec in DETECTORS {
            assert!(message.contains(spec.name), "{message}");
        }
    }

    #[test]
    fn unknown_param_lists_the_params() {
        let message = err("ewma", &[("beta", 0.1)]);
        assert!(message.contains("no parameter `beta`"), "{message}");
        assert!(
            message.contains("alpha") && message.contains("warmup"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_gives_the_range() {
        let message = err("ewma", &[("alpha", 1.5)]);
        assert!(
            message.contains("1.5") && message.contains("[0.000001, 1]"),
            "{message}"
        );
        let message = err("robust_z", &[("window", f64::NAN)]);
        assert!(message.contains("outside its range"), "{message}");
    }

    #[test]
    fn counts_must_be_whole_and_params_given_once() {
        let message = err("robust_z", &[("window", 10.5)]);
        assert!(message.contains("whole number"), "{message}");
        let message = err("ewma", &[("alpha", 0.1), ("alpha", 0.2)]);
        assert!(message.contains("given twice"), "{message}");
    }

    #[test]
    fn resolve_validates_without_building_and_fills_defaults() {
        let params = resolve("ewma", &[("alpha".into(), 0.3)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(params.get("alpha"), 0.3);
        assert_eq!(params.get("warmup"), 30.0);
        assert!(spec("ewma").and_then(|s| s.param("alpha")).is_some());
        assert_eq!(spec(DEFAULT_DETECTOR).map(|s| s.name), Some("ensemble"));
    }

    #[test]
    fn every_table_is_consistent() {
        for spec in DETECTORS {
            assert_eq!(
                DETECTORS.iter().filter(|d| d.name == spec.name).count(),
                1,
                "duplicate detector {}",
                spec.name
            );
            assert!(
                spec.param("warmup").is_some(),
                "{} has no warmup",
                spec.name
            );
            for p in spec.params {
                assert!(
                    p.accepts(p.default),
                    "{}.{} default out of range",
                    spec.name,
                    p.name
                );
                assert!(!p.doc.is_empty(), "{}.{} has no doc", spec.name, p.name);
            }
            let built = build(spec.name, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(built.name(), spec.name);
        }
    }
}

/// The `Detector` contract, checked for every detector of the table.
#[cfg(test)]
mod contract {
    use super::*;

    const WARMUP: f64 = 300.0;

    fn detector(spec: &DetectorSpec) -> Box<dyn Detector> {
        build(spec.name, &[("warmup".into(), WARMUP)]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A daily rhythm (288 samples of 300 s) with deterministic noise.
    fn normal(i: usize) -> f64 {
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        100.0 + 20.0 * phase.sin() + 3.0 * (((i * 7919) % 101) as f64 / 101.0 - 0.5)
    }

    fn run(d: &mut dyn Detector, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| d.update(i as f64 * 300.0, *v))
            .collect()
    }

    #[test]
    fn is_send() {
        fn send<T: Send + ?Sized>(_: &T) {}
        for spec in DETECTORS {
            send(&*detector(spec));
        }
    }

    #[test]
    fn a_spike_scores_high_and_above_every_normal_sample() {
        // `changepoint` scores changes of regime, not single samples, and a daily cycle is a
        // change of regime to it (its own tests cover what it finds).
        for spec in DETECTORS.iter().filter(|s| s.name != "changepoint") {
            let mut d = detector(spec);
            let mut values: Vec<f64> = (0..3000).map(normal).collect();
            values.push(400.0);
            let scores = run(&mut *d, &values);
            let spike = scores[3000];
            let normal_max = scores[..3000].iter().copied().fold(0.0, f64::max);
            assert!(spike > 0.5, "{}: spike scored {spike}", spec.name);
            assert!(
                spike > normal_max,
                "{}: spike {spike} <= normal {normal_max}",
                spec.name
            );
        }
    }

    #[test]
    fn a_flat_series_scores_low() {
        for spec in DETECTORS {
            let mut d = detector(spec);
            let scores = run(&mut *d, &vec![42.0; 3000]);
            let max = scores.iter().copied().fold(0.0, f64::max);
            assert!(max < 0.1, "{}: flat series scored {max}", spec.name);
        }
    }

    #[test]
    fn scores_only_depend_on_the_past() {
        let values: Vec<f64> = (0..2000)
            .map(|i| normal(i) + if i % 500 == 7 { 80.0 } else { 0.0 })
            .collect();
        for spec in DETECTORS {
            let full = run(&mut *detector(spec), &values);
            for cut in [1, 301, 1234] {
                let prefix = run(&mut *detector(spec), &values[..cut]);
                assert_eq!(
                    prefix,
                    full[..cut],
                    "{}: prefix of {cut} differs",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn memory_stops_growing() {
        for spec in DETECTORS {
            let mut d = detector(spec);
            let mut early = 0;
            let mut late = 0;
            // A slow random walk: any buffer that grows with the stream would show.
            let mut level = 0.0;
            for i in 0..60_000 {
                level += ((i * 7919) % 13) as f64 - 6.0;
                d.update(i as f64 * 300.0, normal(i) + level);
                if i < 20_000 {
                    early = early.max(d.footprint());
                } else {
                    late = late.max(d.footprint());
                }
            }
            // Monotonic queues hold a data-dependent number of entries, within their window.
            assert!(
                late as f64 <= 1.5 * early as f64,
                "{}: footprint grew from {early} to {late}",
                spec.name
            );
            assert!(early > 0, "{}: footprint reports nothing", spec.name);
        }
    }

    #[test]
    fn missing_values_score_zero_and_change_nothing() {
        let values: Vec<f64> = (0..1500).map(normal).collect();
        for spec in DETECTORS {
            let clean = run(&mut *detector(spec), &values);
            let mut d = detector(spec);
            let mut holey = Vec::new();
            for (i, v) in values.iter().enumerate() {
                if i % 100 == 50 {
                    assert_eq!(d.update(i as f64 * 300.0, f64::NAN), 0.0, "{}", spec.name);
                    assert_eq!(
                        d.update(i as f64 * 300.0, f64::INFINITY),
                        0.0,
                        "{}",
                        spec.name
                    );
                }
                holey.push(d.update(i as f64 * 300.0, *v));
            }
            assert_eq!(
                clean, holey,
                "{}: a missing value changed later scores",
                spec.name
            );
        }
    }

    #[test]
    fn hostile_inputs_give_scores_in_range() {
        let values = [
            0.0,
            1.0e300,
            -1.0e300,
            1.0e-300,
            0.0,
            5.0,
            5.0,
            -7.0,
            f64::MAX,
            f64::MIN,
        ];
        let stamps = [
            0.0,
            0.0,
            -5.0,
            f64::NAN,
            1.0e12,
            3.0,
            2.0,
            1.0,
            0.0,
            f64::INFINITY,
        ];
        for spec in DETECTORS {
            let mut d =
                build(spec.name, &[("warmup".into(), 0.0)]).unwrap_or_else(|e| panic!("{e}"));
            for round in 0..400 {
                for (k, (v, t)) in values.iter().zip(stamps).enumerate() {
                    let s = d.update(t, *v * if (round + k) % 3 == 0 { -1.0 } else { 1.0 });
                    assert!((0.0..=1.0).contains(&s), "{}: score {s} for {v}", spec.name);
                }
            }
        }
    }
}

//! Scoring a whole series with a named detector, NAB style.

use super::alarm::Alarm;
use super::detector_error::DetectorError;
use super::registry::build;
use super::series::Series;

/// NAB's probationary period for a file of `rows` rows: the first 15% of the rows, at most 750.
/// Detectors may learn during it; its scores are ignored by the benchmark.
pub fn probation(rows: usize) -> usize {
    (rows.min(5000) * 15) / 100
}

/// Scores every row of `series` with detector `name`, in order, one score per row.
///
/// Unless `params` sets `warmup` itself, the detector's warm-up is set to the probationary
/// period of the series (`probation`): the length of the file is used for that and nothing
/// else. The detector still sees the samples one at a time.
pub fn score_series(
    name: &str,
    params: &[(String, f64)],
    series: &Series,
) -> Result<Vec<f64>, DetectorError> {
    Ok(score_and_explain(name, params, series, f64::INFINITY)?.0)
}

/// As [`score_series`], and the alarms: each row whose score reaches `alarm` after a row that
/// did not, with the detector's explanation at that row.
pub fn score_and_explain(
    name: &str,
    params: &[(String, f64)],
    series: &Series,
    alarm: f64,
) -> Result<(Vec<f64>, Vec<Alarm>), DetectorError> {
    let mut params = params.to_vec();
    if !params.iter().any(|(k, _)| k == "warmup") {
        params.push(("warmup".to_string(), probation(series.len()) as f64));
    }
    let mut detector = build(name, &params)?;
    let mut alarms = Vec::new();
    let mut above = false;
    let scores = series
        .rows
        .iter()
        .enumerate()
        .map(|(row, sample)| {
            let score = detector.update(sample.timestamp, sample.value);
            let now_above = score >= alarm;
            if now_above && !above {
                alarms.push(Alarm {
                    row,
                    score,
                    why: detector
                        .explain()
                        .unwrap_or_else(|| format!("{name}: score {score:.3}")),
                    crossing: detector.crossing(),
                });
            }
            above = now_above;
            score
        })
        .collect();
    Ok((scores, alarms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probation_is_fifteen_percent_capped_at_750() {
        assert_eq!(probation(0), 0);
        assert_eq!(probation(1000), 150);
        assert_eq!(probation(4032), 604);
        assert_eq!(probation(22_695), 750);
    }

    #[test]
    fn one_score_per_row_and_zero_during_probation() {
        let text: String = (0..200).map(|i| format!("{i},{}\n", i % 7)).collect();
        let series = Series::parse(text.as_bytes()).unwrap_or_default();
        let scores = score_series("ewma", &[], &series).unwrap_or_default();
        assert_eq!(scores.len(), 200);
        assert!(scores[..30].iter().all(|s| *s == 0.0));
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn alarms_are_the_rows_that_reach_the_level_with_an_explanation() {
        let text: String = (0..400)
            .map(|i| format!("{},{}\n", i * 10, if i == 300 { 500 } else { 10 + i % 3 }))
            .collect();
        let series = Series::parse(text.as_bytes()).unwrap_or_default();
        let (scores, alarms) =
            score_and_explain("ensemble", &[], &series, 0.45).unwrap_or_default();
        assert_eq!(scores.len(), 400);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert_eq!(alarms[0].row, 300);
        assert!(alarms[0].why.contains("extremes"), "{}", alarms[0].why);
    }

    #[test]
    fn an_explicit_warmup_wins() {
        let text: String = (0..100).map(|i| format!("{i},{}\n", i % 3)).collect();
        let series = Series::parse(text.as_bytes()).unwrap_or_default();
        let scores = score_series("ewma", &[("warmup".into(), 2.0)], &series).unwrap_or_default();
        assert!(scores[2..15].iter().any(|s| *s > 0.0));
    }
}

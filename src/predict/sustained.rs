//! `SustainedRecord`: a deviation that stays, and is larger than any such deviation before.

/// Turns a stream of z-scores into "record" scores. The strength of a moment is the absolute
/// mean of the last `span` z-scores, so a deviation must last (and keep its direction) to count,
/// which single outliers in a noisy metric do not. A moment scores only when its strength beats
/// the strongest moment seen so far, by the excess `e = (strength - best) / max(best, 1)`; the
/// score is `e / (e + tol)`: 0.5 when the record is beaten by the fraction `tol`.
///
/// A record is relative to the metric's own history, so the scores of quiet and noisy metrics
/// are comparable without any per-metric tuning.
#[derive(Debug, Clone)]
pub struct SustainedRecord {
    span: usize,
    tol: f64,
    /// The last `span` values, a ring once full (`next` is the oldest).
    recent: Vec<f64>,
    next: usize,
    sum: f64,
    best: Option<f64>,
}

impl SustainedRecord {
    pub fn new(span: usize, tol: f64) -> SustainedRecord {
        let span = span.max(1);
        SustainedRecord {
            span,
            tol: tol.max(1.0e-12),
            recent: Vec::with_capacity(span),
            next: 0,
            sum: 0.0,
            best: None,
        }
    }

    /// Feeds one z-score and returns the record score of the moment. While `learning` is false
    /// the z-score only fills the averaging span (the record is neither scored nor raised):
    /// early z-scores, from nearly empty windows, are not evidence.
    pub fn update(&mut self, z: f64, learning: bool) -> f64 {
        let z = if z.is_finite() { z } else { 0.0 };
        if self.recent.len() == self.span {
            let slot = &mut self.recent[self.next];
            self.sum -= *slot;
            *slot = z;
            self.next = if self.next + 1 == self.span {
                0
            } else {
                self.next + 1
            };
        } else {
            self.recent.push(z);
        }
        self.sum += z;
        if !learning {
            return 0.0;
        }
        let strength = (self.sum / self.recent.len() as f64).abs();
        // Not a record (the common case): the score is 0 and the record stands, as below, but
        // without the divisions.
        if self
            .best
            .is_some_and(|best| strength <= best || strength.is_nan())
        {
            return 0.0;
        }
        match self.best {
            Some(best) => {
                let excess = ((strength - best) / best.max(1.0)).max(0.0);
                self.best = Some(best.max(strength));
                excess / (excess + self.tol)
            }
            None => {
                self.best = Some(strength);
                0.0
            }
        }
    }

    pub fn footprint(&self) -> usize {
        self.recent.len() + 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_record_scores() {
        let mut r = SustainedRecord::new(1, 0.1);
        assert_eq!(r.update(2.0, true), 0.0);
        assert_eq!(r.update(1.0, true), 0.0);
        // 2.2 beats 2.0 by 10%: score 0.5.
        assert!((r.update(2.2, true) - 0.5).abs() < 1e-12);
        assert_eq!(r.update(2.2, true), 0.0);
    }

    #[test]
    fn a_lone_spike_is_diluted_by_the_span_and_a_shift_keeps_scoring() {
        let mut short = SustainedRecord::new(1, 0.1);
        let mut long = SustainedRecord::new(10, 0.1);
        for _ in 0..50 {
            short.update(1.0, true);
            long.update(1.0, true);
        }
        // Span 1: the spike is 5x the record. Span 10: it moves the mean to 1.4 only.
        assert!(short.update(5.0, true) > long.update(5.0, true));
        let mut spike = SustainedRecord::new(10, 0.1);
        let mut shift = SustainedRecord::new(10, 0.1);
        for _ in 0..50 {
            spike.update(1.0, true);
            shift.update(1.0, true);
        }
        let mut spike_alarms = 0;
        let mut shift_alarms = 0;
        for i in 0..20 {
            let spiked = spike.update(if i == 0 { 5.0 } else { 1.0 }, true);
            spike_alarms += usize::from(spiked > 0.0);
            shift_alarms += usize::from(shift.update(5.0, true) > 0.0);
        }
        assert_eq!(spike_alarms, 1);
        assert!(
            shift_alarms >= 5,
            "a shift raised the record {shift_alarms} times"
        );
    }

    #[test]
    fn nothing_scores_while_not_learning() {
        let mut r = SustainedRecord::new(3, 0.1);
        for i in 0..10 {
            assert_eq!(r.update(f64::from(i) * 10.0, false), 0.0);
        }
        assert_eq!(r.update(1.0, true), 0.0);
    }
}

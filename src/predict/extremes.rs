//! `Extremes`: how far a sample lies beyond the values seen before it.

use super::record::Record;

/// The running minimum and maximum of the last `window` values (all of them when `window` is
/// 0); a sample outside them scores its excess as a fraction of that range. Values seen before
/// a sample are its only reference, so a new high or low is visible the moment it happens.
#[derive(Debug, Clone)]
pub struct Extremes {
    highs: Record,
    lows: Record,
}

impl Extremes {
    pub fn new(window: usize) -> Extremes {
        Extremes {
            highs: Record::new(window),
            lows: Record::new(window),
        }
    }

    /// How far `value` lies outside `[min, max]`, in units of `max - min` (0 inside; 0 until two
    /// distinct values were seen).
    pub fn excess(&self, value: f64) -> f64 {
        let (Some(max), Some(neg_min)) = (self.highs.max(), self.lows.max()) else {
            return 0.0;
        };
        let min = -neg_min;
        let range = max - min;
        if range <= 0.0 || !value.is_finite() {
            return 0.0;
        }
        ((value - max).max(min - value) / range).max(0.0)
    }

    /// The width of the range (0 until two distinct values were seen).
    pub fn range(&self) -> f64 {
        match (self.highs.max(), self.lows.max()) {
            (Some(max), Some(neg_min)) => (max + neg_min).max(0.0),
            _ => 0.0,
        }
    }

    /// Adds `value` to the window.
    pub fn learn(&mut self, value: f64) {
        self.highs.learn(value);
        self.lows.learn(-value);
    }

    pub fn footprint(&self) -> usize {
        self.highs.footprint() + self.lows.footprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_is_relative_to_the_range_seen_before() {
        let mut e = Extremes::new(0);
        for v in [10.0, 20.0, 15.0] {
            e.learn(v);
        }
        assert_eq!(e.excess(15.0), 0.0);
        assert_eq!(e.excess(25.0), 0.5);
        assert_eq!(e.excess(0.0), 1.0);
        e.learn(25.0);
        assert_eq!(e.excess(25.0), 0.0);
    }

    #[test]
    fn a_window_forgets_old_extremes() {
        let mut e = Extremes::new(3);
        for v in [100.0, 1.0, 2.0, 3.0] {
            e.learn(v);
        }
        assert_eq!(e.excess(5.0), 1.0);
    }
}

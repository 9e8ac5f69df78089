//! `Record`: the largest value of the recent past.

use std::collections::VecDeque;

/// The maximum of the last `window` values (all values when `window` is 0), kept with a
/// monotonic queue (amortised O(1) per value, at most `window` entries).
#[derive(Debug, Clone)]
pub struct Record {
    window: usize,
    queue: VecDeque<(u64, f64)>,
    index: u64,
}

impl Record {
    pub fn new(window: usize) -> Record {
        Record {
            window,
            queue: VecDeque::new(),
            index: 0,
        }
    }

    /// The largest of the values in the window, if any.
    pub fn max(&self) -> Option<f64> {
        self.queue.front().map(|(_, v)| *v)
    }

    /// Adds `value` (non-finite values are ignored).
    pub fn learn(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.window == 0 {
            // Nothing expires: only the maximum can ever be asked for again.
            match self.queue.front_mut() {
                Some((_, max)) => *max = max.max(value),
                None => self.queue.push_back((0, value)),
            }
            return;
        }
        while self.queue.back().is_some_and(|(_, v)| *v <= value) {
            self.queue.pop_back();
        }
        self.queue.push_back((self.index, value));
        self.index += 1;
        while self
            .queue
            .front()
            .is_some_and(|(i, _)| *i + (self.window as u64) < self.index)
        {
            self.queue.pop_front();
        }
    }

    pub fn footprint(&self) -> usize {
        2 * self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbounded_window_keeps_one_entry() {
        let mut r = Record::new(0);
        for i in 0..1000 {
            r.learn(-f64::from(i));
        }
        assert_eq!((r.max(), r.footprint()), (Some(0.0), 2));
    }

    #[test]
    fn sliding_maximum_matches_brute_force() {
        let values: Vec<f64> = (0..300).map(|i| f64::from((i * 37) % 101)).collect();
        for window in [0, 1, 5, 64] {
            let mut r = Record::new(window);
            for (i, v) in values.iter().enumerate() {
                r.learn(*v);
                let from = if window == 0 {
                    0
                } else {
                    (i + 1).saturating_sub(window)
                };
                let expected = values[from..=i].iter().copied().fold(f64::MIN, f64::max);
                assert_eq!(r.max(), Some(expected));
                if window > 0 {
                    assert!(r.queue.len() <= window);
                }
            }
        }
    }
}

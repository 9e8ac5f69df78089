//! When each fault was in effect, on the metrics store's clock. A probe check belongs to a
//! fault when the check's span (start to start + latency) overlaps one of the fault's windows:
//! a check that hangs on a frozen process and completes after the revert still counts as
//! "under" that fault, which tagging at record time would miss.

use crate::monitor::Observation;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct FaultWindow {
    fault: String,
    start: Duration,
    end: Option<Duration>,
}

/// Cheap to clone; clones share the windows.
#[derive(Debug, Clone, Default)]
pub struct FaultWindows {
    windows: Arc<Mutex<Vec<FaultWindow>>>,
}

impl FaultWindows {
    pub fn new() -> FaultWindows {
        FaultWindows::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultWindow>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `fault` took effect at `at`.
    pub fn opened(&self, fault: &str, at: Duration) {
        self.lock().push(FaultWindow {
            fault: fault.to_string(),
            start: at,
            end: None,
        });
    }

    /// `fault` stopped at `at`.
    pub fn closed(&self, fault: &str, at: Duration) {
        if let Some(window) = self
            .lock()
            .iter_mut()
            .rev()
            .find(|w| w.fault == fault && w.end.is_none())
        {
            window.end = Some(at);
        }
    }

    /// Every (fault, start) so far, in order of opening.
    pub fn starts(&self) -> Vec<(String, Duration)> {
        self.lock()
            .iter()
            .map(|w| (w.fault.clone(), w.start))
            .collect()
    }

    /// Whether `observation` started near a window of `fault`: within the window's own length
    /// (at least `least`) before it opened or after it closed (`end`: when it is still open).
    /// The checks of a baseline paired in time with the fault, under the same machine load.
    pub fn near(
        &self,
        fault: &str,
        observation: &Observation,
        least: Duration,
        end: Duration,
    ) -> bool {
        self.lock().iter().any(|w| {
            let close = w.end.unwrap_or(end);
            let span = close.saturating_sub(w.start).max(least);
            w.fault == fault && observation.at + span >= w.start && observation.at <= close + span
        })
    }

    /// Whether `observation` overlaps a window of `fault` (of any fault when `None`).
    pub fn covers(&self, fault: Option<&str>, observation: &Observation) -> bool {
        self.overlaps(fault, observation.at, observation.at + observation.latency)
    }

    /// Whether the instant `at` (a telemetry sample) is inside a window of `fault` (of any
    /// fault when `None`).
    pub fn covers_at(&self, fault: Option<&str>, at: Duration) -> bool {
        self.overlaps(fault, at, at)
    }

    /// Whether a window of `fault` was open at `at`, give or take `slack` (an effect seen a
    /// little before its window was recorded, or a little after it closed).
    pub fn open_around(&self, fault: &str, at: Duration, slack: Duration) -> bool {
        self.overlaps(Some(fault), at.saturating_sub(slack), at + slack)
    }

    fn overlaps(&self, fault: Option<&str>, from: Duration, to: Duration) -> bool {
        self.lock().iter().any(|w| {
            fault.is_none_or(|f| f == w.fault)
                && to >= w.start
                && w.end.is_none_or(|end| from <= end)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(at_ms: u64, latency_ms: u64) -> Observation {
        Observation {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            success: true,
            detail: String::new(),
        }
    }

    #[test]
    fn near_is_within_the_window_length_before_and_after() {
        let windows = FaultWindows::new();
        windows.opened("slow", Duration::from_millis(10_000));
        windows.closed("slow", Duration::from_millis(12_000));
        let end = Duration::from_secs(60);
        let least = Duration::from_millis(500);
        assert!(windows.near("slow", &check(8_000, 1), least, end));
        assert!(!windows.near("slow", &check(7_900, 1), least, end));
        assert!(windows.near("slow", &check(14_000, 1), least, end));
        assert!(!windows.near("slow", &check(14_100, 1), least, end));
        assert!(!windows.near("other", &check(11_000, 1), least, end));
        // A short window pairs with at least `least` on each side.
        windows.opened("blip", Duration::from_millis(30_000));
        windows.closed("blip", Duration::from_millis(30_100));
        assert!(windows.near("blip", &check(29_600, 1), least, end));
        assert!(!windows.near("blip", &check(29_400, 1), least, end));
    }

    #[test]
    fn a_check_overlapping_the_window_is_under_the_fault() {
        let windows = FaultWindows::new();
        windows.opened("freeze", Duration::from_millis(1000));
        windows.closed("freeze", Duration::from_millis(2000));
        assert!(!windows.covers(Some("freeze"), &check(500, 10)));
        assert!(windows.covers(Some("freeze"), &check(950, 900)));
        assert!(windows.covers(Some("freeze"), &check(1500, 10)));
        assert!(!windows.covers(Some("freeze"), &check(2100, 10)));
        assert!(!windows.covers(Some("other"), &check(1500, 10)));
        assert!(windows.covers(None, &check(1500, 10)));
        assert!(windows.covers_at(Some("freeze"), Duration::from_millis(2000)));
        assert!(!windows.covers_at(Some("freeze"), Duration::from_millis(2001)));
    }

    #[test]
    fn an_open_window_lasts_until_closed() {
        let windows = FaultWindows::new();
        windows.opened("slow", Duration::from_millis(100));
        assert!(windows.covers(Some("slow"), &check(10_000, 1)));
        windows.closed("slow", Duration::from_millis(200));
        windows.opened("slow", Duration::from_millis(300));
        assert!(!windows.covers(Some("slow"), &check(250, 10)));
        assert!(windows.covers(Some("slow"), &check(400, 10)));
    }
}

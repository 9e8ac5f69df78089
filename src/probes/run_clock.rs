//! The run's clock: every timestamp in the metrics store is an offset from the run's start.

use std::time::Duration;
use tokio::time::Instant;

/// A monotonic clock started with the run. Built on tokio's `Instant`, so tests that pause
/// tokio's clock control it too.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    start: Instant,
}

impl RunClock {
    /// A clock that starts now.
    pub fn start() -> RunClock {
        RunClock {
            start: Instant::now(),
        }
    }

    /// Time since the start.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The offset of an instant from the start (zero for instants before it).
    pub fn offset_of(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn measures_elapsed_time_on_the_tokio_clock() {
        let clock = RunClock::start();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(clock.now(), Duration::from_millis(1500));
        assert_eq!(clock.offset_of(Instant::now()), Duration::from_millis(1500));
    }
}

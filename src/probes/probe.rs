//! The `Probe` role: one check of a system's health, timed into an `Observation`.

use super::run_clock::RunClock;
use crate::plan::ProbeStats;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

pub use crate::BoxFuture;

/// The outcome of one check, before timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub success: bool,
    /// What happened, in a few words (`200 OK`, `connection refused`, `exit status 2: ...`).
    pub detail: String,
}

impl Observation {
    /// The probe's figures over `observations` (latencies in ms).
    pub fn stats(observations: &[Observation]) -> ProbeStats {
        ProbeStats::of_checks(
            observations
                .iter()
                .map(|o| (o.latency.as_secs_f64() * 1000.0, o.success)),
        )
    }
}

impl Check {
    pub fn success(detail: impl Into<String>) -> Check {
        Check {
            success: true,
            detail: detail.into(),
        }
    }

    pub fn failure(detail: impl Into<String>) -> Check {
        Check {
            success: false,
            detail: detail.into(),
        }
    }
}

/// One timed check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When the check was scheduled, as an offset from the run's start. Probes are open-loop:
    /// a check is sent at its scheduled time, whatever earlier checks are doing.
    pub at: Duration,
    /// From the scheduled time to the answer (or the timeout): a check held up by a stalled
    /// server or a busy machine counts its whole wait.
    pub latency: Duration,
    pub success: bool,
    pub detail: String,
}

/// A health check: HTTP request, TCP connect, command. Each enforces its own timeout, so a
/// check always completes.
pub trait Probe: fmt::Debug + Send + Sync {
    /// The probe kind as the language writes it (`http`, `tcp`, `command`).
    fn kind(&self) -> &'static str;

    /// What the probe checks, for reports (`GET http://127.0.0.1:8080/health expecting 2xx`).
    fn describe(&self) -> String;

    /// Performs one check.
    fn check(&self) -> BoxFuture<'_, Check>;

    /// How long a check may take before it is a failure (each check enforces it).
    fn timeout(&self) -> Duration;
}

/// Runs one check now and times it on the run's clock.
pub async fn observe(probe: &dyn Probe, clock: &RunClock) -> Observation {
    observe_scheduled(probe, clock, tokio::time::Instant::now()).await
}

/// Runs one check that was scheduled at `scheduled` (now or a little earlier) and times it
/// from then: the wait before sending counts as latency, the correction for coordinated
/// omission.
pub async fn observe_scheduled(
    probe: &dyn Probe,
    clock: &RunClock,
    scheduled: tokio::time::Instant,
) -> Observation {
    let check = probe.check().await;
    Observation {
        at: clock.offset_of(scheduled),
        latency: scheduled.elapsed(),
        success: check.success,
        detail: check.detail,
    }
}

/// Formats a duration for details: `250 ms`, `1.5 s`.
pub(crate) fn short_duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else {
        format!("{} s", (ms / 100.0).round() / 10.0)
    }
}

/// The messages of an error and its sources, without repeats (`client error (Connect): tcp
/// connect error: Connection refused (os error 111)` becomes readable).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let message = err.to_string();
        if !parts.iter().any(|part| part.contains(&message)) {
            parts.push(message);
        }
        current = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Slow;

    impl Probe for Slow {
        fn kind(&self) -> &'static str {
            "slow"
        }

        fn describe(&self) -> String {
            "waits 300 ms".to_string()
        }

        fn check(&self) -> BoxFuture<'_, Check> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Check::failure("too slow")
            })
        }

        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn observe_times_the_check_on_the_run_clock() {
        let clock = RunClock::start();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let observation = observe(&Slow, &clock).await;
        assert_eq!(observation.at, Duration::from_secs(2));
        assert_eq!(observation.latency, Duration::from_millis(300));
        assert!(!observation.success);
        assert_eq!(observation.detail, "too slow");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_check_counts_the_wait_since_its_scheduled_time() {
        let clock = RunClock::start();
        let scheduled = tokio::time::Instant::now() + Duration::from_secs(1);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let observation = observe_scheduled(&Slow, &clock, scheduled).await;
        assert_eq!(observation.at, Duration::from_secs(1));
        assert_eq!(observation.latency, Duration::from_millis(500));
    }

    #[test]
    fn formats_short_durations() {
        assert_eq!(short_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(short_duration(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn error_chains_skip_repeated_messages() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = std::io::Error::other(inner);
        assert_eq!(error_chain(&outer), "refused");
    }
}

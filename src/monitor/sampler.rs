//! Loops that feed the store at a fixed interval until shut down.
//!
//! Probes are open-loop: a check is sent at each scheduled time whatever the earlier checks
//! are doing, so a stalled server that holds every request meets as many checks as a healthy
//! one (a closed loop, one check after the other, would send one check per timeout and
//! under-count the stall: coordinated omission). Each check is stamped with its scheduled
//! time and timed from it.

use super::metrics_store::MetricsStore;
use super::proc_telemetry::ProcTelemetry;
use crate::probes::{Observation, Probe, observe_scheduled};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// The most checks of one probe in flight at once, whatever the interval and timeout.
pub const MAX_IN_FLIGHT: usize = 256;

/// How many checks of a probe may be in flight: every check ends by its timeout, so
/// `timeout / interval` of them overlap at most, plus slack for a check that overruns its
/// timeout (a command being killed, a slow machine).
pub fn in_flight_limit(interval: Duration, timeout: Duration) -> usize {
    let overlapping = timeout.as_nanos() / interval.as_nanos().max(1);
    usize::try_from(overlapping)
        .unwrap_or(MAX_IN_FLIGHT)
        .saturating_add(2)
        .clamp(2, MAX_IN_FLIGHT)
}

/// Sends a check of `probe` every `interval` (the first at once) under the name `name`,
/// until `shutdown` completes; checks run concurrently, at most `in_flight_limit` at once.
/// A scheduled check that finds the limit reached is recorded as failed (`not sent`), so
/// the schedule's count is kept. Checks still in flight at shutdown are dropped.
pub async fn run_probe(
    name: String,
    probe: Arc<dyn Probe>,
    interval: Duration,
    store: MetricsStore,
    shutdown: impl Future<Output = ()>,
) {
    let limit = in_flight_limit(interval, probe.timeout());
    let clock = store.clock();
    let mut ticks = tokio::time::interval(interval);
    // A late tick (a busy machine) still sends every scheduled check.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut in_flight = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                in_flight.abort_all();
                return;
            }
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            scheduled = ticks.tick() => {
                if in_flight.len() >= limit {
                    tracing::debug!(probe = %name, limit, "check not sent: too many in flight");
                    store.record_observation(&name, Observation {
                        at: clock.offset_of(scheduled),
                        latency: probe.timeout(),
                        success: false,
                        detail: format!("not sent: {limit} checks still in flight"),
                    });
                    continue;
                }
                let (probe, store, name) = (probe.clone(), store.clone(), name.clone());
                in_flight.spawn(async move {
                    let observation = observe_scheduled(probe.as_ref(), &clock, scheduled).await;
                    store.record_observation(&name, observation);
                });
            }
        }
    }
}

/// Samples `telemetry` every `interval` until `shutdown` completes. Sampling reads `/proc`
/// (fast, never blocking on the network) so it runs on the async thread.
pub async fn run_telemetry(
    mut telemetry: ProcTelemetry,
    interval: Duration,
    store: MetricsStore,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticks.tick() => {
                telemetry.sample(&store);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{BoxFuture, Check, Selection};

    /// A check that takes 100 ms and fails every third time.
    #[derive(Debug, Default)]
    struct Flaky {
        calls: std::sync::atomic::AtomicU32,
    }

    impl Probe for Flaky {
        fn kind(&self) -> &'static str {
            "flaky"
        }

        fn describe(&self) -> String {
            "flaky".into()
        }

        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn check(&self) -> BoxFuture<'_, Check> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n % 3 == 2 {
                    Check::failure("third")
                } else {
                    Check::success("ok")
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn observes_at_each_interval_until_shutdown() {
        let store = MetricsStore::new();
        let probe: Arc<dyn Probe> = Arc::new(Flaky::default());
        let shutdown = tokio::time::sleep(Duration::from_millis(9_950));
        run_probe(
            "flaky".into(),
            probe,
            Duration::from_secs(1),
            store.clone(),
            shutdown,
        )
        .await;
        // Ticks at 0, 1, ..., 9 s.
        let observations = store.observations("flaky", &Selection::all());
        assert_eq!(observations.len(), 10);
        assert_eq!(observations[3].at, Duration::from_secs(3));
        assert!(
            observations
                .iter()
                .all(|o| o.latency == Duration::from_millis(100))
        );
        let summary = store.probe_summary("flaky", &Selection::all()).unwrap();
        assert_eq!(summary.failures, 3);
    }

    /// Hangs until `release`, then answers at once; counts the checks it saw.
    #[derive(Debug)]
    struct Stalls {
        release: Duration,
        timeout: Duration,
        started: tokio::time::Instant,
    }

    impl Probe for Stalls {
        fn kind(&self) -> &'static str {
            "stalls"
        }

        fn describe(&self) -> String {
            "stalls".into()
        }

        fn timeout(&self) -> Duration {
            self.timeout
        }

        fn check(&self) -> BoxFuture<'_, Check> {
            Box::pin(async move {
                let answer = tokio::time::sleep_until(self.started + self.release);
                match tokio::time::timeout(self.timeout, answer).await {
                    Ok(()) => Check::success("ok"),
                    Err(_) => Check::failure("timed out"),
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_meets_a_check_at_every_scheduled_time() {
        // The server answers nothing until 3 s; checks every 100 ms, timeout 1 s.
        let store = MetricsStore::new();
        let probe: Arc<dyn Probe> = Arc::new(Stalls {
            release: Duration::from_secs(3),
            timeout: Duration::from_secs(1),
            started: tokio::time::Instant::now(),
        });
        let shutdown = tokio::time::sleep(Duration::from_millis(3_050));
        run_probe(
            "api".into(),
            probe,
            Duration::from_millis(100),
            store.clone(),
            shutdown,
        )
        .await;
        let observations = store.observations("api", &Selection::all());
        // 0, 100, ..., 3000 ms: 31 checks, in time order though they completed out of it.
        assert_eq!(observations.len(), 31);
        for (i, o) in observations.iter().enumerate() {
            assert_eq!(o.at, Duration::from_millis(100 * i as u64));
        }
        // Those sent before 2 s timed out; those after were answered at 3 s, timed from
        // their scheduled time.
        let failed = observations.iter().filter(|o| !o.success).count();
        assert_eq!(failed, 20);
        assert_eq!(observations[25].latency, Duration::from_millis(500));
        assert!(observations[25].success);
    }

    #[tokio::test(start_paused = true)]
    async fn checks_beyond_the_in_flight_limit_are_failures_not_gaps() {
        let store = MetricsStore::new();
        // A timeout far longer than the limit allows for: every check hangs 10 s.
        let probe: Arc<dyn Probe> = Arc::new(Stalls {
            release: Duration::from_secs(100),
            timeout: Duration::from_millis(200),
            started: tokio::time::Instant::now(),
        });
        assert_eq!(
            in_flight_limit(Duration::from_millis(100), probe.timeout()),
            4
        );
        #[derive(Debug)]
        struct Hangs(Arc<dyn Probe>);
        impl Probe for Hangs {
            fn kind(&self) -> &'static str {
                "hangs"
            }
            fn describe(&self) -> String {
                "hangs".into()
            }
            fn timeout(&self) -> Duration {
                self.0.timeout()
            }
            fn check(&self) -> BoxFuture<'_, Check> {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    Check::failure("late")
                })
            }
        }
        let shutdown = tokio::time::sleep(Duration::from_millis(950));
        run_probe(
            "api".into(),
            Arc::new(Hangs(probe)),
            Duration::from_millis(100),
            store.clone(),
            shutdown,
        )
        .await;
        let observations = store.observations("api", &Selection::all());
        // Ten scheduled checks: four sent (still hanging, dropped at shutdown), six refused.
        assert_eq!(observations.len(), 6);
        assert!(observations.iter().all(|o| o.detail.contains("not sent")));
        assert_eq!(
            in_flight_limit(Duration::from_millis(1), Duration::from_secs(60)),
            MAX_IN_FLIGHT
        );
    }
}

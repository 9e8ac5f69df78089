//! Loops that feed the store at a fixed interval until shut down.

use super::metrics_store::MetricsStore;
use super::probe::{Probe, observe};
use super::proc_telemetry::ProcTelemetry;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// Observes `probe` every `interval` (the first at once) under the name `name`, until
/// `shutdown` completes. A check slower than the interval delays the next one.
pub async fn run_probe(
    name: String,
    probe: Arc<dyn Probe>,
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
                let observation = observe(probe.as_ref(), &store.clock()).await;
                store.record_observation(&name, observation);
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
}

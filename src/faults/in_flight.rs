//! Applies in flight. Applying a fault can take time (a container stop waits out its grace
//! period, a cgroup move or a network disconnect waits for the kernel or the engine), and a
//! run can be interrupted meanwhile: the run task is dropped, but the engine goes on stopping
//! the container. So every apply runs as a task of its own, counted here while it runs, and
//! every revert first waits for the applies in flight to finish ([`settle`]): it then sees
//! the state the apply left, not the state before it, and undoes it (a container the stop
//! was still stopping is started again instead of being found "running" and left to exit).

use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;

/// How many applies are in flight in this process.
static IN_FLIGHT: LazyLock<watch::Sender<usize>> = LazyLock::new(|| watch::channel(0).0);

/// How long a revert waits for applies in flight: more than any grace period a fault uses
/// by default, bounded so that a wedged engine cannot hold a teardown forever.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// Counts one apply while it lives.
pub(super) struct InFlight(());

impl InFlight {
    pub(super) fn begin() -> InFlight {
        IN_FLIGHT.send_modify(|count| *count += 1);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// How many applies are in flight now.
pub fn in_flight() -> usize {
    *IN_FLIGHT.borrow()
}

/// Waits until no apply is in flight, at most `limit`; whether none is.
pub async fn settle(limit: Duration) -> bool {
    let mut count = IN_FLIGHT.subscribe();
    matches!(
        tokio::time::timeout(limit, count.wait_for(|count| *count == 0)).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn settle_waits_for_an_apply_whose_caller_went_away() {
        let guard = InFlight::begin();
        // The apply task outlives the future that started it (as on Ctrl-C).
        let task = tokio::spawn(async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let started = Instant::now();
        assert!(settle(Duration::from_secs(10)).await);
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(task.is_finished() || task.await.is_ok());
    }

    #[tokio::test]
    async fn settle_gives_up_after_its_limit() {
        let guard = InFlight::begin();
        assert!(!settle(Duration::from_millis(20)).await);
        drop(guard);
        assert!(settle(Duration::from_secs(10)).await);
    }
}

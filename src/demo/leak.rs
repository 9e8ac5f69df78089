//! A deliberate memory leak: grows real resident memory at a fixed rate up to a limit, then
//! reports itself exhausted (the API answers 503, like a service out of memory).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often the leak grows.
const TICK: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct Leak {
    /// Bytes per second; zero disables the leak.
    rate: u64,
    limit: u64,
    leaked: AtomicU64,
    exhausted: AtomicBool,
    /// The leaked memory itself, held forever.
    chunks: Mutex<Vec<Vec<u8>>>,
}

impl Leak {
    pub fn new(rate: u64, limit: u64) -> Leak {
        Leak {
            rate,
            limit,
            leaked: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            chunks: Mutex::new(Vec::new()),
        }
    }

    pub fn leaked(&self) -> u64 {
        self.leaked.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the leak reached the limit: the service is "out of memory".
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// Leaks one tick's worth of memory (`rate / 10`), never past the limit.
    pub fn grow(&self) {
        if self.rate == 0 || self.exhausted() {
            return;
        }
        let leaked = self.leaked();
        let step = (self.rate as f64 * TICK.as_secs_f64()).ceil() as u64;
        let step = step.min(self.limit.saturating_sub(leaked));
        if step > 0 {
            // Filled with a non-zero byte so every page is touched and resident.
            let chunk = vec![0xA5u8; step as usize];
            self.chunks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(chunk);
            self.leaked.fetch_add(step, Ordering::Relaxed);
        }
        if leaked + step >= self.limit {
            tracing::warn!(
                leaked = leaked + step,
                limit = self.limit,
                "memory limit reached; failing requests"
            );
            self.exhausted.store(true, Ordering::Relaxed);
        }
    }

    /// Grows the leak every tick until it is exhausted (spawn it); returns at once without
    /// a leak.
    pub async fn run(&self) {
        if self.rate == 0 {
            return;
        }
        let mut ticks = tokio::time::interval(TICK);
        while !self.exhausted() {
            ticks.tick().await;
            self.grow();
        }
    }
}

/// This process's resident set size in bytes, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * crate::targets::page_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_a_tenth_of_the_rate_and_stops_at_the_limit() {
        let leak = Leak::new(10 << 20, 2 << 20);
        leak.grow();
        assert_eq!(leak.leaked(), 1 << 20);
        assert!(!leak.exhausted());
        leak.grow();
        assert_eq!(leak.leaked(), 2 << 20);
        assert!(leak.exhausted());
        leak.grow();
        assert_eq!(leak.leaked(), 2 << 20);
    }

    #[test]
    fn leaked_memory_is_resident() {
        let before = rss_bytes();
        let leak = Leak::new(320 << 20, 32 << 20);
        leak.grow();
        assert_eq!(leak.leaked(), 32 << 20);
        // Other tests run in this process too, so only require most of the leak to show.
        assert!(
            rss_bytes() >= before + (24 << 20),
            "rss {} -> {}",
            before,
            rss_bytes()
        );
    }

    #[test]
    fn a_zero_rate_never_leaks() {
        let leak = Leak::new(0, 1 << 20);
        leak.grow();
        assert_eq!(leak.leaked(), 0);
        assert!(!leak.exhausted());
    }
}

//! Sub-millisecond sleeps for injected delays.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond and the I/O driver
//! parks in whole milliseconds, so a 50 ms delay comes out as 50-52 ms. A fault proxy that
//! claims "normal(100 ms, 20 ms)" must do better: `PreciseTimer` keeps its deadlines in a heap
//! served by one thread that parks until the earliest one (futex precision, tens of
//! microseconds) and wakes the waiting task. It is owned by a `ProxyServer` and stops with it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

/// A handle on the timer thread; clones share it. The thread stops when `stop` is called.
#[derive(Debug, Clone)]
pub struct PreciseTimer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    thread: Mutex<Option<Thread>>,
    stopped: AtomicBool,
}

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

/// What one pending sleep shares with the timer thread.
#[derive(Debug, Default)]
struct Slot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl PreciseTimer {
    /// Starts the timer thread.
    pub fn start() -> Self {
        let shared = Arc::new(Shared {
            heap: Mutex::new(BinaryHeap::new()),
            thread: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        let worker = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("pfi-proxy-timer".into())
            .spawn(move || run(&worker));
        match spawned {
            Ok(handle) => *lock(&shared.thread) = Some(handle.thread().clone()),
            Err(err) => {
                // Without the thread every sleep completes on its deadline by polling tokio.
                tracing::warn!(%err, "could not start the precise timer thread; delays fall back to tokio's timer");
                shared.stopped.store(true, Ordering::Release);
            }
        }
        PreciseTimer { shared }
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            shared: Arc::clone(&self.shared),
            deadline,
            slot: None,
            fallback: None,
        }
    }

    /// Stops the thread; pending and later sleeps fall back to tokio's timer.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(thread) = lock(&self.shared.thread).take() {
            thread.unpark();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(shared: &Shared) {
    set_fine_timer_slack();
    let mut due = Vec::new();
    while !shared.stopped.load(Ordering::Acquire) {
        let now = Instant::now();
        let next = {
            let mut heap = lock(&shared.heap);
            while heap.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
                if let Some(Reverse(entry)) = heap.pop() {
                    due.push(entry.slot);
                }
            }
            heap.peek().map(|Reverse(e)| e.deadline)
        };
        for slot in due.drain(..) {
            slot.fired.store(true, Ordering::Release);
            if let Some(waker) = lock(&slot.waker).take() {
                waker.wake();
            }
        }
        match next {
            Some(deadline) => thread::park_timeout(deadline.saturating_duration_since(now)),
            None => thread::park(),
        }
    }
    // Wake whoever still waits so they fall back to tokio's timer.
    for Reverse(entry) in lock(&shared.heap).drain() {
        if let Some(waker) = lock(&entry.slot.waker).take() {
            waker.wake();
        }
    }
}

/// Asks Linux for 1 µs timer slack on this thread (the default is 50 µs).
fn set_fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Completes at its deadline; see `PreciseTimer::sleep_until`.
#[derive(Debug)]
pub struct Sleep {
    shared: Arc<Shared>,
    deadline: Instant,
    slot: Option<Arc<Slot>>,
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Sleep {
    /// Moves the deadline (a pending registration for the old one is ignored when it fires).
    pub fn reset(&mut self, deadline: Instant) {
        if deadline != self.deadline {
            self.deadline = deadline;
            self.slot = None;
            self.fallback = None;
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        if this.shared.stopped.load(Ordering::Acquire) {
            let deadline = tokio::time::Instant::from_std(this.deadline);
            let sleep = this
                .fallback
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            return sleep.as_mut().poll(cx);
        }
        match &this.slot {
            Some(slot) if slot.fired.load(Ordering::Acquire) => Poll::Ready(()),
            Some(slot) => {
                *lock(&slot.waker) = Some(cx.waker().clone());
                // The thread may have fired between the check and the store.
                if slot.fired.load(Ordering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
            None => {
                let slot = Arc::new(Slot::default());
                *lock(&slot.waker) = Some(cx.waker().clone());
                let earliest = {
                    let mut heap = lock(&this.shared.heap);
                    let earliest = heap
                        .peek()
                        .is_none_or(|Reverse(e)| this.deadline < e.deadline);
                    heap.push(Reverse(Entry {
                        deadline: this.deadline,
                        slot: Arc::clone(&slot),
                    }));
                    earliest
                };
                if earliest {
                    if let Some(thread) = lock(&this.shared.thread).as_ref() {
                        thread.unpark();
                    }
                }
                this.slot = Some(slot);
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            lock(&slot.waker).take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sleeps_end_close_to_their_deadline() {
        let timer = PreciseTimer::start();
        let mut worst = Duration::ZERO;
        for ms in [1u64, 3, 7, 12] {
            let deadline = Instant::now() + Duration::from_millis(ms);
            timer.sleep_until(deadline).await;
            let late = Instant::now().saturating_duration_since(deadline);
            assert!(Instant::now() >= deadline);
            worst = worst.max(late);
        }
        // Generous: the box is shared; tokio's own timer would be up to 2 ms late.
        assert!(
            worst < Duration::from_millis(20),
            "worst lateness {worst:?}"
        );
        timer.stop();
    }

    #[tokio::test]
    async fn a_reset_sleep_waits_for_the_new_deadline() {
        let timer = PreciseTimer::start();
        let start = Instant::now();
        let mut sleep = Box::pin(timer.sleep_until(start + Duration::from_millis(1)));
        sleep.as_mut().reset(start + Duration::from_millis(15));
        sleep.as_mut().await;
        assert!(start.elapsed() >= Duration::from_millis(15));
        timer.stop();
    }

    #[tokio::test]
    async fn a_stopped_timer_falls_back_to_tokio() {
        let timer = PreciseTimer::start();
        timer.stop();
        let deadline = Instant::now() + Duration::from_millis(5);
        timer.sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    }
}

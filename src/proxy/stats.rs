//! Counters per link and per toxic, and the snapshot structs the metrics store reads.

use super::histogram::{Histogram, HistogramSnapshot};
use super::link_config::{LinkInfo, LinkKind};
use super::redirect::Redirected;
use super::stream::Direction;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Live counters of one link, shared by its listener and connection tasks.
#[derive(Debug, Default)]
pub struct LinkCounters {
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_active: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) upstream_errors: AtomicU64,
    /// Bytes delivered, indexed by `Direction::index` (connections forwarded in the kernel
    /// add theirs when they leave the fast path; until then they are in `redirected`).
    pub(crate) bytes: [AtomicU64; 2],
    /// Connections that started on the in-kernel fast path (see `redirect`).
    pub(crate) connections_redirected: AtomicU64,
    /// Connections on the fast path now, whose bytes the kernel counts.
    pub(crate) redirected: Mutex<Vec<Arc<Redirected>>>,
    pub(crate) requests_total: AtomicU64,
    pub(crate) injected_errors: AtomicU64,
    /// Time from receiving a request to sending its response head (HTTP links).
    pub(crate) request_latency: Histogram,
}

impl LinkCounters {
    pub(crate) fn add_bytes(&self, direction: Direction, n: usize) {
        self.bytes[direction.index()].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Bytes delivered in `direction`, including those of connections in the fast path.
    pub(crate) fn bytes(&self, direction: Direction) -> u64 {
        let live = lock(&self.redirected);
        let kernel: u64 = live.iter().map(|r| r.moved()[direction.index()]).sum();
        self.bytes[direction.index()].load(Ordering::Relaxed) + kernel
    }

    /// Starts forwarding in the kernel (`start` attaches a connection) unless
    /// `refuse` says no, and counts the connection's bytes as the kernel's until
    /// `leave_kernel`. Under the same lock as `stop_kernel_forwarding`, so a toxic added at the
    /// same moment either is seen by `refuse` or stops the connection right after.
    pub(crate) fn enter_kernel(
        &self,
        refuse: impl FnOnce() -> bool,
        start: impl FnOnce() -> Option<Arc<Redirected>>,
    ) -> Option<Arc<Redirected>> {
        let mut live = lock(&self.redirected);
        if refuse() {
            return None;
        }
        let redirected = start()?;
        self.connections_redirected.fetch_add(1, Ordering::Relaxed);
        live.push(Arc::clone(&redirected));
        Some(redirected)
    }

    /// Switches every connection of the link out of the kernel's forwarding now, before the
    /// call that added a toxic returns: what clients send after it goes through the toxic.
    pub(crate) fn stop_kernel_forwarding(&self) {
        for redirected in lock(&self.redirected).iter() {
            redirected.stop();
        }
    }

    /// Moves a connection's redirected bytes into the link's totals (after `Redirected::stop`).
    pub(crate) fn leave_kernel(&self, redirected: &Arc<Redirected>) {
        let mut live = lock(&self.redirected);
        if let Some(i) = live.iter().position(|r| Arc::ptr_eq(r, redirected)) {
            live.swap_remove(i);
            for direction in [Direction::Upstream, Direction::Downstream] {
                self.add_bytes(direction, redirected.moved()[direction.index()] as usize);
            }
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decrements the active-connection gauge when a connection ends, however it ends.
#[derive(Debug)]
pub(crate) struct ActiveConnection<'a>(&'a LinkCounters);

impl<'a> ActiveConnection<'a> {
    pub(crate) fn open(counters: &'a LinkCounters) -> Self {
        counters.connections_active.fetch_add(1, Ordering::Relaxed);
        ActiveConnection(counters)
    }
}

impl Drop for ActiveConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Live counters of one toxic on one link; they survive updates of the toxic.
#[derive(Debug, Default)]
pub struct ToxicCounters {
    /// Connections (TCP) or requests (HTTP) the toxic was applied to after its toxicity draw.
    pub(crate) applied: AtomicU64,
    /// Faults it injected: error responses, aborts, resets, closes, refused connections.
    pub(crate) injected: AtomicU64,
    /// Delays it added.
    pub(crate) delay: Histogram,
}

impl ToxicCounters {
    /// Records a delay the toxic added.
    pub fn record_delay(&self, delay: Duration) {
        self.delay.record(delay);
    }

    /// Counts one injected fault on both the toxic and its link.
    pub(crate) fn injected(&self, link: &LinkCounters) {
        self.injected.fetch_add(1, Ordering::Relaxed);
        link.injected_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of one link's counters (`ProxyServer::stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkStats {
    pub name: String,
    pub kind: LinkKind,
    /// The listen address (bound while enabled).
    pub listen: String,
    pub upstream: String,
    pub connections_total: u64,
    pub connections_active: u64,
    /// Connections refused by a `down` toxic.
    pub connections_refused: u64,
    /// Connections or requests that could not reach the upstream.
    pub upstream_errors: u64,
    /// Bytes delivered from client to upstream.
    pub bytes_upstream: u64,
    /// Bytes delivered from upstream to client.
    pub bytes_downstream: u64,
    /// Connections forwarded inside the kernel while the link had no toxic (Linux, root).
    pub connections_redirected: u64,
    /// Connections in the kernel's fast path now.
    pub connections_in_kernel: u64,
    /// HTTP requests received (HTTP links only).
    pub requests_total: u64,
    /// Faults injected by every toxic of the link.
    pub injected_errors: u64,
    /// HTTP request latency as seen by the client side of the proxy.
    pub request_latency: HistogramSnapshot,
    /// One entry per toxic the link has had since its last reset.
    pub toxics: Vec<ToxicStats>,
}

/// A snapshot of one toxic's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToxicStats {
    pub name: String,
    pub type_name: String,
    /// Whether the toxic is still installed.
    pub active: bool,
    pub applied: u64,
    pub injected: u64,
    pub delay: HistogramSnapshot,
}

impl ToxicStats {
    pub(crate) fn read(name: &str, type_name: &str, active: bool, c: &ToxicCounters) -> Self {
        ToxicStats {
            name: name.to_string(),
            type_name: type_name.to_string(),
            active,
            applied: c.applied.load(Ordering::Relaxed),
            injected: c.injected.load(Ordering::Relaxed),
            delay: c.delay.snapshot(),
        }
    }
}

impl LinkStats {
    pub(crate) fn read(info: &LinkInfo, c: &LinkCounters, toxics: Vec<ToxicStats>) -> Self {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LinkStats {
            name: info.name.clone(),
            kind: info.kind,
            listen: info.listen.to_string(),
            upstream: info.upstream.clone(),
            connections_total: load(&c.connections_total),
            connections_active: load(&c.connections_active),
            connections_refused: load(&c.connections_refused),
            upstream_errors: load(&c.upstream_errors),
            bytes_upstream: c.bytes(Direction::Upstream),
            bytes_downstream: c.bytes(Direction::Downstream),
            connections_redirected: load(&c.connections_redirected),
            connections_in_kernel: lock(&c.redirected).len() as u64,
            requests_total: load(&c.requests_total),
            injected_errors: load(&c.injected_errors),
            request_latency: c.request_latency.snapshot(),
            toxics,
        }
    }
}

//! `ProxyServer`: the library API the run engine and the REST API both call.

use super::error::ProxyError;
use super::link::{self, Link, LinkEnv};
use super::link_config::{LinkConfig, LinkInfo, Listen};
use super::listener;
use super::precise_timer::PreciseTimer;
use super::redirect::KernelRedirect;
use super::stats::LinkStats;
use super::toxic_config::{ToxicConfig, ToxicInfo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::runtime::Handle;

/// A set of named links sharing one seed. Clones share the same links.
#[derive(Clone)]
pub struct ProxyServer {
    inner: Arc<Inner>,
}

struct Inner {
    seed: u64,
    timer: PreciseTimer,
    /// The in-kernel fast path for TCP links without toxics (see `redirect`).
    kernel: Arc<KernelRedirect>,
    /// Where links run: the runtime `new` was called in, else the one `add_link` is.
    runtime: Option<Handle>,
    links: Mutex<BTreeMap<String, Arc<Link>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for link in self
            .links
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            link.stop();
        }
        self.timer.stop();
    }
}

impl std::fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.links().keys().cloned().collect();
        f.debug_struct("ProxyServer")
            .field("seed", &self.inner.seed)
            .field("links", &names)
            .finish()
    }
}

/// Changes to a link's fields, Toxiproxy's `POST /proxies/{name}` semantics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkUpdate {
    /// A new listen address: the link is restarted there (connections are closed).
    pub listen: Option<SocketAddr>,
    /// A new upstream: open connections are closed, new ones go there.
    pub upstream: Option<String>,
    /// Start or stop accepting (stopping closes open connections).
    pub enabled: Option<bool>,
}

impl ProxyServer {
    /// A server with no links whose random decisions all derive from `seed`. Links run on
    /// the tokio runtime this is called in (if any), whichever runtime later calls come
    /// from, so the control API can run on a thread of its own.
    pub fn new(seed: u64) -> Self {
        ProxyServer {
            inner: Arc::new(Inner {
                seed,
                timer: PreciseTimer::start(),
                kernel: Arc::new(KernelRedirect::from_env()),
                runtime: Handle::try_current().ok(),
                links: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Turns the in-kernel fast path on or off for connections accepted from now on. It is
    /// on by default (`PFI_KERNEL_REDIRECT=0` turns it off) and used where the machine allows
    /// it: Linux, with CAP_BPF and CAP_NET_ADMIN. TCP connections whose link has no toxic and
    /// whose first 250 ms (or 32 transfers) are light are then forwarded by the kernel;
    /// adding a toxic switches them back to user space before `add_toxic` returns, without
    /// losing or reordering a byte.
    pub fn set_kernel_redirect(&self, on: bool) {
        self.inner.kernel.set_enabled(on);
    }

    /// Whether new TCP connections without toxics are forwarded inside the kernel: the fast
    /// path is on and this machine allows it (the first call finds out and logs why not).
    pub fn kernel_redirect(&self) -> bool {
        self.inner.kernel.get().is_some()
    }

    fn links(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Link>>> {
        self.inner
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, name: &str) -> Result<Arc<Link>, ProxyError> {
        self.links()
            .get(name)
            .cloned()
            .ok_or_else(|| ProxyError::LinkNotFound(name.to_string()))
    }

    fn runtime(&self) -> Handle {
        self.inner.runtime.clone().unwrap_or_else(Handle::current)
    }

    /// Adds a link and, if enabled, starts accepting on it. Returns the link with its bound
    /// address (port 0 resolved).
    pub async fn add_link(&self, config: LinkConfig) -> Result<LinkInfo, ProxyError> {
        let runtime = self.runtime();
        if config.name.trim().is_empty() {
            return Err(ProxyError::Invalid(
                "missing required field: name (a link needs a name)".into(),
            ));
        }
        if config.upstream.trim().is_empty() {
            return Err(ProxyError::Invalid(
                "missing required field: upstream (host:port of the real service)".into(),
            ));
        }
        if self.links().contains_key(&config.name) {
            return Err(ProxyError::LinkExists(config.name));
        }
        let (listener, listen) = match config.listen {
            Listen::Bound(listener) => {
                let addr = listener.local_addr().map_err(|err| {
                    ProxyError::Invalid(format!("the given listener has no local address: {err}"))
                })?;
                (Some(listener), addr)
            }
            Listen::Addr(addr) if config.enabled => {
                let listener = link::bind(addr, &runtime)?;
                let bound = listener.local_addr().unwrap_or(addr);
                (Some(listener), bound)
            }
            Listen::Addr(addr) => (None, addr),
        };
        let link = Link::new(
            config.name.clone(),
            config.kind,
            LinkEnv {
                seed: self.inner.seed,
                timer: self.inner.timer.clone(),
                kernel: Arc::clone(&self.inner.kernel),
                runtime,
                accept: listener::accept,
            },
            listen,
            config.upstream,
        );
        {
            let mut links = self.links();
            if links.contains_key(&config.name) {
                return Err(ProxyError::LinkExists(config.name));
            }
            links.insert(config.name, Arc::clone(&link));
        }
        if let (Some(listener), true) = (listener, config.enabled) {
            link.start(listener);
        }
        Ok(link.info())
    }

    /// Stops a link, closes its connections and forgets it.
    pub async fn remove_link(&self, name: &str) -> Result<(), ProxyError> {
        let link = self
            .links()
            .remove(name)
            .ok_or_else(|| ProxyError::LinkNotFound(name.to_string()))?;
        if let Some(task) = link.stop() {
            let _ = task.await;
        }
        Ok(())
    }

    /// Points new connections (and HTTP requests) of a link at another upstream; open TCP
    /// connections keep their upstream. This is traffic shifting, not a restart.
    pub fn set_upstream(&self, name: &str, upstream: impl Into<String>) -> Result<(), ProxyError> {
        let upstream = upstream.into();
        if upstream.trim().is_empty() {
            return Err(ProxyError::Invalid(
                "the upstream must be host:port, got an empty string".into(),
            ));
        }
        self.get(name)?.set_upstream(&upstream);
        Ok(())
    }

    /// Starts or stops accepting on a link (stopping closes its connections).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<LinkInfo, ProxyError> {
        self.update_link(
            name,
            LinkUpdate {
                enabled: Some(enabled),
                ..LinkUpdate::default()
            },
        )
        .await
    }

    /// Applies Toxiproxy's proxy update: a new listen address or upstream restarts the link
    /// (closing its connections). If the new address cannot be bound, the link is restored
    /// as it was and the error returned.
    pub async fn update_link(
        &self,
        name: &str,
        update: LinkUpdate,
    ) -> Result<LinkInfo, ProxyError> {
        let link = self.get(name)?;
        let was_enabled = link.is_enabled();
        let old_listen = link.listen();
        let enabled = update.enabled.unwrap_or(was_enabled);
        let listen_changes = update.listen.is_some_and(|l| l != old_listen);
        let upstream_changes = update
            .upstream
            .as_deref()
            .is_some_and(|u| u != &*link.upstream());
        if let Some(upstream) = update.upstream.as_deref().filter(|u| u.trim().is_empty()) {
            return Err(ProxyError::Invalid(format!(
                "the upstream must be host:port, got {upstream:?}"
            )));
        }
        let restart = listen_changes || upstream_changes || !enabled;
        if was_enabled && restart {
            if let Some(task) = link.stop() {
                let _ = task.await;
            }
        }
        if let Some(upstream) = update.upstream.as_deref() {
            link.set_upstream(upstream);
        }
        if let Some(listen) = update.listen {
            link.set_listen(listen);
        }
        if enabled && !link.is_enabled() {
            if let Err(err) = link.bind_and_start() {
                link.set_listen(old_listen);
                if was_enabled {
                    // Best effort: the old address was ours a moment ago.
                    if let Err(again) = link.bind_and_start() {
                        tracing::warn!(link = %name, %again, "could not restore the link on its old address");
                    }
                }
                return Err(err);
            }
        }
        Ok(link.info())
    }

    pub fn add_toxic(&self, link: &str, toxic: ToxicConfig) -> Result<ToxicInfo, ProxyError> {
        self.get(link)?.add_toxic(toxic)
    }

    /// Replaces the toxic of the same name; open connections switch to it without dropping.
    pub fn update_toxic(&self, link: &str, toxic: ToxicConfig) -> Result<ToxicInfo, ProxyError> {
        self.get(link)?.update_toxic(toxic)
    }

    pub fn remove_toxic(&self, link: &str, toxic: &str) -> Result<(), ProxyError> {
        self.get(link)?.remove_toxic(toxic)
    }

    pub fn toxic(&self, link: &str, toxic: &str) -> Result<ToxicInfo, ProxyError> {
        self.get(link)?.toxic(toxic)
    }

    /// The installed toxic with its live value (for partial updates).
    pub fn toxic_config(&self, link: &str, toxic: &str) -> Result<ToxicConfig, ProxyError> {
        self.get(link)?.toxic_config(toxic)
    }

    pub fn toxics(&self, link: &str) -> Result<Vec<ToxicInfo>, ProxyError> {
        Ok(self.get(link)?.info().toxics)
    }

    pub fn link(&self, name: &str) -> Result<LinkInfo, ProxyError> {
        Ok(self.get(name)?.info())
    }

    /// Every link, by name.
    pub fn list(&self) -> Vec<LinkInfo> {
        let links: Vec<Arc<Link>> = self.links().values().cloned().collect();
        links.iter().map(|l| l.info()).collect()
    }

    pub fn stats(&self, link: &str) -> Result<LinkStats, ProxyError> {
        Ok(self.get(link)?.stats())
    }

    pub fn all_stats(&self) -> Vec<LinkStats> {
        let links: Vec<Arc<Link>> = self.links().values().cloned().collect();
        links.iter().map(|l| l.stats()).collect()
    }

    /// Toxiproxy's `POST /reset`: removes every toxic and enables every link. Returns the
    /// first link that could not be re-enabled, if any (the others are still reset).
    pub async fn reset(&self) -> Result<(), ProxyError> {
        let links: Vec<Arc<Link>> = self.links().values().cloned().collect();
        let mut first_error = None;
        for link in links {
            link.clear_toxics();
            if !link.is_enabled() {
                if let Err(err) = link.bind_and_start() {
                    first_error.get_or_insert(err);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops every link (closing listeners and connections) and forgets them.
    pub async fn shutdown(&self) {
        let links: Vec<Arc<Link>> = std::mem::take(&mut *self.links()).into_values().collect();
        for link in links {
            if let Some(task) = link.stop() {
                let _ = task.await;
            }
        }
    }
}

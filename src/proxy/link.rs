//! One link: a listen address, an upstream, its toxics and counters, and the accept task
//! while it is enabled.
//!
//! Control calls never wait for traffic: toxics live in a watch channel whose value is an
//! immutable `ToxicSet`, replaced in one step; connections pick the new set up between two
//! reads. Locks here are std mutexes held for a few field updates, never across an await.

use super::error::ProxyError;
use super::link_config::{LinkInfo, LinkKind};
use super::precise_timer::PreciseTimer;
use super::redirect::KernelRedirect;
use super::seeding;
use super::stats::{LinkCounters, LinkStats, ToxicCounters, ToxicStats};
use super::toxic::Layer;
use super::toxic_config::{ToxicConfig, ToxicInfo};
use super::toxic_set::{Installed, ToxicSet};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The HTTP client an HTTP link forwards requests with (pooled connections to the upstream).
pub(crate) type UpstreamClient = Client<HttpConnector, hyper::body::Incoming>;

pub(crate) struct Link {
    pub(crate) name: String,
    pub(crate) kind: LinkKind,
    pub(crate) seed: u64,
    pub(crate) timer: PreciseTimer,
    /// Whether connections may be forwarded inside the kernel while the link has no toxic.
    pub(crate) kernel: Arc<KernelRedirect>,
    /// The runtime the link's tasks run on (the control API may run on another one).
    runtime: Handle,
    /// The accept loop `start` spawns (`listener::accept`, wired by the server, so this
    /// file does not import the listener that serves it).
    accept: Accept,
    pub(crate) counters: LinkCounters,
    pub(crate) http_client: Option<UpstreamClient>,
    toxics: watch::Sender<Arc<ToxicSet>>,
    /// Counters of every toxic since the last reset, including removed ones.
    toxic_history: Mutex<BTreeMap<String, (&'static str, Arc<ToxicCounters>)>>,
    upstream: RwLock<Arc<str>>,
    state: Mutex<State>,
    next_connection: AtomicU64,
    next_request: AtomicU64,
}

struct State {
    listen: SocketAddr,
    running: Option<Running>,
}

/// An accepting listener; dropping `stop` ends it and every connection it accepted.
struct Running {
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
}

/// An accept loop: serves `link` on the listener until `stop` is dropped.
pub(crate) type Accept =
    fn(Arc<Link>, TcpListener, watch::Receiver<()>) -> crate::BoxFuture<'static, ()>;

/// What a link shares with the other links of its server.
pub(crate) struct LinkEnv {
    pub(crate) seed: u64,
    pub(crate) timer: PreciseTimer,
    pub(crate) kernel: Arc<KernelRedirect>,
    pub(crate) runtime: Handle,
    pub(crate) accept: Accept,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    pub(crate) fn new(
        name: String,
        kind: LinkKind,
        env: LinkEnv,
        listen: SocketAddr,
        upstream: String,
    ) -> Arc<Link> {
        let http_client =
            (kind == LinkKind::Http).then(|| Client::builder(TokioExecutor::new()).build_http());
        Arc::new(Link {
            name,
            kind,
            seed: env.seed,
            timer: env.timer,
            kernel: env.kernel,
            runtime: env.runtime,
            accept: env.accept,
            counters: LinkCounters::default(),
            http_client,
            toxics: watch::Sender::new(Arc::new(ToxicSet::default())),
            toxic_history: Mutex::new(BTreeMap::new()),
            upstream: RwLock::new(Arc::from(upstream)),
            state: Mutex::new(State {
                listen,
                running: None,
            }),
            next_connection: AtomicU64::new(0),
            next_request: AtomicU64::new(0),
        })
    }

    // ---- listener lifecycle ----

    /// Starts accepting on `listener`.
    pub(crate) fn start(self: &Arc<Self>, listener: TcpListener) {
        let mut state = lock(&self.state);
        if let Ok(addr) = listener.local_addr() {
            state.listen = addr;
        }
        let (stop, stopped) = watch::channel(());
        let task = self
            .runtime
            .spawn((self.accept)(Arc::clone(self), listener, stopped));
        if let Some(old) = state.running.replace(Running { stop, task }) {
            old.task.abort();
        }
        tracing::info!(link = %self.name, listen = %state.listen, upstream = %self.upstream(), "link started");
    }

    /// Binds the current listen address and starts accepting.
    pub(crate) fn bind_and_start(self: &Arc<Self>) -> Result<(), ProxyError> {
        let listener = bind(self.listen(), &self.runtime)?;
        self.start(listener);
        Ok(())
    }

    /// Stops accepting and closes every connection; await the handle to know the listening
    /// socket is closed.
    pub(crate) fn stop(&self) -> Option<JoinHandle<()>> {
        let running = lock(&self.state).running.take()?;
        drop(running.stop);
        tracing::info!(link = %self.name, "link stopped");
        Some(running.task)
    }

    pub(crate) fn is_enabled(&self) -> bool {
        lock(&self.state).running.is_some()
    }

    pub(crate) fn listen(&self) -> SocketAddr {
        lock(&self.state).listen
    }

    pub(crate) fn set_listen(&self, addr: SocketAddr) {
        lock(&self.state).listen = addr;
    }

    pub(crate) fn upstream(&self) -> Arc<str> {
        Arc::clone(&self.upstream.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_upstream(&self, upstream: &str) {
        *self
            .upstream
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::from(upstream);
    }

    pub(crate) fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_request(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    // ---- toxics ----

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<ToxicSet>> {
        self.toxics.subscribe()
    }

    pub(crate) fn toxic_set(&self) -> Arc<ToxicSet> {
        Arc::clone(&self.toxics.borrow())
    }

    fn check(&self, config: &ToxicConfig) -> Result<(), ProxyError> {
        config.validate().map_err(ProxyError::Invalid)?;
        if config.toxic.layer() == Layer::Http && self.kind != LinkKind::Http {
            return Err(ProxyError::Invalid(format!(
                "toxic type {} acts on HTTP requests, but link {:?} is a tcp link; create the link with \"kind\": \"http\"",
                config.toxic.type_name(),
                self.name
            )));
        }
        Ok(())
    }

    fn counters_for(&self, config: &ToxicConfig) -> Arc<ToxicCounters> {
        let mut history = lock(&self.toxic_history);
        let entry = history
            .entry(config.name.clone())
            .or_insert_with(|| (config.toxic.type_name(), Arc::default()));
        entry.0 = config.toxic.type_name();
        Arc::clone(&entry.1)
    }

    pub(crate) fn add_toxic(&self, config: ToxicConfig) -> Result<ToxicInfo, ProxyError> {
        self.check(&config)?;
        let info = config.info();
        let mut result = Ok(());
        self.toxics.send_if_modified(|set| {
            if set.position(&config.name).is_some() {
                result = Err(ProxyError::ToxicExists {
                    link: self.name.clone(),
                    toxic: config.name.clone(),
                });
                return false;
            }
            let counters = self.counters_for(&config);
            let mut next = ToxicSet::clone(set);
            next.toxics.push(Installed {
                config: config.clone(),
                revision: 0,
                counters,
            });
            *set = Arc::new(next);
            true
        });
        if result.is_ok() {
            self.counters.stop_kernel_forwarding();
        }
        result.map(|()| info)
    }

    pub(crate) fn update_toxic(&self, config: ToxicConfig) -> Result<ToxicInfo, ProxyError> {
        self.check(&config)?;
        let info = config.info();
        let mut result = Ok(());
        self.toxics.send_if_modified(|set| {
            let Some(i) = set.position(&config.name) else {
                result = Err(ProxyError::ToxicNotFound {
                    link: self.name.clone(),
                    toxic: config.name.clone(),
                });
                return false;
            };
            let counters = self.counters_for(&config);
            let mut next = ToxicSet::clone(set);
            let revision = next.toxics[i].revision + 1;
            next.toxics[i] = Installed {
                config: config.clone(),
                revision,
                counters,
            };
            *set = Arc::new(next);
            true
        });
        result.map(|()| info)
    }

    pub(crate) fn remove_toxic(&self, name: &str) -> Result<(), ProxyError> {
        let mut result = Ok(());
        self.toxics.send_if_modified(|set| {
            let Some(i) = set.position(name) else {
                result = Err(ProxyError::ToxicNotFound {
                    link: self.name.clone(),
                    toxic: name.to_string(),
                });
                return false;
            };
            let mut next = ToxicSet::clone(set);
            next.toxics.remove(i);
            *set = Arc::new(next);
            true
        });
        result
    }

    /// Removes every toxic and forgets their counters.
    pub(crate) fn clear_toxics(&self) {
        self.toxics.send_replace(Arc::new(ToxicSet::default()));
        lock(&self.toxic_history).clear();
    }

    pub(crate) fn toxic(&self, name: &str) -> Result<ToxicInfo, ProxyError> {
        let set = self.toxic_set();
        set.toxics
            .iter()
            .find(|t| t.config.name == name)
            .map(|t| t.config.info())
            .ok_or_else(|| ProxyError::ToxicNotFound {
                link: self.name.clone(),
                toxic: name.to_string(),
            })
    }

    pub(crate) fn toxic_config(&self, name: &str) -> Result<ToxicConfig, ProxyError> {
        let set = self.toxic_set();
        set.toxics
            .iter()
            .find(|t| t.config.name == name)
            .map(|t| t.config.clone())
            .ok_or_else(|| ProxyError::ToxicNotFound {
                link: self.name.clone(),
                toxic: name.to_string(),
            })
    }

    /// Whether connection `connection` is refused by a `down`-like toxic (counts it if so).
    pub(crate) fn refuses(&self, connection: u64) -> bool {
        let set = self.toxic_set();
        for t in set.refusing() {
            let stream = seeding::toxicity_stream(&self.name, &t.config.name, connection);
            if seeding::applies(self.seed, &stream, t.config.toxicity) {
                LinkCounters::bump(&t.counters.applied);
                t.counters.injected(&self.counters);
                LinkCounters::bump(&self.counters.connections_refused);
                return true;
            }
        }
        false
    }

    // ---- views ----

    pub(crate) fn info(&self) -> LinkInfo {
        LinkInfo {
            name: self.name.clone(),
            kind: self.kind,
            listen: self.listen(),
            upstream: self.upstream().to_string(),
            enabled: self.is_enabled(),
            toxics: self
                .toxic_set()
                .toxics
                .iter()
                .map(|t| t.config.info())
                .collect(),
        }
    }

    pub(crate) fn stats(&self) -> LinkStats {
        let set = self.toxic_set();
        let toxics = lock(&self.toxic_history)
            .iter()
            .map(|(name, (type_name, counters))| {
                let active = set.position(name).is_some();
                ToxicStats::read(name, type_name, active, counters)
            })
            .collect();
        LinkStats::read(&self.info(), &self.counters, toxics)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(running) = lock(&self.state).running.take() {
            running.task.abort();
        }
    }
}

/// Binds `addr` for a link on `runtime` (SO_REUSEADDR, as std does on Unix, so a port can
/// be re-bound right after it was released).
pub(crate) fn bind(addr: SocketAddr, runtime: &Handle) -> Result<TcpListener, ProxyError> {
    let std_listener =
        std::net::TcpListener::bind(addr).map_err(|err| ProxyError::bind(addr, err))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|err| ProxyError::bind(addr, err))?;
    let _entered = runtime.enter();
    TcpListener::from_std(std_listener).map_err(|err| ProxyError::bind(addr, err))
}

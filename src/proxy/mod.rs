//! The TCP and HTTP fault proxy.
//!
//! A `ProxyServer` holds named links. Each link listens on an address and forwards to an
//! upstream, as raw TCP or as HTTP/1.1, through the toxics installed on it. Toxics can be
//! added, changed and removed while traffic flows; every random decision draws from a
//! stream seeded by the server's seed (see `seeding`), so a seed reproduces a run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pfi::proxy::ProxyError> {
//! use pfi::proxy::{LinkConfig, ProxyServer, ToxicConfig, toxics::Latency};
//! let proxy = ProxyServer::new(42);
//! let listen: std::net::SocketAddr = "127.0.0.1:0".parse().expect("an address");
//! let link = proxy.add_link(LinkConfig::tcp("db", listen, "127.0.0.1:5432")).await?;
//! // Clients connect to `link.listen`; every response now waits 100 ± 10 ms.
//! proxy.add_toxic("db", ToxicConfig::new("slow", Latency::toxiproxy(100, 10)))?;
//! let bytes_down = proxy.stats("db")?.bytes_downstream;
//! proxy.remove_toxic("db", "slow")?;
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! `api` serves the Toxiproxy 2.x compatible REST API over a `ProxyServer`.

pub mod api;
mod attributes;
mod delay_spec;
mod error;
mod histogram;
mod http_handler;
mod http_match;
mod link;
mod link_config;
mod listener;
pub mod metrics;
mod precise_timer;
mod pump;
mod redirect;
pub mod seeding;
mod server;
mod splice;
mod stage;
mod stats;
mod stream;
mod tcp_handler;
mod toxic;
mod toxic_config;
mod toxic_set;
pub mod toxics;

pub use attributes::{AttributeError, Attributes};
pub use error::ProxyError;
pub use histogram::{BUCKET_BOUNDS_MS, HistogramSnapshot};
pub use http_match::HttpMatch;
pub use link_config::{LinkConfig, LinkInfo, LinkKind, Listen};
pub use server::{LinkUpdate, ProxyServer};
pub use stage::{Chunk, Ended, Ending, Stage, StageContext};
pub use stats::{LinkStats, ToxicCounters, ToxicStats};
pub use stream::{Direction, InvalidStream, Stream};
pub use toxic::{HttpEffect, Layer, Toxic};
pub use toxic_config::{ToxicConfig, ToxicInfo};

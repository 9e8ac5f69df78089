//! The demo HTTP API: `/health`, `/checkout` (calls the backend over TCP), `/metrics`.

use super::api_stats::ApiStats;
use super::cpu_work::burn_cpu;
use super::leak::{Leak, rss_bytes};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `host:port` of the backend.
    pub backend: String,
    /// Added to every `/checkout`.
    pub latency: Duration,
    /// CPU time burnt by every `/checkout`.
    pub cpu_work: Duration,
    /// How long a backend call may take before `/checkout` answers 504.
    pub backend_timeout: Duration,
    /// Bytes leaked per second (0: no leak).
    pub leak_rate: u64,
    /// Leaked bytes at which the API starts answering 503.
    pub memory_limit: u64,
    /// How long after start the leak begins (a leak that a later code path triggers).
    pub leak_after: Duration,
    /// Exit (like a process killed for running out of memory) once the leak reaches
    /// `memory_limit`, instead of answering 503.
    pub exit_at_limit: bool,
}

impl ApiConfig {
    pub fn new(backend: impl Into<String>) -> ApiConfig {
        ApiConfig {
            backend: backend.into(),
            latency: Duration::ZERO,
            cpu_work: Duration::ZERO,
            backend_timeout: Duration::from_secs(1),
            leak_rate: 0,
            memory_limit: 256 << 20,
            leak_after: Duration::ZERO,
            exit_at_limit: false,
        }
    }
}

struct Api {
    config: ApiConfig,
    stats: ApiStats,
    leak: Leak,
}

/// How `serve_api` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiEnd {
    /// `shutdown` completed.
    Shutdown,
    /// The leak reached the memory limit with `exit_at_limit` set.
    OutOfMemory,
}

/// Serves HTTP on `listener` until `shutdown` completes (or, with `exit_at_limit`, until the
/// leak reaches the memory limit).
pub async fn serve_api(
    listener: TcpListener,
    config: ApiConfig,
    shutdown: impl Future<Output = ()>,
) -> ApiEnd {
    let leak = Leak::new(config.leak_rate, config.memory_limit);
    let (leak_after, exit_at_limit) = (config.leak_after, config.exit_at_limit);
    let api = Arc::new(Api {
        config,
        stats: ApiStats::default(),
        leak,
    });
    let leaking = api.clone();
    let mut leak_task = tokio::spawn(async move {
        tokio::time::sleep(leak_after).await;
        leaking.leak.run().await
    });
    let mut leaking = true;
    tokio::pin!(shutdown);
    let end = loop {
        tokio::select! {
            _ = &mut shutdown => break ApiEnd::Shutdown,
            _ = &mut leak_task, if leaking => {
                leaking = false;
                if exit_at_limit && api.leak.exhausted() {
                    tracing::error!("out of memory: the leak reached its limit; exiting");
                    break ApiEnd::OutOfMemory;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let api = api.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let api = api.clone();
                            async move { Ok::<_, Infallible>(api.answer(request).await) }
                        });
                        if let Err(err) = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                        {
                            tracing::debug!(%peer, "api connection ended: {err}");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!("api accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    };
    leak_task.abort();
    end
}

impl Api {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let (status, body) = if request.method() != Method::GET {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET is served\n".to_string(),
            )
        } else {
            match path.as_str() {
                "/health" => self.health().await,
                "/checkout" => self.checkout().await,
                "/metrics" => (
                    StatusCode::OK,
                    self.stats
                        .render(rss_bytes(), self.leak.leaked(), self.leak.limit()),
                ),
                _ => (
                    StatusCode::NOT_FOUND,
                    "try /health, /checkout or /metrics\n".to_string(),
                ),
            }
        };
        self.stats.count(&path, status.as_u16());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    }

    async fn health(&self) -> (StatusCode, String) {
        if self.leak.exhausted() {
            return out_of_memory();
        }
        match self.call_backend("PING").await {
            Ok(_) => (StatusCode::OK, "ok\n".to_string()),
            Err((_, reason)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("backend unreachable: {reason}\n"),
            ),
        }
    }

    async fn checkout(&self) -> (StatusCode, String) {
        if self.leak.exhausted() {
            return out_of_memory();
        }
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency).await;
        }
        if !self.config.cpu_work.is_zero() {
            let amount = self.config.cpu_work;
            if tokio::task::spawn_blocking(move || burn_cpu(amount))
                .await
                .is_err()
            {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cpu work failed\n".to_string(),
                );
            }
        }
        match self.call_backend("GET checkout").await {
            Ok(value) => (StatusCode::OK, format!("checkout ok: {value}\n")),
            Err((status, reason)) => (status, format!("backend failed: {reason}\n")),
        }
    }

    /// One request on a fresh connection to the backend, within the backend timeout.
    /// Errors carry the status to answer: 504 on timeout, 502 otherwise.
    async fn call_backend(&self, request: &str) -> Result<String, (StatusCode, String)> {
        let backend = &self.config.backend;
        let call = async {
            let stream = TcpStream::connect(backend)
                .await
                .map_err(|err| format!("cannot connect to {backend}: {err}"))?;
            exchange(stream, request)
                .await
                .map_err(|err| format!("{backend}: {err}"))
        };
        match tokio::time::timeout(self.config.backend_timeout, call).await {
            Ok(Ok(answer)) if answer.starts_with("ERR") => Err((StatusCode::BAD_GATEWAY, answer)),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(reason)) => Err((StatusCode::BAD_GATEWAY, reason)),
            Err(_) => Err((
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{backend} did not answer within {:?}",
                    self.config.backend_timeout
                ),
            )),
        }
    }
}

async fn exchange(stream: TcpStream, request: &str) -> std::io::Result<String> {
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{request}\n").as_bytes()).await?;
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).await? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed without an answer",
        ));
    }
    Ok(line.trim().to_string())
}

fn out_of_memory() -> (StatusCode, String) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "out of memory: the leak reached the memory limit\n".to_string(),
    )
}

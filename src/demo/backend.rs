//! The demo backend: a TCP line protocol. `PING` → `PONG`; `GET key` → `VALUE key ...` after
//! the configured latency; anything else → `ERR ...`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    /// Added before answering each `GET`.
    pub latency: Duration,
}

/// Serves connections from `listener` until `shutdown` completes.
pub async fn serve_backend(
    listener: TcpListener,
    config: BackendConfig,
    shutdown: impl Future<Output = ()>,
) {
    let served = Arc::new(AtomicU64::new(0));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let config = config.clone();
                    let served = served.clone();
                    tokio::spawn(async move {
                        if let Err(err) = handle(stream, &config, &served).await {
                            tracing::debug!(%peer, "backend connection ended: {err}");
                        }
                    });
                }
                Err(err) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("backend accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn handle(
    stream: TcpStream,
    config: &BackendConfig,
    served: &AtomicU64,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let answer = answer(line.trim(), config, served).await;
        write.write_all(answer.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
    Ok(())
}

async fn answer(request: &str, config: &BackendConfig, served: &AtomicU64) -> String {
    let mut words = request.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(command), None, None) if command.eq_ignore_ascii_case("PING") => "PONG".to_string(),
        (Some(command), Some(key), None) if command.eq_ignore_ascii_case("GET") => {
            if !config.latency.is_zero() {
                tokio::time::sleep(config.latency).await;
            }
            let n = served.fetch_add(1, Ordering::Relaxed) + 1;
            format!("VALUE {key} {n}")
        }
        _ => format!("ERR unknown command `{request}`; use PING or GET <key>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_ping_get_and_errors() {
        let served = AtomicU64::new(0);
        let config = BackendConfig::default();
        assert_eq!(answer("PING", &config, &served).await, "PONG");
        assert_eq!(answer("get cart", &config, &served).await, "VALUE cart 1");
        assert_eq!(answer("GET cart", &config, &served).await, "VALUE cart 2");
        assert!(
            answer("DROP TABLE", &config, &served)
                .await
                .starts_with("ERR")
        );
        assert!(answer("", &config, &served).await.starts_with("ERR"));
    }

    #[tokio::test(start_paused = true)]
    async fn get_waits_for_the_latency() {
        let served = AtomicU64::new(0);
        let config = BackendConfig {
            latency: Duration::from_millis(20),
        };
        let start = tokio::time::Instant::now();
        answer("GET x", &config, &served).await;
        assert_eq!(start.elapsed(), Duration::from_millis(20));
    }
}

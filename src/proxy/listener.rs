//! The accept loop of one link: numbers connections, refuses those a `down` toxic picks,
//! and hands the others to the link kind's handler.

use super::http_handler;
use super::link::Link;
use super::link_config::LinkKind;
use super::stats::LinkCounters;
use super::tcp_handler;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The accept loop of a link, boxed (`link::Accept`).
pub(crate) fn accept(
    link: Arc<Link>,
    listener: TcpListener,
    stop: watch::Receiver<()>,
) -> crate::BoxFuture<'static, ()> {
    Box::pin(run(link, listener, stop))
}

/// Accepts until `stop`'s sender is dropped. Accept errors (too many open files...) are
/// logged and retried with a growing pause instead of ending the link.
async fn run(link: Arc<Link>, listener: TcpListener, stop: watch::Receiver<()>) {
    let mut stopping = stop.clone();
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.changed() => return,
        };
        let socket = match accepted {
            Ok((socket, _peer)) => {
                backoff = Duration::from_millis(10);
                socket
            }
            Err(err) => {
                tracing::warn!(link = %link.name, %err, "accept failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let connection = link.next_connection();
        LinkCounters::bump(&link.counters.connections_total);
        if link.refuses(connection) {
            let _ = socket.set_zero_linger();
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        let link = Arc::clone(&link);
        let stop = stop.clone();
        match link.kind {
            LinkKind::Tcp => {
                tokio::spawn(
                    async move { tcp_handler::serve(&link, socket, connection, stop).await },
                )
            }
            LinkKind::Http => {
                tokio::spawn(
                    async move { http_handler::serve(&link, socket, connection, stop).await },
                )
            }
        };
    }
}

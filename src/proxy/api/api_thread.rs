//! The control API on a thread and runtime of its own, so heavy proxied traffic on the
//! proxy's runtime cannot queue control requests behind it.

use super::serve;
use crate::proxy::ProxyServer;
use std::io;
use std::net::SocketAddr;
use std::thread;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running API; stopped by `stop` or when dropped.
#[derive(Debug)]
pub struct ApiThread {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ApiThread {
    /// Serves the API of `proxy` on `listener` from a new thread.
    pub fn start(listener: std::net::TcpListener, proxy: ProxyServer) -> io::Result<ApiThread> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("pfi-proxy-api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            serve(listener, proxy, async {
                                let _ = stopped.await;
                            })
                            .await;
                        }
                        Err(err) => tracing::error!(%err, "the API listener cannot be used"),
                    }
                });
            })?;
        Ok(ApiThread {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the thread to end.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ApiThread {
    fn drop(&mut self) {
        self.shut_down();
    }
}

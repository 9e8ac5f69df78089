//! The signal that ends a foreground command: Ctrl-C (SIGINT) or SIGTERM.

/// Completes with the signal's name on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT".to_string(),
            _ = term.recv() => "SIGTERM".to_string(),
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT".to_string()
        }
    }
}

//! Graceful stop: both binaries finish in-flight work when Kubernetes sends SIGTERM or
//! an operator presses Ctrl-C.

/// Resolves on SIGTERM or Ctrl-C (SIGINT). Where SIGTERM cannot be watched, only
/// Ctrl-C ends it.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

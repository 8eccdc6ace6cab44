//! The operations endpoint of a process without an HTTP API of its own (the worker):
//! `/healthz` (the process answers), `/readyz` (it is doing its work) and `/metrics`
//! (Prometheus text). The api serves these routes itself, because its readiness
//! depends on the database.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Ops {
    ready: Arc<AtomicBool>,
    metrics: PrometheusHandle,
}

/// The routes: `/readyz` answers 200 while `ready` is set, 503 otherwise.
pub fn router(ready: Arc<AtomicBool>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(ops): State<Ops>| async move { ops.metrics.render() }),
        )
        .with_state(Ops { ready, metrics })
}

/// Serves [`router`] on `listener` until `shutdown` resolves; a failure is logged, not
/// returned, since the process's work goes on without it.
pub async fn serve(
    listener: TcpListener,
    ready: Arc<AtomicBool>,
    metrics: PrometheusHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let served = axum::serve(listener, router(ready, metrics))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(err) = served {
        tracing::error!(error = %err, "the health endpoint stopped");
    }
}

async fn readyz(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    if ops.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping")
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get_status(router: Router, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).unwrap();
        router.oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn readyz_follows_the_ready_flag_and_healthz_always_answers() {
        let ready = Arc::new(AtomicBool::new(false));
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let ops = router(ready.clone(), metrics);
        assert_eq!(
            get_status(ops.clone(), "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(get_status(ops.clone(), "/healthz").await, StatusCode::OK);
        ready.store(true, Ordering::Relaxed);
        assert_eq!(get_status(ops.clone(), "/readyz").await, StatusCode::OK);
        assert_eq!(get_status(ops, "/metrics").await, StatusCode::OK);
    }
}

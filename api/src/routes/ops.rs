//! Operational endpoints: liveness, readiness, metrics. Unauthenticated, outside `/v1`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Problem;
use crate::state::AppState;

/// How long readiness waits for the database before calling it unreachable.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Health or readiness status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness
///
/// 200 while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn get_healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness
///
/// 200 when Postgres answers; 503 while it does not (and 200 again once it is back).
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_readyz(State(state): State<AppState>) -> Response {
    let probe = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&state.db);
    match tokio::time::timeout(READY_DB_TIMEOUT, probe).await {
        Ok(Ok(_)) => Json(Health { status: "ok" }).into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the database is unreachable").into_response()
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer in time");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer in time",
            )
            .into_response()
        }
    }
}

/// Prometheus metrics
///
/// Request counts and latency histograms by route and status, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

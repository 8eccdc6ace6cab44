//! Operational endpoints: liveness, readiness, metrics. Unauthenticated, outside `/v1`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Problem;
use crate::onboarding::template_check::ConfigCheck;
use crate::state::AppState;

/// How long readiness waits for the database before calling it unreachable.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Readiness: the database answers, and the onboarding configuration checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`, or `degraded` when AWS could not be reached to check the configuration.
    pub status: &'static str,
    /// The onboarding configuration checks (template parameters, provider role).
    pub checks: Vec<ConfigCheck>,
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
/// 200 when Postgres answers and the onboarding configuration is not known to be wrong;
/// 503 otherwise (and 200 again once it is fixed). AWS being unreachable is reported as
/// `degraded`, not as unready: the API still accepts writes.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is unreachable or misconfigured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_readyz(State(state): State<AppState>) -> Response {
    if let Err(detail) = database_ready(&state).await {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response();
    }
    let checks = state.config_checks.latest();
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == "failed")
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect();
    if !failed.is_empty() {
        let detail = format!("onboarding is misconfigured: {}", failed.join("; "));
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response();
    }
    let status = if checks.iter().all(|c| c.status == "ok") {
        "ok"
    } else {
        "degraded"
    };
    Json(Readiness { status, checks }).into_response()
}

async fn database_ready(state: &AppState) -> Result<(), &'static str> {
    let probe = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&state.db);
    match tokio::time::timeout(READY_DB_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            Err("the database is unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer in time");
            Err("the database did not answer in time")
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

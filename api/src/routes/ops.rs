//! Operational endpoints: liveness, readiness, metrics. Unauthenticated, outside `/v1`,
//! and outside the OpenAPI document (which is for API clients; these are for the
//! platform: kubelet probes and Prometheus, described in docs/operations.md).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::auth::jwks::JwksStatus;
use crate::auth::jwt::Verifier;
use crate::error::Problem;
use crate::onboarding::template_check::ConfigCheck;
use crate::state::AppState;

/// How long readiness waits for the database before calling it unreachable.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness status.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Readiness: the database answers, the onboarding configuration checks, and (JWKS
/// mode) the identity provider's key set.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ok`, or `degraded` when AWS or the identity provider could not be reached.
    pub status: &'static str,
    /// The configuration checks (template parameters, provider role, `jwks`).
    pub checks: Vec<ConfigCheck>,
}

/// Liveness
///
/// 200 while the process serves requests.
pub async fn get_healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness
///
/// 200 when Postgres answers, the onboarding configuration is not known to be wrong and
/// (JWKS mode) a key set is loaded; 503 otherwise (and 200 again once it is fixed). AWS
/// or the identity provider being unreachable after a successful load is reported as
/// `degraded`, not as unready: the API still serves with what it has.
pub async fn get_readyz(State(state): State<AppState>) -> Response {
    if let Err(detail) = database_ready(&state).await {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response();
    }
    let mut checks = state.config_checks.latest();
    checks.extend(jwks_check(&state.verifier));
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == "failed")
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect();
    if !failed.is_empty() {
        let detail = format!("a readiness check failed: {}", failed.join("; "));
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response();
    }
    let status = if checks.iter().all(|c| c.status == "ok") {
        "ok"
    } else {
        "degraded"
    };
    Json(Readiness { status, checks }).into_response()
}

/// The `jwks` check (JWKS mode only): failed until a key set loads, since every token is
/// refused until then; unknown while refreshes fail and the last good set serves.
fn jwks_check(verifier: &Verifier) -> Option<ConfigCheck> {
    let (status, message) = match verifier.jwks_status()? {
        JwksStatus::Fresh { keys } => ("ok", format!("{keys} signing key(s) loaded")),
        // The fetch error is in the api's log, not here: /readyz needs no token.
        JwksStatus::Stale { keys, .. } => (
            "unknown",
            format!("serving the last good set of {keys} key(s); refreshing it failed (see the api log)"),
        ),
        JwksStatus::Missing { .. } => (
            "failed",
            "no key set loaded yet, so every token is refused (see the api log)".to_owned(),
        ),
    };
    Some(ConfigCheck {
        name: "jwks",
        status,
        message,
    })
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
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

//! Shared application state handed to every handler.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::auth::jwt::Verifier;

/// What handlers share: the database pool, the token verifier and the metrics registry.
#[derive(Clone)]
pub struct AppState {
    /// Postgres, the source of truth.
    pub db: PgPool,
    /// Bearer-token verification.
    pub verifier: Arc<Verifier>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

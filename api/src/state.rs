//! Shared application state handed to every handler.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::auth::jwt::Verifier;
use crate::aws::target_access::AwsTargetAccess;
use crate::config::OnboardingConfig;
use crate::delivery_health::HealthReader;
use crate::onboarding::template_check::ConfigChecks;

/// What handlers share: the database pool, the token verifier, AWS access, the delivery
/// ledger and metrics.
#[derive(Clone)]
pub struct AppState {
    /// Postgres, the source of truth.
    pub db: PgPool,
    /// Bearer-token verification.
    pub verifier: Arc<Verifier>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Onboarding settings (provider role, template URL).
    pub onboarding: Arc<OnboardingConfig>,
    /// The role chain used by verification.
    pub aws: AwsTargetAccess,
    /// Latest results of the onboarding configuration checks, for `/readyz`.
    pub config_checks: Arc<ConfigChecks>,
    /// Per-tenant limits on `verify` (in memory, per replica).
    pub verify_limiter: crate::verification::rate_limit::VerifyLimiter,
    /// The delivery ledger, read for delivery health (with the config documents'
    /// summary cache, per replica).
    pub health: HealthReader,
    /// What bounds a replay: how far back it may reach, how many a tenant may start.
    pub replays: crate::config::ReplayConfig,
    /// Per-tenant limits on changes (in memory, per replica).
    pub write_limiter: crate::write_limit::WriteLimiter,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

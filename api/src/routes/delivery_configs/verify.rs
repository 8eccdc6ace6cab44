//! `POST /v1/tenants/{tenant_id}/delivery-configs/{type}/verify`

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use logspoke_contract::{Cause, DeliveryType, ExternalId, TenantId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{not_found, put::respond};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::document::DeliveryConfig;
use crate::configs::{repository, Config};
use crate::error::{ApiError, Problem};
use crate::extract::{OptionalObject, QueryParams};
use crate::onboarding::external_id;
use crate::paths::ConfigPath;
use crate::router::REQUEST_TIMEOUT;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;
use crate::verification::rate_limit::{Permit, Refusal};
use crate::verification::{self, Check, CheckStatus, Outcome, Subject, VerificationStatus};

/// A verification runs synchronously, within this bound: well within the router's
/// request timeout, so that a timed-out verification is answered by this handler (503
/// with `Retry-After`, nothing stored) rather than cut mid-probe by the router.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);
const _: () = assert!(VERIFY_TIMEOUT.as_secs() + 5 <= REQUEST_TIMEOUT.as_secs());

/// Options of a verification request, in the query string: a generated client calls
/// `verify` with no body at all.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// Operators only: mark the config verified without running the checks (audited).
    #[serde(default)]
    pub force: bool,
}

/// The body earlier versions documented (`{"force": true}`), still accepted so that
/// existing callers keep working; `force` in the query string is the documented form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyBody {
    /// As the query parameter.
    #[serde(default)]
    pub force: bool,
}

/// Verify a delivery config with a trial AssumeRole
///
/// Assumes the customer role exactly as the worker will (provider role, then the
/// customer role with the tenant's ExternalId), writes a labelled verification event or
/// marker object, and checks that the role refuses a wrong ExternalId. The result is
/// stored on the config (`verification`, `state`) and audited. Only configs that are
/// enabled and verified receive logs.
///
/// When the checks fail only because AWS was unreachable, throttling or slow, nothing is
/// stored (a verified config stays verified) and the answer is 503 with `Retry-After`.
/// Verifications of one tenant run one at a time and at most once per 10 s (429 with
/// `Retry-After`); an operator's `force` calls no AWS and is not limited, but needs the
/// tenant to be onboarded (it has an ExternalId; 409 otherwise). The request has no body.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/verify",
    tag = "delivery-configs",
    params(
        ConfigPath,
        VerifyParams,
    ),
    responses(
        (status = 200, description = "The config with its verification result (verified or failed)",
            body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Unknown or malformed query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The config changed while it was being verified, or `force` for a tenant \
            that was never onboarded", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A verification of this tenant is running or started less than 10 s ago",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before verifying again"))),
        (status = 503, description = "AWS was unreachable, throttling or too slow; nothing was stored",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before verifying again"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn verify_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ConfigPath,
    QueryParams(params): QueryParams<VerifyParams>,
    OptionalObject(legacy): OptionalObject<LegacyBody>,
) -> Result<Response, ApiError> {
    let ConfigPath {
        tenant_id,
        delivery_type,
    } = path;
    principal.require_tenant_access(&tenant_id)?;
    let force = params.force || legacy.force;
    if force {
        principal.require_operator()?;
    }
    let mut conn = state.db.acquire().await?;
    let config = repository::fetch(&mut conn, &tenant_id, delivery_type, false)
        .await?
        .ok_or_else(|| not_found(&tenant_id, delivery_type))?;
    let external_id = external_id::fetch(&mut conn, &tenant_id).await?;
    // No pool connection is held while AWS is called.
    drop(conn);
    // The permit is held until the result is stored: one verification per tenant and type
    // at a time.
    let (checks, _permit) = match plan(force, external_id)? {
        Plan::Forced => (vec![forced_check(&principal)], None),
        Plan::OnboardingRequired => (vec![onboarding_required()], None),
        Plan::Run(external_id) => {
            let (checks, permit) = run_limited(&state, delivery_type, &subject(&config, external_id)).await?;
            (checks, Some(permit))
        }
    };
    let write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    let stored = record(write, &config, &checks).await?;
    Ok(respond(&state, &stored, false).await)
}

/// What a verification request will do, given `force` and the tenant's ExternalId.
#[derive(Debug)]
enum Plan {
    /// Mark verified without AWS (operators only, checked before).
    Forced,
    /// Store the `onboarding_required` failure.
    OnboardingRequired,
    /// Run the checks with the tenant's ExternalId.
    Run(ExternalId),
}

/// A forced verification of a tenant that was never onboarded would activate a config
/// the worker cannot use (it assumes roles only with the tenant's ExternalId): refused.
fn plan(force: bool, external_id: Option<ExternalId>) -> Result<Plan, ApiError> {
    match (force, external_id) {
        (true, Some(_)) => Ok(Plan::Forced),
        (true, None) => Err(ApiError::Conflict(
            "the tenant has no ExternalId, so Logspoke could not assume any role for it: run \
             onboarding (POST /v1/tenants/{tenant_id}/onboarding) before forcing a verification"
                .into(),
        )),
        (false, None) => Ok(Plan::OnboardingRequired),
        (false, Some(external_id)) => Ok(Plan::Run(external_id)),
    }
}

/// Runs the checks within the tenant's rate limit; a transient failure is an error (503),
/// so that it is never stored.
async fn run_limited(
    state: &AppState,
    kind: DeliveryType,
    subject: &Subject,
) -> Result<(Vec<Check>, Permit), ApiError> {
    let tenant_id = &subject.tenant_id;
    let limiter = &state.verify_limiter;
    // Per (tenant, type): verifying both configs of a tenant in a row is the normal flow.
    let permit = limiter
        .acquire(&format!("{tenant_id}/{}", kind.as_str()))
        .map_err(|refusal| rate_limited(tenant_id, kind, limiter.interval(), refusal))?;
    let checks = run_bounded(state, subject).await;
    if verification::outcome(&checks) == Outcome::Unavailable {
        return Err(unavailable(limiter.interval(), tenant_id, &checks));
    }
    Ok((checks, permit))
}

fn rate_limited(tenant_id: &TenantId, kind: DeliveryType, interval: Duration, refusal: Refusal) -> ApiError {
    let kind = kind.as_str();
    let detail = match refusal {
        Refusal::InFlight { .. } => format!(
            "a verification of tenant {tenant_id}'s {kind} config is running; retry when it has finished"
        ),
        Refusal::TooSoon { .. } => format!(
            "a verification of tenant {tenant_id}'s {kind} config started less than {} s ago; retry later",
            interval.as_secs()
        ),
    };
    ApiError::RateLimited {
        retry_after: refusal.retry_after(),
        detail,
    }
}

/// The 503 of a verification that failed only transiently. `Retry-After` is the
/// rate-limit interval, so following it is not answered with 429.
fn unavailable(interval: Duration, tenant_id: &TenantId, checks: &[Check]) -> ApiError {
    let reasons: Vec<String> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect();
    tracing::warn!(
        tenant_id = %tenant_id,
        reasons = %reasons.join("; "),
        "delivery config verification failed transiently; nothing stored"
    );
    ApiError::RetryLater {
        retry_after: interval,
        detail: format!(
            "AWS could not be reached or did not answer in time, so the config's stored \
             verification is unchanged; try again later ({})",
            reasons.join("; ")
        ),
    }
}

async fn run_bounded(state: &AppState, subject: &Subject) -> Vec<Check> {
    let mut checks = Vec::new();
    let run = verification::run_into(&state.aws, subject, &mut checks);
    if tokio::time::timeout(VERIFY_TIMEOUT, run).await.is_err() {
        // The checks that finished stay: a failed ExternalId check before a slow probe
        // must be stored as a failure, not hidden behind a transient timeout.
        checks.push(Check {
            name: "verification".into(),
            status: CheckStatus::Failed,
            cause: Some(Cause::Timeout),
            message: format!(
                "verification did not finish within {} s",
                VERIFY_TIMEOUT.as_secs()
            ),
        });
    }
    checks
}

fn forced_check(principal: &Principal) -> Check {
    Check {
        name: "forced".into(),
        status: CheckStatus::Passed,
        cause: None,
        message: format!(
            "marked verified by operator {} without running the checks",
            principal.subject
        ),
    }
}

fn onboarding_required() -> Check {
    Check {
        name: "external_id".into(),
        status: CheckStatus::Failed,
        cause: Some(Cause::OnboardingRequired),
        message: "the tenant has no ExternalId yet: call POST /v1/tenants/{tenant_id}/onboarding and create \
                  the stack from its link first"
            .into(),
    }
}

/// What a verification of a stored config probes.
fn subject(config: &Config, external_id: ExternalId) -> Subject {
    Subject {
        tenant_id: config.tenant_id.clone(),
        role_arn: config.settings.role_arn.clone(),
        external_id,
        region: config.settings.target_region,
        target: config.settings.target.clone(),
        storage: (config.settings.storage_class, config.settings.kms_key_arn.clone()),
    }
}

/// Stores the result on the config (only if it did not change meanwhile) and audits it.
async fn record(mut write: WriteTx<'_>, before: &Config, checks: &[Check]) -> Result<Config, ApiError> {
    let status = if verification::all_passed(checks) {
        VerificationStatus::Verified
    } else {
        VerificationStatus::Failed
    };
    let stored = repository::store_verification(write.conn(), before, status, checks)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the config changed while it was being verified; verify it again".into())
        })?;
    let action = match status {
        VerificationStatus::Verified => "delivery_config.verified",
        _ => "delivery_config.verification_failed",
    };
    let (tenant_id, delivery_type) = (&before.tenant_id, before.delivery_type());
    write
        .config_changed(tenant_id, delivery_type, action, Some(before), Some(&stored))
        .await?;
    write.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        delivery_type = delivery_type.as_str(),
        status = status.as_str(),
        "delivery config verification recorded"
    );
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_needs_the_tenants_external_id() {
        let external_id = ExternalId::generate();
        assert!(matches!(plan(true, Some(external_id.clone())), Ok(Plan::Forced)));
        let refused = plan(true, None).unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::CONFLICT);
        assert!(refused.to_string().contains("onboarding"), "{refused}");
    }

    #[test]
    fn a_verification_runs_only_with_the_tenants_external_id() {
        assert!(matches!(plan(false, None), Ok(Plan::OnboardingRequired)));
        let external_id = ExternalId::generate();
        match plan(false, Some(external_id.clone())) {
            Ok(Plan::Run(used)) => assert_eq!(used, external_id),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_timed_out_verification_is_transient() {
        let checks = [Check {
            name: "verification".into(),
            status: CheckStatus::Failed,
            cause: Some(Cause::Timeout),
            message: "did not finish".into(),
        }];
        assert_eq!(verification::outcome(&checks), Outcome::Unavailable);
        let tenant = TenantId::parse("acme").expect("valid id");
        let err = unavailable(Duration::from_secs(10), &tenant, &checks);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
        assert!(err.to_string().contains("unchanged"), "{err}");
    }
}

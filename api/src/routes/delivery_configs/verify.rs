//! `POST /v1/tenants/{tenant_id}/delivery-configs/{type}/verify`

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use logspoke_contract::{
    BucketName, BucketPrefix, DeliveryType, ExternalId, LogGroupName, Region, RoleArn, TenantId,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{fetch, not_found, parse_type, put::respond, ConfigRow, DeliveryConfig};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::parse_json;
use crate::onboarding::external_id;
use crate::outbox;
use crate::state::AppState;
use crate::verification::classify::Cause;
use crate::verification::{self, Check, CheckStatus, ProbeTarget, Subject, VerificationStatus};

/// A verification runs synchronously, within this bound.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

/// Body of a verification request (optional).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// Operators only: mark the config verified without running the checks (audited).
    #[serde(default)]
    pub force: bool,
}

/// Verify a delivery config with a trial AssumeRole
///
/// Assumes the customer role exactly as the worker will (provider role, then the
/// customer role with the tenant's ExternalId), writes a labelled verification event or
/// marker object, and checks that the role refuses sessions without the ExternalId. The
/// result is stored on the config (`verification`, `state`) and audited. Only configs
/// that are enabled and verified receive logs.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/verify",
    tag = "delivery-configs",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("type" = DeliveryType, Path, description = "cloudwatch or s3"),
    ),
    request_body(content = Option<VerifyRequest>, description = "Optional; `force` is for operators"),
    responses(
        (status = 200, description = "The config with its verification result (verified or failed)",
            body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The config changed while it was being verified", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = %raw_type))]
pub async fn verify_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    Path((tenant_id, raw_type)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let delivery_type = parse_type(&raw_type)?;
    // No body and a JSON `null` both mean "no options".
    let request: VerifyRequest = if body.is_empty() || body.trim_ascii() == b"null" {
        VerifyRequest::default()
    } else if body.trim_ascii().starts_with(b"{") {
        parse_json(&body)?
    } else {
        return Err(ApiError::field("body", "must be a JSON object (or empty)"));
    };
    if request.force {
        principal.require_operator()?;
    }
    let mut conn = state.db.acquire().await?;
    let config = fetch(&mut conn, &tenant_id, delivery_type, false)
        .await?
        .ok_or_else(|| not_found(&tenant_id, delivery_type))?;
    let checks = if request.force {
        vec![forced_check(&principal)]
    } else {
        match external_id::fetch(&mut conn, &tenant_id).await? {
            None => vec![onboarding_required()],
            Some(external_id) => {
                let subject = subject(&config, external_id)?;
                run_bounded(&state, &subject).await
            }
        }
    };
    drop(conn);
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    let stored = record(&state, actor, &config, delivery_type, &checks).await?;
    Ok(respond(stored, false))
}

async fn run_bounded(state: &AppState, subject: &Subject) -> Vec<Check> {
    match tokio::time::timeout(VERIFY_TIMEOUT, verification::run(&state.aws, subject)).await {
        Ok(checks) => checks,
        Err(_) => vec![Check {
            name: "verification".into(),
            status: CheckStatus::Failed,
            cause: Some(Cause::Timeout),
            message: format!(
                "verification did not finish within {} s; try again",
                VERIFY_TIMEOUT.as_secs()
            ),
        }],
    }
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

/// The verification subject of a stored config (stored values were validated on write).
fn subject(config: &DeliveryConfig, external_id: ExternalId) -> Result<Subject, ApiError> {
    let stored = |what: &str| ApiError::Internal(anyhow::anyhow!("stored {what} is invalid"));
    let target = match (&config.log_group_name, &config.bucket_name) {
        (Some(group), _) => ProbeTarget::CloudWatch {
            log_group: LogGroupName::parse(group).map_err(|_| stored("log group"))?,
        },
        (None, Some(bucket)) => ProbeTarget::S3 {
            bucket: BucketName::parse(bucket).map_err(|_| stored("bucket"))?,
            prefix: BucketPrefix::parse(config.bucket_prefix.as_deref().unwrap_or(""))
                .map_err(|_| stored("bucket prefix"))?,
        },
        (None, None) => return Err(stored("target")),
    };
    Ok(Subject {
        tenant_id: TenantId::parse(&config.tenant_id).map_err(|_| stored("tenant id"))?,
        role_arn: RoleArn::parse(&config.role_arn).map_err(|_| stored("role ARN"))?,
        external_id,
        region: Region::parse(&config.target_region).map_err(|_| stored("region"))?,
        target,
    })
}

/// Stores the result on the config (only if it did not change meanwhile) and audits it.
async fn record(
    state: &AppState,
    actor: Actor<'_>,
    before: &DeliveryConfig,
    delivery_type: DeliveryType,
    checks: &[Check],
) -> Result<DeliveryConfig, ApiError> {
    let status = if verification::all_passed(checks) {
        VerificationStatus::Verified
    } else {
        VerificationStatus::Failed
    };
    let mut tx = state.db.begin().await?;
    let stored = store_result(&mut tx, before, status, checks)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the config changed while it was being verified; verify it again".into())
        })?;
    let action = match status {
        VerificationStatus::Verified => "delivery_config.verified",
        _ => "delivery_config.verification_failed",
    };
    let change = Change {
        tenant_id: &before.tenant_id,
        action,
        delivery_type: Some(delivery_type.as_str()),
        before: Some(before.audit_document()),
        after: Some(stored.audit_document()),
    };
    audit::record(&mut tx, actor, change).await?;
    outbox::enqueue(&mut tx, &before.tenant_id, delivery_type).await?;
    tx.commit().await?;
    tracing::info!(
        tenant_id = %before.tenant_id,
        delivery_type = delivery_type.as_str(),
        status = status.as_str(),
        "delivery config verification recorded"
    );
    Ok(stored)
}

#[tracing::instrument(skip_all)]
async fn store_result(
    conn: &mut PgConnection,
    before: &DeliveryConfig,
    status: VerificationStatus,
    checks: &[Check],
) -> Result<Option<DeliveryConfig>, ApiError> {
    let checks = serde_json::to_value(checks).map_err(anyhow::Error::from)?;
    let row = sqlx::query_as!(
        ConfigRow,
        "update delivery_configs
         set verification_status = $4, verification_checked_at = now(), verification_checks = $5,
             version = nextval('change_version_seq'), updated_at = now()
         where tenant_id = $1 and delivery_type = $2 and version = $3
         returning tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                   log_group_name, log_stream_template, bucket_name, bucket_prefix,
                   version, created_at, updated_at,
                   verification_status, verification_checked_at, verification_checks",
        before.tenant_id,
        before.delivery_type,
        before.version,
        status.as_str(),
        checks,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(DeliveryConfig::from))
}

//! `PUT /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use logspoke_contract::DeliveryType;
use sqlx::PgConnection;

use super::{fetch, location, parse_type, ConfigRow, DeliveryConfig, DeliveryConfigInput, ValidConfig};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::{check_if_match, etag, JsonBody};
use crate::outbox;
use crate::routes::tenants;
use crate::state::AppState;

/// Create or replace a delivery config
///
/// 201 when created, 200 when replaced. Honours `If-Match` (412 when stale; `*` requires
/// an existing config).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("type" = DeliveryType, Path, description = "cloudwatch or s3"),
        ("If-Match" = Option<String>, Header, description = "ETag the replacement is based on", pattern = r#"^(\*|"[0-9]+"( *, *"[0-9]+")*)$"#),
    ),
    request_body = DeliveryConfigInput,
    responses(
        (status = 200, description = "Replaced", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 201, description = "Created", body = DeliveryConfig,
            headers(("ETag" = String), ("Location" = String))),
        (status = 404, description = "No such tenant or type", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = %raw_type))]
pub async fn put_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    Path((tenant_id, raw_type)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<DeliveryConfigInput>,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let delivery_type = parse_type(&raw_type)?;
    let config = body.parse(delivery_type, &state.onboarding.provider_role_arn)?;
    let mut tx = state.db.begin().await?;
    // Locked: a concurrent cluster change republishes every config of the tenant, and
    // must see (or wait for) this one.
    tenants::fetch(&mut tx, &tenant_id, true)
        .await?
        .ok_or_else(|| tenants::not_found(&tenant_id))?;
    let current = fetch(&mut tx, &tenant_id, delivery_type, true).await?;
    check_if_match(&headers, current.as_ref().map(|c| c.version))?;
    let reset = current.as_ref().is_none_or(|c| config.changes_target_of(c));
    let stored = upsert(&mut tx, &tenant_id, delivery_type, &config, reset).await?;
    let action = if current.is_some() {
        "delivery_config.replaced"
    } else {
        "delivery_config.created"
    };
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    let change = Change {
        tenant_id: &tenant_id,
        action,
        delivery_type: Some(delivery_type.as_str()),
        before: current.as_ref().map(DeliveryConfig::audit_document),
        after: Some(stored.audit_document()),
    };
    audit::record(&mut tx, actor, change).await?;
    outbox::enqueue(&mut tx, &tenant_id, delivery_type).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, delivery_type = delivery_type.as_str(), action, "delivery config written");
    Ok(respond(stored, current.is_none()))
}

/// Inserts or replaces the row; every write takes a fresh version. With `reset_verification`
/// the config returns to unverified (its role, region or target changed).
#[tracing::instrument(skip_all)]
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: &str,
    delivery_type: DeliveryType,
    config: &ValidConfig,
    reset_verification: bool,
) -> Result<DeliveryConfig, sqlx::Error> {
    let c = config.columns();
    let row = sqlx::query_as!(
        ConfigRow,
        "insert into delivery_configs (tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                                       log_group_name, log_stream_template, bucket_name, bucket_prefix)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (tenant_id, delivery_type) do update set
             enabled = excluded.enabled, target_region = excluded.target_region, role_arn = excluded.role_arn,
             desired_logs = excluded.desired_logs, log_group_name = excluded.log_group_name,
             log_stream_template = excluded.log_stream_template, bucket_name = excluded.bucket_name,
             bucket_prefix = excluded.bucket_prefix, version = nextval('change_version_seq'), updated_at = now(),
             verification_status = case when $11 then 'unverified' else delivery_configs.verification_status end,
             verification_checked_at = case when $11 then null else delivery_configs.verification_checked_at end,
             verification_checks = case when $11 then '[]'::jsonb else delivery_configs.verification_checks end
         returning tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                   log_group_name, log_stream_template, bucket_name, bucket_prefix,
                   version, created_at, updated_at,
                   verification_status, verification_checked_at, verification_checks",
        tenant_id,
        delivery_type.as_str(),
        c.enabled,
        c.target_region,
        c.role_arn,
        &c.desired_logs,
        c.log_group_name,
        c.log_stream_template,
        c.bucket_name,
        c.bucket_prefix,
        reset_verification,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// 201 with `Location` for a creation, 200 for a replacement; both carry the ETag.
pub fn respond(config: DeliveryConfig, created: bool) -> Response {
    let tag = etag(config.version);
    if created {
        let loc = location(&config.tenant_id, &config.delivery_type);
        (
            StatusCode::CREATED,
            [(header::ETAG, tag), (header::LOCATION, loc)],
            axum::Json(config),
        )
            .into_response()
    } else {
        ([(header::ETAG, tag)], axum::Json(config)).into_response()
    }
}

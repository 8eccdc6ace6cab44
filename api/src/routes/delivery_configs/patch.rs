//! `PATCH /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use logspoke_contract::DeliveryType;
use serde_json::Value;

use super::{fetch, not_found, parse_type, put, writable_fields, DeliveryConfig, DeliveryConfigInput};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::{
    check_if_match, merge_patch, parse_value, require_known_fields, require_object, JsonBody,
};
use crate::outbox;
use crate::state::AppState;

/// Change a delivery config
///
/// A JSON merge patch (RFC 7396) over the writable fields; the result is validated like a
/// PUT. Honours `If-Match`.
#[utoipa::path(
    patch,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("type" = DeliveryType, Path, description = "cloudwatch or s3"),
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on", pattern = r#"^(\*|"[0-9]+"( *, *"[0-9]+")*)$"#),
    ),
    request_body(content = DeliveryConfigInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed config", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields after applying the patch", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = %raw_type))]
pub async fn patch_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    Path((tenant_id, raw_type)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let delivery_type = parse_type(&raw_type)?;
    require_object(&patch)?;
    require_known_fields(&patch, &writable_fields(delivery_type))?;
    // Field types first: a 422 is what a client can act on, whatever the state (404, 412).
    let _: DeliveryConfigInput = parse_value(&patch)?;
    let mut tx = state.db.begin().await?;
    let Some(current) = fetch(&mut tx, &tenant_id, delivery_type, true).await? else {
        check_if_match(&headers, None)?;
        return Err(not_found(&tenant_id, delivery_type));
    };
    // As for PUT, an invalid body is refused (422) before the precondition (412).
    let config = patched(&current, &patch)?.parse(delivery_type, &state.onboarding.provider_role_arn)?;
    check_if_match(&headers, Some(current.version))?;
    let reset = config.changes_target_of(&current);
    let stored = put::upsert(&mut tx, &tenant_id, delivery_type, &config, reset).await?;
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    let change = Change {
        tenant_id: &tenant_id,
        action: "delivery_config.updated",
        delivery_type: Some(delivery_type.as_str()),
        before: Some(current.audit_document()),
        after: Some(stored.audit_document()),
    };
    audit::record(&mut tx, actor, change).await?;
    outbox::enqueue(&mut tx, &tenant_id, delivery_type).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, delivery_type = delivery_type.as_str(), "delivery config patched");
    Ok(put::respond(stored, false))
}

/// The writable document after the patch; field errors name the patched fields.
fn patched(current: &DeliveryConfig, patch: &Value) -> Result<DeliveryConfigInput, ApiError> {
    let mut document = serde_json::to_value(current.as_input()).map_err(anyhow::Error::from)?;
    merge_patch(&mut document, patch);
    parse_value(&document)
}

//! `PATCH /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::{not_found, put, DeliveryConfigInput};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::document::DeliveryConfig;
use crate::configs::{repository, writable_fields, Config};
use crate::error::{ApiError, Problem};
use crate::etag::check_if_match;
use crate::extract::{merge_patch, parse_value, require_known_fields, require_object, JsonBody};
use crate::paths::ConfigPath;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Change a delivery config
///
/// A JSON merge patch (RFC 7396) over the writable fields; the result is validated like a
/// PUT. Honours `If-Match`.
#[utoipa::path(
    patch,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ConfigPath,
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on"),
    ),
    request_body(content = DeliveryConfigInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed config", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields after applying the patch", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn patch_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ConfigPath,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let ConfigPath {
        tenant_id,
        delivery_type,
    } = path;
    principal.require_tenant_access(&tenant_id)?;
    require_object(&patch)?;
    require_known_fields(&patch, &writable_fields(delivery_type))?;
    // Field types first: a 422 is what a client can act on, whatever the state (404, 412).
    let _: DeliveryConfigInput = parse_value(&patch)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    let Some(current) = repository::fetch(write.conn(), &tenant_id, delivery_type, true).await? else {
        check_if_match(&headers, None)?;
        return Err(not_found(&tenant_id, delivery_type));
    };
    // As for PUT, an invalid body is refused (422) before the precondition (412).
    let settings = patched(&current, &patch)?.parse(delivery_type, &state.onboarding.provider_role_arn)?;
    check_if_match(&headers, Some(current.version))?;
    let action = "delivery_config.updated";
    put::store(&state, write, &tenant_id, &settings, Some(&current), action).await
}

/// The writable document after the patch; field errors name the patched fields.
fn patched(current: &Config, patch: &Value) -> Result<DeliveryConfigInput, ApiError> {
    let mut document = serde_json::to_value(DeliveryConfigInput::of(current)).map_err(anyhow::Error::from)?;
    merge_patch(&mut document, patch);
    parse_value(&document)
}

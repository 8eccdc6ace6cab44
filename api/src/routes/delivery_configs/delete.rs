//! `DELETE /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use logspoke_contract::DeliveryType;

use super::{fetch, not_found, parse_type};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::check_if_match;
use crate::outbox;
use crate::state::AppState;

/// Delete a delivery config
///
/// Honours `If-Match`.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("type" = DeliveryType, Path, description = "cloudwatch or s3"),
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on", pattern = r#"^(\*|"[0-9]+"( *, *"[0-9]+")*)$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed If-Match header", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = %raw_type))]
pub async fn delete_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    Path((tenant_id, raw_type)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let delivery_type = parse_type(&raw_type)?;
    let mut tx = state.db.begin().await?;
    let current = fetch(&mut tx, &tenant_id, delivery_type, true).await?;
    check_if_match(&headers, current.as_ref().map(|c| c.version))?;
    let current = current.ok_or_else(|| not_found(&tenant_id, delivery_type))?;
    sqlx::query!(
        "delete from delivery_configs where tenant_id = $1 and delivery_type = $2",
        tenant_id,
        delivery_type.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let change = Change {
        tenant_id: &tenant_id,
        action: "delivery_config.deleted",
        delivery_type: Some(delivery_type.as_str()),
        before: Some(current.audit_document()),
        after: None,
    };
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    audit::record(&mut tx, actor, change).await?;
    outbox::enqueue(&mut tx, &tenant_id, delivery_type).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, delivery_type = delivery_type.as_str(), "delivery config deleted");
    Ok(StatusCode::NO_CONTENT)
}

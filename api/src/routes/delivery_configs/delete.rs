//! `DELETE /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::not_found;
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::repository;
use crate::error::{ApiError, Problem};
use crate::etag::check_if_match;
use crate::paths::ConfigPath;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Delete a delivery config
///
/// Honours `If-Match`.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ConfigPath,
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed If-Match header", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn delete_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ConfigPath,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let ConfigPath {
        tenant_id,
        delivery_type,
    } = path;
    principal.require_tenant_access(&tenant_id)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    let current = repository::fetch(write.conn(), &tenant_id, delivery_type, true).await?;
    check_if_match(&headers, current.as_ref().map(|c| c.version))?;
    let current = current.ok_or_else(|| not_found(&tenant_id, delivery_type))?;
    repository::delete(write.conn(), &tenant_id, delivery_type).await?;
    write
        .config_changed(
            &tenant_id,
            delivery_type,
            "delivery_config.deleted",
            Some(&current),
            None,
        )
        .await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, delivery_type = delivery_type.as_str(), "delivery config deleted");
    Ok(StatusCode::NO_CONTENT)
}

//! `DELETE /v1/tenants/{tenant_id}`

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::not_found;
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::repository as configs;
use crate::error::{ApiError, Problem};
use crate::etag::check_if_match;
use crate::paths::TenantPath;
use crate::state::AppState;
use crate::tenants::repository;
use crate::unit_of_work::WriteTx;

/// Delete a tenant and its delivery configs
///
/// Operators only. Each config deletion and the tenant deletion are audited in the same
/// transaction; the audit trail itself is kept, readable by operators only. The id is
/// retired: no tenant can be created with it again. Honours `If-Match`.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}",
    tag = "tenants",
    params(
        TenantPath,
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed If-Match header", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    principal.require_operator()?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    let current = repository::fetch(write.conn(), &tenant_id, true).await?;
    check_if_match(&headers, current.as_ref().map(|t| t.version))?;
    let current = current.ok_or_else(|| not_found(&tenant_id))?;
    let deleted = configs::delete_all(write.conn(), &tenant_id).await?;
    for config in &deleted {
        write
            .config_changed(
                &tenant_id,
                config.delivery_type(),
                "delivery_config.deleted",
                Some(config),
                None,
            )
            .await?;
    }
    repository::delete_and_retire(write.conn(), &tenant_id).await?;
    let before = Some(current.audit_document());
    write.audit(&tenant_id, "tenant.deleted", before, None).await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

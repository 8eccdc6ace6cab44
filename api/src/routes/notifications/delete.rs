//! `DELETE /v1/tenants/{tenant_id}/notification-target`

use axum::extract::State;
use axum::http::StatusCode;

use super::{not_found, put::audit_document};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::notifications::repository;
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Remove the tenant's notification target
///
/// Nothing more is sent; notifications still waiting are dropped.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}/notification-target",
    tag = "notifications",
    params(TenantPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such tenant or no notification target", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn delete_notification_target(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
) -> Result<StatusCode, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    tenants::require(write.conn(), &tenant_id, true).await?;
    let Some(before) = repository::fetch_target(write.conn(), &tenant_id, true).await? else {
        return Err(not_found(&tenant_id));
    };
    repository::delete_target(write.conn(), &tenant_id).await?;
    write
        .audit(
            &tenant_id,
            "notification_target.removed",
            Some(audit_document(before)),
            None,
        )
        .await?;
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

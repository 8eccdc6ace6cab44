//! `GET /v1/tenants/{tenant_id}/notification-target`

use axum::extract::State;
use axum::Json;

use super::not_found;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::notifications::repository::{self, NotificationTarget};
use crate::paths::TenantPath;
use crate::state::AppState;

/// Read the tenant's notification target
///
/// With its state: `ok` (the last notification reached the topic), `failing`
/// (`last_error` names the cause and what to do; notifications wait and are retried) or
/// `untested`. A failing notification target never holds delivery up.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/notification-target",
    tag = "notifications",
    params(TenantPath),
    responses(
        (status = 200, description = "The notification target", body = NotificationTarget),
        (status = 404, description = "No such tenant or no notification target", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn get_notification_target(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
) -> Result<Json<NotificationTarget>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    repository::fetch_target(&mut conn, &tenant_id, false)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&tenant_id))
}

//! `GET /v1/tenants/{tenant_id}/notifications`

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::notifications::repository::{self, Notification};
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;

/// Most notifications one request lists.
pub const MAX_LIMIT: i64 = 100;

/// How many to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The tenant's latest notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub items: Vec<Notification>,
}

/// List the tenant's notifications
///
/// The latest notifications decided for the tenant, newest first, each with when it was
/// sent (`null` while it waits: `attempts` and `last_cause` say why). Kept 30 days.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/notifications",
    tag = "notifications",
    params(TenantPath, NotificationsQuery),
    responses(
        (status = 200, description = "The notifications", body = NotificationList),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn list_notifications(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
    QueryParams(query): QueryParams<NotificationsQuery>,
) -> Result<Json<NotificationList>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let limit = i64::from(query.limit.unwrap_or(20));
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let mut conn = state.db.acquire().await?;
    tenants::require(&mut conn, &tenant_id, false).await?;
    let items = repository::recent(&mut conn, &tenant_id, limit).await?;
    Ok(Json(NotificationList { items }))
}

//! `GET /v1/tenants/{tenant_id}/audit-events`

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Principal, Role};
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{paginate, PageParams};
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    /// Increasing id; newer events have larger ids.
    pub id: i64,
    /// The tenant the change belongs to.
    pub tenant_id: String,
    /// The token subject that made the change.
    pub actor: String,
    /// `operator` or `tenant`.
    pub actor_role: String,
    /// What happened, e.g. `tenant.created`, `delivery_config.replaced`.
    #[schema(example = "delivery_config.created")]
    pub action: String,
    /// The config type, for config changes.
    pub delivery_type: Option<String>,
    /// The resource before the change (absent for a creation).
    pub before: Option<serde_json::Value>,
    /// The resource after the change (absent for a deletion).
    pub after: Option<serde_json::Value>,
    /// The server's id of the request that made the change (its `x-request-id` in the
    /// api's answer and logs).
    pub request_id: Option<String>,
    /// The `x-request-id` the client sent with that request, as sent: the client's own
    /// label, not checked by the api.
    pub client_request_id: Option<String>,
    /// When the change was committed.
    pub occurred_at: DateTime<Utc>,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    /// This page.
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List a tenant's audit events
///
/// Newest first. The trail outlives a deleted tenant; then only operators can read it.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/audit-events",
    tag = "audit",
    params(TenantPath, PageParams),
    responses(
        (status = 200, description = "A page of audit events", body = AuditEventPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A tenant token's tenant no longer exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
    QueryParams(params): QueryParams<PageParams>,
) -> Result<Json<AuditEventPage>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    if principal.role() == Role::Tenant {
        // The trail of a deleted tenant is for operators only: a still-valid token of
        // the old customer must not read it.
        let mut conn = state.db.acquire().await?;
        tenants::require(&mut conn, &tenant_id, false).await?;
    }
    let page = params.parse()?;
    let before_id = match &page.after {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("cursor is not a cursor returned by this API".into()))?,
        ),
    };
    let rows = sqlx::query_as!(
        AuditEvent,
        "select id, tenant_id, actor, actor_role, action, delivery_type, before, after, request_id,
                client_request_id, occurred_at
         from audit_events
         where tenant_id = $1 and ($2::bigint is null or id < $2)
         order by id desc limit $3",
        tenant_id.as_str(),
        before_id,
        page.fetch_limit(),
    )
    .fetch_all(&state.db)
    .await?;
    let (items, next_cursor) = paginate(rows, &page, |e| e.id.to_string());
    Ok(Json(AuditEventPage { items, next_cursor }))
}

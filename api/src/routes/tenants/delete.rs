//! `DELETE /v1/tenants/{tenant_id}`

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::{fetch, not_found};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::check_if_match;
use crate::outbox;
use crate::routes::delivery_configs;
use crate::state::AppState;

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
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on", pattern = r#"^(\*|"[0-9]+"( *, *"[0-9]+")*)$"#),
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
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    principal.require_operator()?;
    let mut tx = state.db.begin().await?;
    let current = fetch(&mut tx, &tenant_id, true).await?;
    check_if_match(&headers, current.as_ref().map(|t| t.version))?;
    let current = current.ok_or_else(|| not_found(&tenant_id))?;
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    let deleted_types = delivery_configs::delete_all(&mut tx, actor, &tenant_id).await?;
    sqlx::query!("delete from tenants where tenant_id = $1", tenant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into retired_tenant_ids (tenant_id) values ($1) on conflict do nothing",
        tenant_id
    )
    .execute(&mut *tx)
    .await?;
    let change = Change {
        tenant_id: &tenant_id,
        action: "tenant.deleted",
        delivery_type: None,
        before: Some(current.audit_document()),
        after: None,
    };
    audit::record(&mut tx, actor, change).await?;
    outbox::enqueue_all(&mut tx, &tenant_id, &deleted_types).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

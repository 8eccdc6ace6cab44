//! `GET /v1/tenants/{tenant_id}/clusters`

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Cluster;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;

/// Every cluster registered for a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterList {
    /// The registrations, ordered by cluster id.
    pub items: Vec<Cluster>,
}

/// List the clusters registered for a tenant
///
/// Only objects staged by these clusters are delivered to the tenant. Operators and the
/// tenant itself may read the list.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/clusters",
    tag = "clusters",
    params(TenantPath),
    responses(
        (status = 200, description = "The tenant's clusters", body = ClusterList),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn list_clusters(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
) -> Result<Json<ClusterList>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    tenants::fetch(&mut conn, &tenant_id, false)
        .await?
        .ok_or_else(|| tenants::not_found(&tenant_id))?;
    let items = sqlx::query_as!(
        Cluster,
        "select tenant_id, cluster_id, display_name, created_at, updated_at
         from tenant_clusters where tenant_id = $1 order by cluster_id",
        tenant_id.as_str()
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(ClusterList { items }))
}

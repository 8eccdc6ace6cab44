//! `GET /v1/tenants/{tenant_id}/clusters`

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::clusters::{repository, Cluster};
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
    tenants::require(&mut conn, &tenant_id, false).await?;
    let items = repository::list(&mut conn, &tenant_id).await?;
    Ok(Json(ClusterList { items }))
}

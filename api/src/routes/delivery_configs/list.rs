//! `GET /v1/tenants/{tenant_id}/delivery-configs`

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::with_health;
use crate::auth::Principal;
use crate::configs::document::DeliveryConfig;
use crate::configs::repository;
use crate::error::{ApiError, Problem};
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;

/// All delivery configs of a tenant (at most one per type).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryConfigList {
    /// The configs, ordered by type.
    pub items: Vec<DeliveryConfig>,
}

/// List a tenant's delivery configs
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs",
    tag = "delivery-configs",
    params(TenantPath),
    responses(
        (status = 200, description = "The tenant's configs", body = DeliveryConfigList),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn list_delivery_configs(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
) -> Result<Json<DeliveryConfigList>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    tenants::require(&mut conn, &tenant_id, false).await?;
    let configs = repository::list(&mut conn, &tenant_id).await?;
    // No pool connection is held while the health summaries are read.
    drop(conn);
    let items = with_health(&state, &configs).await;
    Ok(Json(DeliveryConfigList { items }))
}

//! `GET /v1/tenants/{tenant_id}/delivery-configs`

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ConfigRow, DeliveryConfig};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
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
    params(("tenant_id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant's configs", body = DeliveryConfigList),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn list_delivery_configs(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
) -> Result<Json<DeliveryConfigList>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    tenants::fetch(&mut conn, &tenant_id, false)
        .await?
        .ok_or_else(|| tenants::not_found(&tenant_id))?;
    let rows = sqlx::query_as!(
        ConfigRow,
        "select tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                log_group_name, log_stream_template, bucket_name, bucket_prefix,
                version, created_at, updated_at,
                verification_status, verification_checked_at, verification_checks
         from delivery_configs where tenant_id = $1 order by delivery_type",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = rows.into_iter().map(DeliveryConfig::from).collect();
    Ok(Json(DeliveryConfigList { items }))
}

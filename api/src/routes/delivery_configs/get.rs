//! `GET /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::{Path, State};
use axum::response::Response;
use logspoke_contract::DeliveryType;

use super::{fetch, not_found, parse_type, put::respond, DeliveryConfig};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Read a delivery config
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("type" = DeliveryType, Path, description = "cloudwatch or s3"),
    ),
    responses(
        (status = 200, description = "The config", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = %raw_type))]
pub async fn get_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, raw_type)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let delivery_type = parse_type(&raw_type)?;
    let mut conn = state.db.acquire().await?;
    let config = fetch(&mut conn, &tenant_id, delivery_type, false)
        .await?
        .ok_or_else(|| not_found(&tenant_id, delivery_type))?;
    Ok(respond(config, false))
}

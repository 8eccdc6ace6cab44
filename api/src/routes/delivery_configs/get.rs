//! `GET /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::State;
use axum::response::Response;

use super::{not_found, put::respond};
use crate::auth::Principal;
use crate::configs::document::DeliveryConfig;
use crate::configs::repository;
use crate::error::{ApiError, Problem};
use crate::paths::ConfigPath;
use crate::state::AppState;

/// Read a delivery config
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(ConfigPath),
    responses(
        (status = 200, description = "The config", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn get_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    path: ConfigPath,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let mut conn = state.db.acquire().await?;
    let config = repository::fetch(&mut conn, &path.tenant_id, path.delivery_type, false)
        .await?
        .ok_or_else(|| not_found(&path.tenant_id, path.delivery_type))?;
    // No pool connection is held while the health summary is read.
    drop(conn);
    Ok(respond(&state, &config, false).await)
}

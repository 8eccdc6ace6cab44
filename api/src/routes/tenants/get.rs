//! `GET /v1/tenants/{tenant_id}`

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::require;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::etag::etag;
use crate::paths::TenantPath;
use crate::state::AppState;
use crate::tenants::Tenant;

/// Read a tenant
///
/// Operators read any tenant; a tenant principal reads only its own.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}",
    tag = "tenants",
    params(TenantPath),
    responses(
        (status = 200, description = "The tenant", body = Tenant, headers(("ETag" = String))),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    let tenant = require(&mut conn, &tenant_id, false).await?;
    Ok(([(header::ETAG, etag(tenant.version))], axum::Json(tenant)).into_response())
}

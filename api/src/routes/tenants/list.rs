//! `GET /v1/tenants`

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{paginate, PageParams};
use crate::state::AppState;
use crate::tenants::{repository, Tenant};

/// A page of tenants, ordered by `tenant_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    /// This page.
    pub items: Vec<Tenant>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List tenants
///
/// Operators only. Cursor pagination ordered by `tenant_id`.
#[utoipa::path(
    get,
    path = "/v1/tenants",
    tag = "tenants",
    params(PageParams),
    responses(
        (status = 200, description = "A page of tenants", body = TenantPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<PageParams>,
) -> Result<Json<TenantPage>, ApiError> {
    principal.require_operator()?;
    let page = params.parse()?;
    let mut conn = state.db.acquire().await?;
    let rows = repository::page(&mut conn, page.after.as_deref(), page.fetch_limit()).await?;
    let (items, next_cursor) = paginate(rows, &page, |t| t.tenant_id.clone());
    Ok(Json(TenantPage { items, next_cursor }))
}

//! `GET /v1/tenants/{tenant_id}/delivery-configs/{type}/replays`

use axum::extract::State;
use axum::Json;
use logspoke_contract::ledger::Target;
use serde::Serialize;
use utoipa::ToSchema;

use super::documents;
use crate::auth::Principal;
use crate::configs::repository as configs;
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{paginate, PageParams};
use crate::paths::ConfigPath;
use crate::replays::{repository, Replay};
use crate::routes::delivery_configs::not_found;
use crate::state::AppState;

/// A page of replays, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayPage {
    /// This page.
    pub items: Vec<Replay>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List a delivery config's replays
///
/// Newest first, with their progress.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/replays",
    tag = "replays",
    params(ConfigPath, PageParams),
    responses(
        (status = 200, description = "A page of replays", body = ReplayPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The delivery ledger could not be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn list_replays(
    State(state): State<AppState>,
    principal: Principal,
    path: ConfigPath,
    QueryParams(params): QueryParams<PageParams>,
) -> Result<Json<ReplayPage>, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let page = params.parse()?;
    let after = page
        .after
        .as_deref()
        .map(|raw| {
            uuid::Uuid::parse_str(raw)
                .map_err(|_| ApiError::BadRequest("cursor is not a cursor returned by this API".into()))
        })
        .transpose()?;
    let target = Target::new(path.tenant_id, path.delivery_type);
    let rows = {
        let mut conn = state.db.acquire().await?;
        configs::fetch(&mut conn, &target.tenant_id, target.delivery_type, false)
            .await?
            .ok_or_else(|| not_found(&target.tenant_id, target.delivery_type))?;
        repository::page(&mut conn, &target, after, page.fetch_limit()).await?
    };
    let (rows, next_cursor) = paginate(rows, &page, |r| r.replay_id.to_string());
    let items = documents(&state, &rows).await?;
    Ok(Json(ReplayPage { items, next_cursor }))
}

//! `GET /v1/tenants/{tenant_id}/delivery-configs/{type}/replays/{replay_id}`

use axum::extract::State;
use axum::Json;
use logspoke_contract::ledger::Target;

use super::{document, stored};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::paths::ReplayPath;
use crate::replays::Replay;
use crate::state::AppState;

/// Read a replay of a delivery config
///
/// Its window and mode, and its progress as the worker running it last reported it (at
/// least every 5 s): `state`, the objects of the window, how many are done and how many
/// were skipped because the target had them, and the events and bytes delivered.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/replays/{replay_id}",
    tag = "replays",
    params(ReplayPath),
    responses(
        (status = 200, description = "The replay", body = Replay),
        (status = 404, description = "No such tenant, type or replay", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The delivery ledger could not be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str(), replay_id = %path.replay_id))]
pub async fn get_replay(
    State(state): State<AppState>,
    principal: Principal,
    path: ReplayPath,
) -> Result<Json<Replay>, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let target = Target::new(path.tenant_id, path.delivery_type);
    let replay = stored(&state, &target, path.replay_id).await?;
    Ok(Json(document(&state, replay).await?))
}

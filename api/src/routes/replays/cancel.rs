//! `DELETE /v1/tenants/{tenant_id}/delivery-configs/{type}/replays/{replay_id}`

use axum::extract::State;
use axum::response::Response;
use logspoke_contract::ledger::Target;

use super::{accepted, document, stored};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::outbox;
use crate::paths::ReplayPath;
use crate::replays::{repository, Progress, Replay};
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Cancel a replay of a delivery config
///
/// Asks the workers running the replay (in every provider region) to stop; they do
/// within a few seconds and the replay ends `cancelled` (objects delivered before stay
/// delivered). Cancelling a
/// replay whose cancellation was already asked for answers the same again; one that
/// has ended is a 409.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/replays/{replay_id}",
    tag = "replays",
    params(ReplayPath),
    responses(
        (status = 202, description = "Accepted: the replay stops shortly", body = Replay),
        (status = 404, description = "No such tenant, type or replay", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The replay has already ended", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The delivery ledger could not be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str(), replay_id = %path.replay_id))]
pub async fn cancel_replay(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ReplayPath,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let target = Target::new(path.tenant_id, path.delivery_type);
    let stored = stored(&state, &target, path.replay_id).await?;
    // Progress first (no transaction is open while the ledger is read): an end the
    // workers reported is recorded, and refuses the cancellation.
    let mut replay = document(&state, stored).await?;
    refuse_if_ended(&replay)?;
    if replay.cancel_requested_at.is_none() {
        replay.cancel_requested_at = Some(request(&state, &principal, &request_id, &target, &replay).await?);
    }
    Ok(accepted(&replay))
}

fn refuse_if_ended(replay: &Replay) -> Result<(), ApiError> {
    if replay.progress.is_final() {
        return Err(ended(replay, &replay.progress));
    }
    Ok(())
}

fn ended(replay: &Replay, progress: &Progress) -> ApiError {
    ApiError::Conflict(format!(
        "replay {} has already ended ({}); there is nothing to cancel",
        replay.replay_id,
        progress.state.as_str()
    ))
}

/// Records, audits and publishes the cancellation; returns when it was asked for (the
/// first time, when a concurrent request asked first).
async fn request(
    state: &AppState,
    principal: &Principal,
    request_id: &RequestId,
    target: &Target,
    replay: &Replay,
) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let mut write = WriteTx::begin(&state.db, principal, request_id).await?;
    let Some(at) = repository::request_cancel(write.conn(), replay.replay_id).await? else {
        // A concurrent request ended it or asked first: answer as it now stands.
        drop(write);
        let now = stored(state, target, replay.replay_id).await?;
        if let Some(progress) = now.final_progress {
            return Err(ended(replay, &progress.progress));
        }
        return now.cancel_requested_at.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "replay {} refused its cancellation yet has neither ended nor been cancelled",
                replay.replay_id
            ))
        });
    };
    let after = Replay {
        cancel_requested_at: Some(at),
        ..replay.clone()
    };
    let document = |r: &Replay| serde_json::to_value(r).map_err(|e| ApiError::Internal(e.into()));
    write
        .audit_of_config(
            &target.tenant_id,
            target.delivery_type,
            "replay.cancel_requested",
            Some(document(replay)?),
            Some(document(&after)?),
        )
        .await?;
    let id = replay.replay_id.to_string();
    outbox::enqueue_replay_cancel(write.conn(), &target.tenant_id, target.delivery_type, &id).await?;
    write.commit().await?;
    tracing::info!(tenant_id = %target.tenant_id, delivery_type = target.delivery_type.as_str(), replay_id = %replay.replay_id, "replay cancellation requested");
    Ok(at)
}

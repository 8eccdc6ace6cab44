//! Replays of a delivery config: `…/delivery-configs/{type}/replays`. The rules are in
//! [`crate::replays`]; these handlers authorize, store, publish and read progress back
//! from every provider region's ledger.

pub mod cancel;
pub mod create;
pub mod get;
pub mod list;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::ReplayState;

use crate::error::ApiError;
use crate::replays::{repository, standing, RegionalProgress, Replay, Standing, StoredReplay};
use crate::state::AppState;

/// The 404 for a replay that does not exist (or belongs to another config).
pub fn not_found(replay_id: uuid::Uuid) -> ApiError {
    ApiError::NotFound(format!(
        "there is no replay '{replay_id}' of this delivery config"
    ))
}

/// The replay `replay_id` of `target`, or a 404.
pub async fn stored(
    state: &AppState,
    target: &Target,
    replay_id: uuid::Uuid,
) -> Result<StoredReplay, ApiError> {
    let mut conn = state.db.acquire().await?;
    repository::fetch(&mut conn, target, replay_id)
        .await?
        .ok_or_else(|| not_found(replay_id))
}

/// The documents of `replays`: progress from every region's ledger for those that have
/// not ended (one batched read per region), and the end recorded in Postgres when it is
/// new. A region that cannot be read is named in each open replay's document, which then
/// does not end; only when no region can be read is this an error.
pub async fn documents(state: &AppState, replays: &[StoredReplay]) -> Result<Vec<Replay>, ApiError> {
    let open: Vec<String> = replays
        .iter()
        .filter(|r| r.final_progress.is_none())
        .map(|r| r.replay_id.to_string())
        .collect();
    let jobs = state.health.replay_jobs(&open).await?;
    let now = chrono::Utc::now();
    let mut documents = Vec::with_capacity(replays.len());
    for replay in replays {
        let id = replay.replay_id.to_string();
        let regions: Vec<_> = jobs
            .read
            .iter()
            .map(|(region, jobs)| (*region, jobs.get(&id)))
            .collect();
        let standing = standing(replay, &regions, !jobs.unreadable.is_empty(), now);
        let unreadable = match &standing {
            Standing::Recorded(_) => &[][..],
            Standing::Reported { .. } => &jobs.unreadable[..],
        };
        if let Standing::Reported {
            progress,
            newly_final: true,
        } = &standing
        {
            record_final(state, replay, progress).await;
        }
        documents.push(Replay::new(replay, standing.progress().clone(), unreadable));
    }
    Ok(documents)
}

/// Keeps how a replay ended. A failure only means it is read from the ledger again next
/// time, so it is logged, not returned.
async fn record_final(state: &AppState, replay: &StoredReplay, progress: &RegionalProgress) {
    let recorded = match state.db.acquire().await {
        Ok(mut conn) => repository::record_final(&mut conn, replay, progress)
            .await
            .map_err(anyhow::Error::new),
        Err(err) => Err(anyhow::Error::new(err)),
    };
    if let Err(err) = recorded {
        tracing::warn!(replay_id = %replay.replay_id, error = %err, "could not record how a replay ended; it is read from the ledger again");
    }
}

/// The document of one replay.
pub async fn document(state: &AppState, replay: StoredReplay) -> Result<Replay, ApiError> {
    let mut documents = documents(state, std::slice::from_ref(&replay)).await?;
    documents
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no document for replay {}", replay.replay_id)))
}

/// A replay that has not ended yet blocks another one of the same target: a 409 naming
/// it. Ends the ledger reports are recorded on the way.
pub async fn refuse_if_running(state: &AppState, target: &Target) -> Result<(), ApiError> {
    let unfinished = {
        let mut conn = state.db.acquire().await?;
        repository::unfinished(&mut conn, target).await?
    };
    let documents = documents(state, &unfinished).await?;
    match documents.iter().find(|d| !d.progress.is_final()) {
        Some(running) => Err(running_conflict(running, Some(running.progress.state))),
        None => Ok(()),
    }
}

/// The 409 for a target whose replay `running` has not ended, in `state` when known.
pub fn running_conflict(running: &Replay, state: Option<ReplayState>) -> ApiError {
    let standing = match state {
        Some(state) => format!("is {}", state.as_str()),
        None => "has not ended".to_owned(),
    };
    let cancelling = if running.cancel_requested_at.is_some() {
        " (cancelling)"
    } else {
        ""
    };
    ApiError::Conflict(format!(
        "replay {} of this delivery config {standing}{cancelling}; wait for it to end, or cancel \
         it with DELETE {}",
        running.replay_id,
        running.location()
    ))
}

/// A 202 with the replay document and its `Location`.
pub fn accepted(replay: &Replay) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, replay.location())],
        Json(replay),
    )
        .into_response()
}

//! `POST /v1/tenants/{tenant_id}/delivery-configs/{type}/replays`

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::ReplayMode;
use logspoke_contract::EffectiveState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{accepted, refuse_if_running, running_conflict};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::repository as configs;
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::JsonBody;
use crate::idempotency::{self, IdempotencyKey, StoredResponse};
use crate::outbox;
use crate::paths::ConfigPath;
use crate::replays::{check_window, job_for, repository, NewReplay, RegionalProgress, Replay};
use crate::routes::delivery_configs::not_found;
use crate::routes::tenants;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Body of a replay request.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Window start, included: an RFC 3339 date-time. Objects count by the time in their
    /// staged key (when the collector wrote them). At most the staging retention ago.
    #[schema(format = DateTime, example = "2026-12-02T00:00:00Z")]
    pub since: String,
    /// Window end, excluded; later than `since`, at most the staging retention after it.
    #[schema(format = DateTime, example = "2026-12-03T00:00:00Z")]
    pub until: String,
    /// `missing` (the default) sends only objects the target does not have; `all` sends
    /// every object of the window again.
    pub mode: Option<ReplayMode>,
}

impl ReplayRequest {
    /// The replay this body asks for at `now`, or every invalid field.
    fn parse(&self, target: Target, now: DateTime<Utc>, retention_days: u32) -> Result<NewReplay, ApiError> {
        let time = |field: &str, raw: &str| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    FieldError::new(
                        field,
                        format!("not an RFC 3339 date-time such as 2026-12-02T00:00:00Z: {e}"),
                    )
                })
        };
        let (since, until) = match (time("since", &self.since), time("until", &self.until)) {
            (Ok(since), Ok(until)) => (since, until),
            (since, until) => {
                let errors = [since.err(), until.err()].into_iter().flatten().collect();
                return Err(ApiError::Validation(errors));
            }
        };
        check_window(since, until, now, retention_days).map_err(|e| ApiError::Validation(vec![e]))?;
        Ok(NewReplay {
            target,
            since,
            until,
            mode: self.mode.unwrap_or_default(),
        })
    }
}

/// Replay a time window to a delivery config
///
/// Redelivers the staged objects of `[since, until)` to this config's target, from the
/// staging bucket, through the same pipeline as live delivery: oldest first, with the
/// tenant's registered clusters and `desired_logs`. A `missing` replay (the default)
/// sends only objects the delivery ledger does not show as delivered to this target, so
/// it fills gaps and never duplicates; an `all` replay sends every object again
/// (duplicates by request). In every provider region a worker replays the window's
/// objects staged there; follow the combined progress, and each region's, at the
/// `Location`.
///
/// The config must be `active`. One replay per config runs at a time (409 while one has
/// not ended; cancel it or wait). The window may not be empty or reversed, longer than
/// the staging retention, or start before the oldest object the staging bucket still
/// holds. With an `Idempotency-Key`, a retry with the same body returns the first
/// response (marked `Idempotent-Replayed: true`).
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/replays",
    tag = "replays",
    params(
        ConfigPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key and body → same response, for 24 h.", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "Accepted: the replay, queued for a worker", body = Replay,
            headers(("Location" = String, description = "URL of the replay"))),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another replay of this config has not ended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The tenant started the most replays it may in 24 hours (`LOGSPOKE_REPLAYS_PER_TENANT_PER_DAY`)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the next replay may start"))),
        (status = 422, description = "Invalid window (the problem names the field and the retention), the config \
            is not active, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The delivery ledger could not be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn create_replay(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ConfigPath,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ReplayRequest>,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let target = Target::new(path.tenant_id, path.delivery_type);
    let key = IdempotencyKey::from_headers(&headers)?;
    // The key answers for this config only: the same body sent to another config is
    // another request.
    let hash = idempotency::request_hash(&(target.partition(), &body));
    if let Some(key) = &key {
        let mut conn = state.db.acquire().await?;
        if let Some(replayed) = idempotency::replay(&mut conn, &principal.subject, key, &hash).await? {
            return Ok(replayed);
        }
    }
    // What the request names must exist before its window or the running replay matter.
    {
        let mut conn = state.db.acquire().await?;
        tenants::require(&mut conn, &target.tenant_id, false).await?;
        configs::fetch(&mut conn, &target.tenant_id, target.delivery_type, false)
            .await?
            .ok_or_else(|| not_found(&target.tenant_id, target.delivery_type))?;
    }
    let new = body.parse(target.clone(), Utc::now(), state.replays.staging_retention_days)?;
    refuse_if_running(&state, &target).await?;
    let created = create(&state, &principal, &request_id, &new, key.as_ref(), &hash).await;
    match (created, &key) {
        (Ok(replay), _) => Ok(accepted(&replay)),
        // A concurrent retry with the same key committed first: answer as it did.
        (Err(ApiError::Conflict(detail)), Some(key)) => {
            let mut conn = state.db.acquire().await?;
            idempotency::replay(&mut conn, &principal.subject, key, &hash)
                .await?
                .ok_or(ApiError::Conflict(detail))
        }
        (Err(err), _) => Err(err),
    }
}

/// Stores, audits and publishes the replay in one transaction, under the config's row
/// lock: two requests for one config cannot both pass the check that none is running.
async fn create(
    state: &AppState,
    principal: &Principal,
    request_id: &RequestId,
    new: &NewReplay,
    key: Option<&IdempotencyKey>,
    hash: &str,
) -> Result<Replay, ApiError> {
    let target = &new.target;
    let mut write = WriteTx::begin(&state.db, principal, request_id).await?;
    let config = configs::fetch(write.conn(), &target.tenant_id, target.delivery_type, true)
        .await?
        .ok_or_else(|| not_found(&target.tenant_id, target.delivery_type))?;
    let tenant = tenants::require(write.conn(), &target.tenant_id, false).await?;
    require_active(tenant.enabled, config.state())?;
    // Again under the config's lock: one started since the check above.
    if let Some(running) = repository::unfinished(write.conn(), target).await?.first() {
        let queued = RegionalProgress::queued(&state.health.regions());
        return Err(running_conflict(&Replay::new(running, queued, &[]), None));
    }
    refuse_over_quota(write.conn(), &target.tenant_id, state.replays.per_tenant_per_day).await?;
    let stored = repository::insert(write.conn(), Uuid::now_v7(), new, &principal.subject).await?;
    let replay = Replay::new(&stored, RegionalProgress::queued(&state.health.regions()), &[]);
    let document = serde_json::to_value(&replay).map_err(|e| ApiError::Internal(e.into()))?;
    write
        .audit_of_config(
            &target.tenant_id,
            target.delivery_type,
            "replay.requested",
            None,
            Some(document.clone()),
        )
        .await?;
    let job = job_for(stored.replay_id, new, stored.requested_at);
    outbox::enqueue_replay(write.conn(), &job).await?;
    if let Some(key) = key {
        let response = StoredResponse {
            status: StatusCode::ACCEPTED.as_u16(),
            body: document,
            location: Some(replay.location()),
        };
        idempotency::store(write.conn(), &principal.subject, key, hash, &response).await?;
    }
    write.commit().await?;
    tracing::info!(
        tenant_id = %target.tenant_id,
        delivery_type = target.delivery_type.as_str(),
        replay_id = %stored.replay_id,
        mode = new.mode.as_str(),
        "replay requested"
    );
    Ok(replay)
}

/// A tenant starts at most `per_day` replays in 24 hours: each lists the tenant's prefix
/// and leaves a job item for 30 days, so an unbounded stream of short replays would cost
/// every replica. Checked under the config's lock, which serialises one config's
/// requests; a tenant's configs together may overshoot by one per config.
async fn refuse_over_quota(
    conn: &mut sqlx::PgConnection,
    tenant_id: &logspoke_contract::TenantId,
    per_day: u32,
) -> Result<(), ApiError> {
    let since = Utc::now() - chrono::TimeDelta::days(1);
    let (count, oldest) = repository::started_since(conn, tenant_id, since).await?;
    match oldest {
        Some(oldest) if count >= i64::from(per_day) => {
            let wait = (oldest - since).num_seconds().max(1);
            Err(ApiError::RateLimited {
                retry_after: std::time::Duration::from_secs(wait.unsigned_abs()),
                detail: format!(
                    "this tenant started {count} replays in the last 24 hours, the most it may; \
                     the next is possible in {wait} s"
                ),
            })
        }
        _ => Ok(()),
    }
}

/// Only an active config of an enabled tenant receives logs, replayed ones too.
fn require_active(tenant_enabled: bool, state: EffectiveState) -> Result<(), ApiError> {
    if !tenant_enabled {
        return Err(ApiError::Unprocessable(
            "the tenant is disabled: nothing is delivered to it, replays neither; enable it first".into(),
        ));
    }
    if state != EffectiveState::Active {
        return Err(ApiError::Unprocessable(format!(
            "the delivery config is {}: only an active config (enabled and verified) can be replayed to",
            state.as_str()
        )));
    }
    Ok(())
}

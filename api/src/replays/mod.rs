//! Replays: redelivering a time window of one delivery config's staged objects.
//!
//! The api stores the request in Postgres ([`repository`]) and publishes it through the
//! outbox as a [`ReplayJob`] item of the delivery ledger, where exactly one worker runs
//! it and writes its progress (ADR 10). The api reads that progress back for the replay
//! document and keeps the final one, so that a replay's outcome outlives its job item
//! (which expires 30 days after it ends).
//!
//! The relay publishes the job into the ledger of every configured provider region
//! (`LOGSPOKE_DELIVERY_REGIONS`): each region's workers replay what was staged there, and
//! the document combines the regions' progress ([`regions`]).
//!
//! This module holds the pure rules: which windows may be replayed ([`check_window`]),
//! the job a request becomes ([`job_for`]), and where a replay stands given what Postgres
//! and the regions' ledgers say ([`standing`]).

pub mod regions;
pub mod repository;

use chrono::{DateTime, TimeDelta, Utc};
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::{ReplayJob, ReplayMode, ReplayProgress, ReplayState, ENDED_JOB_TTL_SECONDS};
use logspoke_contract::{DeliveryType, Region, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use regions::{RegionProgress, RegionalProgress};

use crate::delivery_health::UnreadableRegion;
use crate::error::FieldError;

/// How long after it ended a job item stays in the ledger (its TTL), in days.
pub const JOB_RETENTION_DAYS: i64 = ENDED_JOB_TTL_SECONDS / 86_400;

/// A cancelled replay whose job item has still not appeared this long after the
/// cancellation was asked for is taken as ended: it will never run (the relay ends a
/// queued job it cancels), and it must not block its target.
pub const CANCELLED_UNSEEN_MINUTES: i64 = 5;

/// A replay request whose window passed [`check_window`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReplay {
    /// The target it delivers to.
    pub target: Target,
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Which objects it sends.
    pub mode: ReplayMode,
}

/// Checks a window against the staging bucket's retention at `now`: it must not be
/// empty or reversed, not longer than the retention, and not start before the oldest
/// object the bucket can still hold. Each failure names the field to change.
pub fn check_window(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Result<(), FieldError> {
    let retention = TimeDelta::days(i64::from(retention_days));
    if until == since {
        return Err(FieldError::new(
            "until",
            "the window is empty: until must be later than since (since is included, until is not)",
        ));
    }
    if until < since {
        return Err(FieldError::new(
            "until",
            "the window is reversed: until must be later than since",
        ));
    }
    if until - since > retention {
        return Err(FieldError::new(
            "until",
            format!(
                "the window is longer than the staging retention of {retention_days} days; \
                 replay it in parts"
            ),
        ));
    }
    let oldest = now - retention;
    if since < oldest {
        return Err(FieldError::new(
            "since",
            format!(
                "the staging bucket keeps objects for {retention_days} days: since may not be \
                 earlier than {}",
                oldest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(())
}

/// The job item a new replay is published as.
pub fn job_for(replay_id: Uuid, replay: &NewReplay, requested_at: DateTime<Utc>) -> ReplayJob {
    ReplayJob {
        replay_id: replay_id.to_string(),
        target: replay.target.clone(),
        since_ms: replay.since.timestamp_millis(),
        until_ms: replay.until.timestamp_millis(),
        mode: replay.mode,
        cancelled: false,
        requested_at_ms: requested_at.timestamp_millis(),
        progress: ReplayProgress::queued(),
    }
}

/// Where a replay is, as the workers report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// `queued` until a worker takes it; `listing` until the first page of the window's
    /// objects is listed; `delivering` (listing goes on page by page); then `done`,
    /// `failed` (see `error`) or `cancelled`.
    pub state: ReplayState,
    /// Objects of the window listed so far: the listing goes on while objects are
    /// delivered, so this is final once the replay ends.
    pub objects_total: u64,
    /// Objects finished: delivered, or skipped.
    pub objects_done: u64,
    /// Of those, skipped because the target already had them (`missing` mode).
    pub objects_skipped: u64,
    /// Events delivered.
    pub events: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// ListObjectsV2 pages the listing of the window took so far (up to 1,000 of the
    /// tenant's staged objects each, in key order from the tenant's prefix): what the
    /// replay cost to list.
    #[serde(default)]
    pub pages_listed: u64,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed; objects before the failure stay delivered, and a new `missing`
    /// replay of the window continues where it stopped. Combined over several regions:
    /// the first failed region's reason, prefixed with its name (`us-east-1: …`), shown
    /// as soon as that region failed, also while others still run.
    pub error: Option<String>,
}

impl Progress {
    /// A replay no worker has taken yet.
    pub fn queued() -> Self {
        Self::from(&ReplayProgress::queued())
    }

    /// True once nothing more happens to the replay.
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

impl From<&ReplayProgress> for Progress {
    fn from(progress: &ReplayProgress) -> Self {
        let time = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
        Self {
            state: progress.state,
            objects_total: progress.objects_total,
            objects_done: progress.objects_done,
            objects_skipped: progress.objects_skipped,
            events: progress.events,
            bytes: progress.bytes,
            pages_listed: progress.pages_listed,
            started_at: time(progress.started_at_ms),
            finished_at: time(progress.finished_at_ms),
            error: progress.error.clone(),
        }
    }
}

/// A replay as stored in Postgres.
#[derive(Debug, Clone)]
pub struct StoredReplay {
    /// Its id (a UUIDv7, so ids sort by request time).
    pub replay_id: Uuid,
    /// The target.
    pub target: Target,
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Which objects it sends.
    pub mode: ReplayMode,
    /// The token subject that asked for it.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// When a cancellation was asked for.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// The progress once it ended, as the api last read it (with each region's).
    pub final_progress: Option<RegionalProgress>,
}

/// Where a replay stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Postgres already holds its final progress.
    Recorded(RegionalProgress),
    /// The ledgers say this; `newly_final` when it ended and Postgres does not know yet.
    Reported {
        /// The progress, combined and per region.
        progress: RegionalProgress,
        /// Record it in Postgres.
        newly_final: bool,
    },
}

impl Standing {
    /// The progress to show.
    pub fn progress(&self) -> &RegionalProgress {
        match self {
            Self::Recorded(progress) | Self::Reported { progress, .. } => progress,
        }
    }
}

/// Where `replay` stands at `now`, given its job item in each region read (`jobs`, in
/// configured order) and whether some region could not be read (`unread`): each
/// region's progress ([`region_progress`]), combined ([`regions::combine`]). It is newly
/// final once every region ended and every region was read.
pub fn standing(
    replay: &StoredReplay,
    jobs: &[(Region, Option<&ReplayJob>)],
    unread: bool,
    now: DateTime<Utc>,
) -> Standing {
    if let Some(progress) = &replay.final_progress {
        return Standing::Recorded(progress.clone());
    }
    let regions = jobs
        .iter()
        .map(|(region, job)| RegionProgress {
            region: *region,
            progress: region_progress(replay, *job, now),
        })
        .collect();
    let progress = RegionalProgress::of(regions, unread);
    let newly_final = progress.progress.is_final();
    Standing::Reported {
        progress,
        newly_final,
    }
}

/// Where `replay` stands in one region at `now`, given that region's job item (`None`:
/// the ledger has none, or an item of another target, which cannot be this replay's).
/// A job the ledger has not got yet is queued (the relay has not reached the region
/// yet), unless its cancellation was asked for a while ago; one it no longer has,
/// requested longer ago than job items are kept, ended unseen and expired.
pub fn region_progress(replay: &StoredReplay, job: Option<&ReplayJob>, now: DateTime<Utc>) -> Progress {
    let job = job.filter(|job| job.target == replay.target);
    let cancelled_unseen = replay
        .cancel_requested_at
        .is_some_and(|at| now - at > TimeDelta::minutes(CANCELLED_UNSEEN_MINUTES));
    match job {
        Some(job) => Progress::from(&job.progress),
        None if cancelled_unseen => Progress {
            state: ReplayState::Cancelled,
            finished_at: replay.cancel_requested_at,
            ..Progress::queued()
        },
        None if now - replay.requested_at > TimeDelta::days(JOB_RETENTION_DAYS) => Progress {
            state: ReplayState::Failed,
            error: Some(format!(
                "the replay's progress record expired ({JOB_RETENTION_DAYS} days after it ended) \
                 before it was read; request a missing replay of the window to be sure"
            )),
            ..Progress::queued()
        },
        None => Progress::queued(),
    }
}

/// A replay as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "replay_id": "0193a5c2-7d4e-7b3a-9c1f-2e8d4b6a1c30",
    "tenant_id": "acme",
    "type": "cloudwatch",
    "since": "2026-12-01T00:00:00Z",
    "until": "2026-12-01T06:00:00Z",
    "mode": "missing",
    "state": "delivering",
    "objects_total": 130,
    "objects_done": 52,
    "objects_skipped": 4,
    "events": 480_000,
    "bytes": 192_000_000,
    "pages_listed": 2,
    "started_at": "2026-12-01T10:00:02.125Z",
    "finished_at": null,
    "error": null,
    "regions": [
        {"region": "eu-west-1", "progress": {
            "state": "delivering", "objects_total": 100, "objects_done": 22, "objects_skipped": 4,
            "events": 180_000, "bytes": 72_000_000, "pages_listed": 1,
            "started_at": "2026-12-01T10:00:02.125Z", "finished_at": null, "error": null
        }},
        {"region": "us-east-1", "progress": {
            "state": "done", "objects_total": 30, "objects_done": 30, "objects_skipped": 0,
            "events": 300_000, "bytes": 120_000_000, "pages_listed": 1,
            "started_at": "2026-12-01T10:00:03.500Z", "finished_at": "2026-12-01T10:01:10.250Z", "error": null
        }}
    ],
    "unreadable_regions": [],
    "requested_by": "acme-admin",
    "requested_at": "2026-12-01T10:00:00.870Z",
    "cancel_requested_at": null
}))]
pub struct Replay {
    /// The replay's id.
    pub replay_id: Uuid,
    /// The tenant.
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The delivery config it delivers to: `cloudwatch` or `s3`.
    #[serde(rename = "type")]
    pub delivery_type: DeliveryType,
    /// Window start (inclusive), by the staged objects' timestamps.
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// `missing` sends only what the target does not have; `all` sends everything again.
    pub mode: ReplayMode,
    /// Where it is, combined over the provider regions (see `regions`).
    #[serde(flatten)]
    pub progress: Progress,
    /// Each provider region's part, in the configured order: every region's workers
    /// replay the window's objects staged there. The top-level progress combines them:
    /// counts add up; it has ended only once every region's part ended (then `failed`
    /// if one failed, else `cancelled` if one was cancelled, else `done`); until then it
    /// is `delivering` if a region delivers, else `listing` if one lists, else `queued`.
    /// Empty for replays that ended before regions were reported.
    pub regions: Vec<RegionProgress>,
    /// The provider regions whose delivery ledger could not be read: their part is
    /// missing, and the replay is not shown as ended until it is read (empty when every
    /// region was read).
    pub unreadable_regions: Vec<UnreadableRegion>,
    /// Who asked for it (the token subject).
    pub requested_by: String,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When a cancellation was asked for; the replay stops within a few seconds and ends
    /// `cancelled` (or, if it ended first, as it ended).
    pub cancel_requested_at: Option<DateTime<Utc>>,
}

impl Replay {
    /// The document of `replay` with `progress`, missing the regions `unreadable`.
    pub fn new(replay: &StoredReplay, progress: RegionalProgress, unreadable: &[Region]) -> Self {
        Self {
            replay_id: replay.replay_id,
            tenant_id: replay.target.tenant_id.clone(),
            delivery_type: replay.target.delivery_type,
            since: replay.since,
            until: replay.until,
            mode: replay.mode,
            progress: progress.progress,
            regions: progress.regions,
            unreadable_regions: UnreadableRegion::all(unreadable),
            requested_by: replay.requested_by.clone(),
            requested_at: replay.requested_at,
            cancel_requested_at: replay.cancel_requested_at,
        }
    }

    /// Its URL.
    pub fn location(&self) -> String {
        location(&self.tenant_id, self.delivery_type, self.replay_id)
    }
}

/// The URL of a replay.
pub fn location(tenant_id: &TenantId, delivery_type: DeliveryType, replay_id: Uuid) -> String {
    format!(
        "/v1/tenants/{tenant_id}/delivery-configs/{}/replays/{replay_id}",
        delivery_type.as_str()
    )
}

#[cfg(test)]
mod tests;

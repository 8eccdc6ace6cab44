//! The `replays` table: one row per requested replay, with its final progress once the
//! api has seen it end.

use chrono::{DateTime, Utc};
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::ReplayMode;
use logspoke_contract::{DeliveryType, TenantId};
use sqlx::{Acquire, PgConnection};
use uuid::Uuid;

use super::{NewReplay, RegionalProgress, StoredReplay};
use crate::notifications::{self, Message};
use crate::store::StoreError;

/// A row as Postgres returns it.
struct Row {
    replay_id: Uuid,
    tenant_id: String,
    delivery_type: String,
    since_at: DateTime<Utc>,
    until_at: DateTime<Utc>,
    mode: String,
    requested_by: String,
    requested_at: DateTime<Utc>,
    cancel_requested_at: Option<DateTime<Utc>>,
    final_progress: Option<serde_json::Value>,
}

impl TryFrom<Row> for StoredReplay {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let tenant_id = TenantId::parse(&row.tenant_id).map_err(|e| StoreError::corrupt("tenant id", e))?;
        let delivery_type =
            DeliveryType::parse(&row.delivery_type).map_err(|e| StoreError::corrupt("delivery type", e))?;
        let final_progress = row
            .final_progress
            .map(serde_json::from_value::<RegionalProgress>)
            .transpose()
            .map_err(|e| StoreError::corrupt("replay progress", e))?;
        Ok(Self {
            replay_id: row.replay_id,
            target: Target::new(tenant_id, delivery_type),
            since: row.since_at,
            until: row.until_at,
            mode: ReplayMode::parse(&row.mode).map_err(|e| StoreError::corrupt("replay mode", e))?,
            requested_by: row.requested_by,
            requested_at: row.requested_at,
            cancel_requested_at: row.cancel_requested_at,
            final_progress,
        })
    }
}

fn stored(rows: Vec<Row>) -> Result<Vec<StoredReplay>, StoreError> {
    rows.into_iter().map(StoredReplay::try_from).collect()
}

/// Stores a new replay.
#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut PgConnection,
    replay_id: Uuid,
    replay: &NewReplay,
    requested_by: &str,
) -> Result<StoredReplay, StoreError> {
    let row = sqlx::query_as!(
        Row,
        "insert into replays (replay_id, tenant_id, delivery_type, since_at, until_at, mode, requested_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning replay_id, tenant_id, delivery_type, since_at, until_at, mode, requested_by,
                   requested_at, cancel_requested_at, final_progress",
        replay_id,
        replay.target.tenant_id.as_str(),
        replay.target.delivery_type.as_str(),
        replay.since,
        replay.until,
        replay.mode.as_str(),
        requested_by,
    )
    .fetch_one(conn)
    .await?;
    row.try_into()
}

/// One replay of `target`.
#[tracing::instrument(skip_all)]
pub async fn fetch(
    conn: &mut PgConnection,
    target: &Target,
    replay_id: Uuid,
) -> Result<Option<StoredReplay>, StoreError> {
    let row = sqlx::query_as!(
        Row,
        "select replay_id, tenant_id, delivery_type, since_at, until_at, mode, requested_by,
                requested_at, cancel_requested_at, final_progress
         from replays where tenant_id = $1 and delivery_type = $2 and replay_id = $3",
        target.tenant_id.as_str(),
        target.delivery_type.as_str(),
        replay_id,
    )
    .fetch_optional(conn)
    .await?;
    row.map(StoredReplay::try_from).transpose()
}

/// A page of `target`'s replays, newest first, after the replay `after` (a cursor).
#[tracing::instrument(skip_all)]
pub async fn page(
    conn: &mut PgConnection,
    target: &Target,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoredReplay>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        "select replay_id, tenant_id, delivery_type, since_at, until_at, mode, requested_by,
                requested_at, cancel_requested_at, final_progress
         from replays
         where tenant_id = $1 and delivery_type = $2 and ($3::uuid is null or replay_id < $3)
         order by replay_id desc
         limit $4",
        target.tenant_id.as_str(),
        target.delivery_type.as_str(),
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    stored(rows)
}

/// `target`'s replays whose end Postgres has not recorded.
#[tracing::instrument(skip_all)]
pub async fn unfinished(conn: &mut PgConnection, target: &Target) -> Result<Vec<StoredReplay>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        "select replay_id, tenant_id, delivery_type, since_at, until_at, mode, requested_by,
                requested_at, cancel_requested_at, final_progress
         from replays
         where tenant_id = $1 and delivery_type = $2 and final_progress is null
         order by replay_id",
        target.tenant_id.as_str(),
        target.delivery_type.as_str(),
    )
    .fetch_all(conn)
    .await?;
    stored(rows)
}

/// Records how a replay ended (once: a recorded end is never replaced), with each
/// region's part (`final_progress` holds the combined fields and `regions`; rows recorded
/// before regions were read have no `regions`, read as none); the first to record it
/// queues the tenant's `replay_ended` notification in the same transaction.
#[tracing::instrument(skip_all)]
pub async fn record_final(
    conn: &mut PgConnection,
    replay: &StoredReplay,
    progress: &RegionalProgress,
) -> Result<(), StoreError> {
    let document = serde_json::to_value(progress).map_err(|source| StoreError::Encode {
        what: "replay progress",
        source,
    })?;
    let mut tx = conn.begin().await?;
    let recorded = sqlx::query!(
        "update replays set final_progress = $2 where replay_id = $1 and final_progress is null",
        replay.replay_id,
        document,
    )
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() == 1 {
        let message = Message::replay_ended(
            &replay.target,
            replay.replay_id,
            progress.progress.state,
            Utc::now(),
        );
        notifications::repository::queue(&mut tx, &message, None, Some(replay.replay_id)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Up to `limit` replays after `after` (by id) whose end Postgres has not recorded, of
/// tenants with a notification target (the notifier reads them, so that their end is told
/// even when nobody asks for the replay).
#[tracing::instrument(skip_all)]
pub async fn unfinished_notified(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoredReplay>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        "select r.replay_id, r.tenant_id, r.delivery_type, r.since_at, r.until_at, r.mode, r.requested_by,
                r.requested_at, r.cancel_requested_at, r.final_progress
         from replays r join notification_targets n on n.tenant_id = r.tenant_id
         where r.final_progress is null and r.replay_id > coalesce($1, '00000000-0000-0000-0000-000000000000'::uuid)
         order by r.replay_id
         limit $2",
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    stored(rows)
}

/// How many replays `tenant_id` started since `since`, and the oldest of them.
#[tracing::instrument(skip_all)]
pub async fn started_since(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let row = sqlx::query!(
        r#"select count(*) as "count!", min(requested_at) as oldest
           from replays where tenant_id = $1 and requested_at > $2"#,
        tenant_id.as_str(),
        since,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.count, row.oldest))
}

/// Marks the cancellation of a replay that has not ended as requested now; `None` when
/// it had ended, or its cancellation was asked for already.
#[tracing::instrument(skip_all)]
pub async fn request_cancel(
    conn: &mut PgConnection,
    replay_id: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at = sqlx::query_scalar!(
        r#"update replays set cancel_requested_at = now()
           where replay_id = $1 and final_progress is null and cancel_requested_at is null
           returning cancel_requested_at as "at!""#,
        replay_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(at)
}

/// Marks every replay of the config that may still run as cancelled-on-request (the
/// config is being deleted) and returns their ids, for the outbox.
#[tracing::instrument(skip_all)]
pub async fn cancel_unfinished(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
) -> Result<Vec<Uuid>, StoreError> {
    let ids = sqlx::query_scalar!(
        "update replays set cancel_requested_at = now()
         where tenant_id = $1 and delivery_type = $2 and final_progress is null
           and cancel_requested_at is null
         returning replay_id",
        tenant_id.as_str(),
        delivery_type.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

//! The queries on `notification_targets`, `failing_episodes` and `notifications`, each
//! taking the caller's connection or transaction.

use chrono::{DateTime, Utc};
use logspoke_contract::ledger::Target;
use logspoke_contract::{Cause, DeliveryType, EffectiveState, ExternalId, TenantId};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Episode, Kind, Message};
use crate::configs::config_state;
use crate::store::StoreError;
use crate::verification::VerificationStatus;

/// A tenant's notification target, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationTarget {
    /// The tenant.
    pub tenant_id: String,
    /// The SNS topic notifications are published to.
    pub topic_arn: String,
    /// The tenant's role that publishes them (assumed with the tenant's ExternalId).
    pub role_arn: String,
    /// `ok` (the last send worked), `failing` (it did not: `last_error` says why) or
    /// `untested` (nothing sent yet).
    pub state: TargetState,
    /// Why the last send failed, while it is `failing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<SendError>,
    /// When a notification last reached the topic.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last replaced.
    pub updated_at: DateTime<Utc>,
}

/// Whether notifications reach the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// The last send worked.
    Ok,
    /// The last send failed.
    Failing,
    /// Nothing was sent yet.
    Untested,
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SendError {
    /// Why, in the vocabulary of delivery health.
    pub cause: Cause,
    /// What AWS said, scrubbed of the ExternalId.
    pub message: String,
    /// What to do about it.
    pub what_to_do: String,
    /// When.
    pub at: DateTime<Utc>,
}

struct TargetRow {
    tenant_id: String,
    topic_arn: String,
    role_arn: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_sent_at: Option<DateTime<Utc>>,
    last_failed_at: Option<DateTime<Utc>>,
    last_cause: Option<String>,
    last_message: Option<String>,
}

impl TargetRow {
    fn into_target(self) -> NotificationTarget {
        let failed = match (self.last_failed_at, self.last_cause.as_deref()) {
            (Some(at), Some(cause)) if self.last_sent_at.is_none_or(|sent| at > sent) => {
                Cause::parse(cause).ok().map(|cause| SendError {
                    cause,
                    message: self.last_message.clone().unwrap_or_default(),
                    what_to_do: cause.what_to_do().to_owned(),
                    at,
                })
            }
            _ => None,
        };
        let state = match (&failed, self.last_sent_at) {
            (Some(_), _) => TargetState::Failing,
            (None, Some(_)) => TargetState::Ok,
            (None, None) => TargetState::Untested,
        };
        NotificationTarget {
            tenant_id: self.tenant_id,
            topic_arn: self.topic_arn,
            role_arn: self.role_arn,
            state,
            last_error: failed,
            last_sent_at: self.last_sent_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The tenant's notification target, locked for the transaction when `lock`.
#[tracing::instrument(skip_all)]
pub async fn fetch_target(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    lock: bool,
) -> Result<Option<NotificationTarget>, StoreError> {
    let row = if lock {
        sqlx::query_as!(
            TargetRow,
            "select tenant_id, topic_arn, role_arn, created_at, updated_at, last_sent_at, last_failed_at,
                    last_cause, last_message
             from notification_targets where tenant_id = $1 for update",
            tenant_id.as_str(),
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            TargetRow,
            "select tenant_id, topic_arn, role_arn, created_at, updated_at, last_sent_at, last_failed_at,
                    last_cause, last_message
             from notification_targets where tenant_id = $1",
            tenant_id.as_str(),
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(row.map(TargetRow::into_target))
}

/// Whether `role_arn` is the role of one of the tenant's verified delivery configs: one
/// that `verify` proved trusts the provider only with this tenant's ExternalId.
#[tracing::instrument(skip_all)]
pub async fn is_verified_role(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    role_arn: &str,
) -> Result<bool, StoreError> {
    let verified = sqlx::query_scalar!(
        "select exists (
             select 1 from delivery_configs
             where tenant_id = $1 and role_arn = $2 and verification_status = 'verified'
         ) as \"verified!\"",
        tenant_id.as_str(),
        role_arn,
    )
    .fetch_one(conn)
    .await?;
    Ok(verified)
}

/// Stores the tenant's notification target; a new topic or role starts untested.
#[tracing::instrument(skip_all)]
pub async fn upsert_target(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    topic_arn: &str,
    role_arn: &str,
) -> Result<NotificationTarget, StoreError> {
    let row = sqlx::query_as!(
        TargetRow,
        "insert into notification_targets (tenant_id, topic_arn, role_arn) values ($1, $2, $3)
         on conflict (tenant_id) do update set
             topic_arn = excluded.topic_arn, role_arn = excluded.role_arn, updated_at = now(),
             last_sent_at = null, last_failed_at = null, last_cause = null, last_message = null
         returning tenant_id, topic_arn, role_arn, created_at, updated_at, last_sent_at, last_failed_at,
                   last_cause, last_message",
        tenant_id.as_str(),
        topic_arn,
        role_arn,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.into_target())
}

/// Removes the tenant's notification target and what was still to be sent to it.
#[tracing::instrument(skip_all)]
pub async fn delete_target(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<(), StoreError> {
    sqlx::query!(
        "delete from notifications where tenant_id = $1 and sent_at is null",
        tenant_id.as_str()
    )
    .execute(&mut *conn)
    .await?;
    // Nobody is told any more: a target registered later starts without a past failure.
    sqlx::query!(
        "update failing_episodes set closed_at = now() where tenant_id = $1 and closed_at is null",
        tenant_id.as_str()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "delete from notification_targets where tenant_id = $1",
        tenant_id.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues `message` for the tenant's target (none: nothing is queued), once per
/// `episode_id` or `replay_id` and kind; true when it was queued.
#[tracing::instrument(skip_all)]
pub async fn queue(
    conn: &mut PgConnection,
    message: &Message,
    episode_id: Option<Uuid>,
    replay_id: Option<Uuid>,
) -> Result<Option<Uuid>, StoreError> {
    let body = serde_json::to_value(message).map_err(|source| StoreError::Encode {
        what: "notification",
        source,
    })?;
    let id = sqlx::query_scalar!(
        "insert into notifications (notification_id, tenant_id, kind, body, episode_id, replay_id)
         select $1, tenant_id, $3, $4, $5, $6 from notification_targets where tenant_id = $2
         on conflict do nothing
         returning notification_id",
        Uuid::now_v7(),
        message.tenant_id,
        message.kind.as_str(),
        body,
        episode_id,
        replay_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// The tenant's test notification that waits to be sent, if any (one at most).
#[tracing::instrument(skip_all)]
pub async fn waiting_test(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Option<Uuid>, StoreError> {
    let id = sqlx::query_scalar!(
        "select notification_id from notifications
         where tenant_id = $1 and kind = 'test' and sent_at is null",
        tenant_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// A target whose tenant has a notification target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The target.
    pub target: Target,
    /// Its config's effective state, the tenant's `enabled` folded in (as the read model
    /// has it): only an `active` one can be failing, the others are `paused`.
    pub state: EffectiveState,
}

/// Up to `limit` targets of tenants with a notification target, after `after`
/// (`{tenant_id}#{type}` order), each with its config's effective state.
#[tracing::instrument(skip_all)]
pub async fn watched(
    conn: &mut PgConnection,
    after: Option<&Target>,
    limit: i64,
) -> Result<Vec<Watched>, StoreError> {
    let (tenant, kind) = after.map_or(("", ""), |t| (t.tenant_id.as_str(), t.delivery_type.as_str()));
    let rows = sqlx::query!(
        "select c.tenant_id, c.delivery_type, c.enabled, t.enabled as tenant_enabled, c.verification_status
         from delivery_configs c
         join notification_targets n on n.tenant_id = c.tenant_id
         join tenants t on t.tenant_id = c.tenant_id
         where (c.tenant_id, c.delivery_type) > ($1, $2)
         order by c.tenant_id, c.delivery_type
         limit $3",
        tenant,
        kind,
        limit,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let verification = VerificationStatus::parse(&r.verification_status)
                .map_err(|e| StoreError::corrupt("verification status", e))?;
            Ok(Watched {
                target: target(&r.tenant_id, &r.delivery_type)?,
                state: config_state(r.enabled && r.tenant_enabled, verification),
            })
        })
        .collect()
}

fn target(tenant_id: &str, delivery_type: &str) -> Result<Target, StoreError> {
    let corrupt = |e: logspoke_contract::ParseError| StoreError::corrupt("watched target", e);
    Ok(Target::new(
        TenantId::parse(tenant_id).map_err(corrupt)?,
        DeliveryType::parse(delivery_type).map_err(corrupt)?,
    ))
}

/// The open episodes of `targets`.
#[tracing::instrument(skip_all)]
pub async fn open_episodes(conn: &mut PgConnection, targets: &[Target]) -> Result<Vec<Episode>, StoreError> {
    let tenants: Vec<String> = targets.iter().map(|t| t.tenant_id.to_string()).collect();
    let types: Vec<String> = targets
        .iter()
        .map(|t| t.delivery_type.as_str().to_owned())
        .collect();
    let rows = sqlx::query!(
        "select e.episode_id, e.tenant_id, e.delivery_type, e.opened_at, e.parked_max, e.expiry_warned
         from failing_episodes e
         join unnest($1::text[], $2::text[]) as w (tenant_id, delivery_type)
           on w.tenant_id = e.tenant_id and w.delivery_type = e.delivery_type
         where e.closed_at is null",
        &tenants,
        &types,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Episode {
                episode_id: r.episode_id,
                target: target(&r.tenant_id, &r.delivery_type)?,
                opened_at: r.opened_at,
                parked_max: u64::try_from(r.parked_max).unwrap_or(0),
                expiry_warned: r.expiry_warned,
            })
        })
        .collect()
}

/// A target that recovered this recently is not told it fails again until this has
/// passed (it still is, then, if it still fails): a replica whose health read is a few
/// seconds old cannot reopen what another just closed, and a flapping target does not
/// send a pair of notifications per flap.
pub const REOPEN_AFTER_MINUTES: i32 = 5;

/// Opens `target`'s episode unless one is open (another replica was first) or one closed
/// less than [`REOPEN_AFTER_MINUTES`] ago: its id.
#[tracing::instrument(skip_all)]
pub async fn open_episode(
    conn: &mut PgConnection,
    target: &Target,
    cause: Option<Cause>,
    parked: u64,
) -> Result<Option<Uuid>, StoreError> {
    let id = sqlx::query_scalar!(
        "insert into failing_episodes (episode_id, tenant_id, delivery_type, cause, parked_max)
         select $1, $2, $3, $4, $5
         where not exists (
             select 1 from failing_episodes
             where tenant_id = $2 and delivery_type = $3
               and closed_at > now() - make_interval(mins => $6)
         )
         on conflict (tenant_id, delivery_type) where closed_at is null do nothing
         returning episode_id",
        Uuid::now_v7(),
        target.tenant_id.as_str(),
        target.delivery_type.as_str(),
        cause.map(Cause::as_str),
        i64::try_from(parked).unwrap_or(i64::MAX),
        REOPEN_AFTER_MINUTES,
    )
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// Raises an open episode's parked maximum to `parked`; with `warn`, marks its expiry
/// warning decided (true only for the first to do so).
#[tracing::instrument(skip_all)]
pub async fn track_episode(
    conn: &mut PgConnection,
    episode_id: Uuid,
    parked: u64,
    warn: bool,
) -> Result<bool, StoreError> {
    let updated = sqlx::query!(
        "update failing_episodes
         set parked_max = greatest(parked_max, $2), expiry_warned = expiry_warned or $3
         where episode_id = $1 and closed_at is null and not (expiry_warned and $3)",
        episode_id,
        i64::try_from(parked).unwrap_or(i64::MAX),
        warn,
    )
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Closes an open episode; true only for the first to do so.
#[tracing::instrument(skip_all)]
pub async fn close_episode(conn: &mut PgConnection, episode_id: Uuid) -> Result<bool, StoreError> {
    let updated = sqlx::query!(
        "update failing_episodes set closed_at = now() where episode_id = $1 and closed_at is null",
        episode_id,
    )
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A notification to send, with where to.
#[derive(Debug, Clone)]
pub struct Due {
    /// Its id.
    pub notification_id: Uuid,
    /// The message.
    pub message: Message,
    /// Sends so far.
    pub attempts: i32,
    /// The topic.
    pub topic_arn: String,
    /// The role that publishes.
    pub role_arn: String,
    /// The tenant's ExternalId (none: not onboarded); its `Debug` never shows the value.
    pub external_id: Option<ExternalId>,
}

/// At most this many notifications of one tenant are claimed in one batch: a tenant whose
/// topic keeps failing (and whose rows are always due again) never fills a batch that
/// other tenants' notifications wait for.
pub const PER_TENANT_PER_BATCH: i64 = 2;

/// Claims up to `limit` notifications due now for `lease` (another replica skips them
/// until it passes, so a replica that dies mid-send leaves them to the others), at most
/// [`PER_TENANT_PER_BATCH`] of a tenant, and only of tenants that still have a target.
#[tracing::instrument(skip_all)]
pub async fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease: std::time::Duration,
) -> Result<Vec<Due>, StoreError> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let rows = sqlx::query!(
        "with ranked as (
             select n.notification_id,
                    row_number() over (partition by n.tenant_id order by n.next_attempt_at) as nth
             from notifications n
             where n.sent_at is null and n.next_attempt_at <= now()
               and exists (select 1 from notification_targets t where t.tenant_id = n.tenant_id)
         ), due as (
             select notification_id from notifications
             where notification_id in (select notification_id from ranked where nth <= $3)
               and sent_at is null and next_attempt_at <= now()
             order by next_attempt_at
             limit $1
             for update skip locked
         )
         update notifications n
         set next_attempt_at = now() + make_interval(secs => $2::bigint / 1000.0), attempts = attempts + 1
         from due, notification_targets t
         left join tenant_external_ids x on x.tenant_id = t.tenant_id
         where n.notification_id = due.notification_id and t.tenant_id = n.tenant_id
         returning n.notification_id, n.body, n.attempts, t.topic_arn, t.role_arn,
                   x.external_id as \"external_id?\"",
        limit,
        lease_ms,
        PER_TENANT_PER_BATCH,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let message =
                serde_json::from_value(r.body).map_err(|e| StoreError::corrupt("notification", e))?;
            let external_id = r
                .external_id
                .map(|x| ExternalId::parse(&x).map_err(|e| StoreError::corrupt("ExternalId", e)))
                .transpose()?;
            Ok(Due {
                notification_id: r.notification_id,
                message,
                attempts: r.attempts,
                topic_arn: r.topic_arn,
                role_arn: r.role_arn,
                external_id,
            })
        })
        .collect()
}

/// Records a send that worked.
#[tracing::instrument(skip_all)]
pub async fn mark_sent(conn: &mut PgConnection, due: &Due) -> Result<(), StoreError> {
    sqlx::query!(
        "update notifications set sent_at = now(), last_cause = null where notification_id = $1",
        due.notification_id,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update notification_targets set last_sent_at = now() where tenant_id = $1 and topic_arn = $2",
        due.message.tenant_id,
        due.topic_arn,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a send that failed for `cause`, to be tried again at `retry_at`.
#[tracing::instrument(skip_all)]
pub async fn mark_failed(
    conn: &mut PgConnection,
    due: &Due,
    cause: Cause,
    message: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "update notifications set next_attempt_at = $2, last_cause = $3 where notification_id = $1",
        due.notification_id,
        retry_at,
        cause.as_str(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update notification_targets set last_failed_at = now(), last_cause = $3, last_message = $4
         where tenant_id = $1 and topic_arn = $2",
        due.message.tenant_id,
        due.topic_arn,
        cause.as_str(),
        message,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A notification as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Notification {
    /// Its id: what a subscriber deduplicates by (the message's `notification_id`).
    pub notification_id: Uuid,
    /// What it tells.
    pub kind: Kind,
    /// The message as sent.
    pub message: Message,
    /// Decided.
    pub created_at: DateTime<Utc>,
    /// When SNS took it; `null` while it waits (see `attempts` and `last_cause`).
    pub sent_at: Option<DateTime<Utc>>,
    /// Sends tried.
    pub attempts: i32,
    /// Why the last send failed, while it waits.
    pub last_cause: Option<Cause>,
}

/// The tenant's last `limit` notifications, newest first.
#[tracing::instrument(skip_all)]
pub async fn recent(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let rows = sqlx::query!(
        "select notification_id, body, created_at, sent_at, attempts, last_cause
         from notifications where tenant_id = $1
         order by created_at desc, notification_id desc
         limit $2",
        tenant_id.as_str(),
        limit,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let message: Message =
                serde_json::from_value(r.body).map_err(|e| StoreError::corrupt("notification", e))?;
            Ok(Notification {
                notification_id: r.notification_id,
                kind: message.kind,
                message,
                created_at: r.created_at,
                sent_at: r.sent_at,
                attempts: r.attempts,
                last_cause: r.last_cause.as_deref().and_then(|c| Cause::parse(c).ok()),
            })
        })
        .collect()
}

/// Deletes notifications decided more than `days` ago (sent or, for a target that kept
/// failing that long, given up) and the closed episodes they named.
#[tracing::instrument(skip_all)]
pub async fn purge(conn: &mut PgConnection, days: i32) -> Result<u64, StoreError> {
    let sent = sqlx::query!(
        "delete from notifications where created_at < now() - make_interval(days => $1)",
        days
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "delete from failing_episodes where closed_at < now() - make_interval(days => $1)
         and not exists (select 1 from notifications n where n.episode_id = failing_episodes.episode_id)",
        days
    )
    .execute(&mut *conn)
    .await?;
    // An episode of a config deleted while failing never sees it recover: close it quietly.
    sqlx::query!(
        "update failing_episodes e set closed_at = now()
         where e.closed_at is null and not exists (
             select 1 from delivery_configs c where c.tenant_id = e.tenant_id and c.delivery_type = e.delivery_type
         )"
    )
    .execute(&mut *conn)
    .await?;
    // Rows queued while their target was being removed: nobody to send them to.
    sqlx::query!(
        "delete from notifications n where n.sent_at is null
         and not exists (select 1 from notification_targets t where t.tenant_id = n.tenant_id)"
    )
    .execute(conn)
    .await?;
    Ok(sent.rows_affected())
}

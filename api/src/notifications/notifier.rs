//! The notifier: every few seconds it reads the health of the targets whose tenant has a
//! notification target, decides what changed ([`super::decide`]) and queues it; reads the
//! replays of those tenants that have not ended, so that an end is recorded (and queued)
//! without anyone asking; and publishes what is due. Replicas share the work through
//! Postgres: one replica at a time watches and purges (an advisory lock), every replica
//! sends; an episode opens once (a unique index), a row is claimed by one replica at a
//! time (`SKIP LOCKED` and a lease longer than a batch's sends can take).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use logspoke_contract::ledger::{HealthState, Target};
use logspoke_contract::{EffectiveState, RoleArn};
use logspoke_runtime::backoff::Backoff;
use sqlx::PgConnection;
use tokio::sync::watch;

use super::publisher::{Outgoing, Publisher};
use super::repository::{self, Due, Watched};
use super::{decide, Decision, Episode, Message, NotificationTopic, Seen};
use crate::delivery_health::TargetHealth;
use crate::replays;
use crate::state::AppState;
use crate::store::StoreError;

/// Tuning of the notifier.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Time between rounds.
    pub interval: Duration,
    /// Targets read per health read (one batched read per region).
    pub page: i64,
    /// Notifications claimed per round (at most two of a tenant).
    pub batch: i64,
    /// Longest one send (AssumeRole and Publish) may take; a send cut off is retried.
    pub send_timeout: Duration,
    /// How long a claimed notification is left to its replica: longer than a batch of
    /// sends can take, so that no other replica sends it meanwhile.
    pub lease: Duration,
    /// Retry delays of a failed send (`base` doubling up to `max`, equal jitter; never
    /// given up: purged with the rest after `retention_days`).
    pub backoff: Backoff,
    /// Sent notifications and closed episodes are kept this many days.
    pub retention_days: i32,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            page: 200,
            batch: 20,
            send_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(300),
            backoff: Backoff {
                base: Duration::from_secs(10),
                max: Duration::from_secs(15 * 60),
                attempts: u32::MAX,
            },
            retention_days: 30,
        }
    }
}

/// Runs rounds until `stopped` turns true.
pub async fn run<P: Publisher>(
    state: AppState,
    publisher: P,
    settings: NotifierSettings,
    stopped: watch::Receiver<bool>,
) {
    logspoke_runtime::periodic::every(settings.interval, stopped, || async {
        if let Err(err) = round(&state, &publisher, &settings, Utc::now()).await {
            tracing::warn!(error = %err, "a notification round failed; the next one retries");
        }
    })
    .await;
}

/// The advisory lock of the replica that watches and purges this round.
const WATCH_LOCK: i64 = 0x6c6f_6773_6e6f_7469; // "logsnoti"

/// One round: decide (one replica at a time), then send.
pub async fn round<P: Publisher>(
    state: &AppState,
    publisher: &P,
    settings: &NotifierSettings,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut leader = state.db.acquire().await?;
    let leads: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(WATCH_LOCK)
        .fetch_one(&mut *leader)
        .await?;
    if leads {
        let watched = watch(state, settings, now).await;
        sqlx::query("select pg_advisory_unlock($1)")
            .bind(WATCH_LOCK)
            .execute(&mut *leader)
            .await?;
        watched?;
    }
    drop(leader);
    send_due(state, publisher, settings).await
}

/// What the replica holding the lock does: targets, replays, purge.
async fn watch(state: &AppState, settings: &NotifierSettings, now: DateTime<Utc>) -> Result<(), StoreError> {
    watch_targets(state, settings, now).await?;
    watch_replays(state, settings).await?;
    let mut conn = state.db.acquire().await?;
    repository::purge(&mut conn, settings.retention_days).await?;
    Ok(())
}

/// Reads every watched target's health, a page at a time, and applies what changed.
async fn watch_targets(
    state: &AppState,
    settings: &NotifierSettings,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let retention = TimeDelta::days(i64::from(state.replays.staging_retention_days));
    let mut after: Option<Target> = None;
    loop {
        let page = {
            let mut conn = state.db.acquire().await?;
            repository::watched(&mut conn, after.as_ref(), settings.page).await?
        };
        let Some(last) = page.last() else { return Ok(()) };
        after = Some(last.target.clone());
        let targets: Vec<Target> = page.iter().map(|w| w.target.clone()).collect();
        // The episodes before the health: health read after an episode closed can only be
        // as new as what closed it.
        let mut conn = state.db.acquire().await?;
        let open: HashMap<Target, Episode> = repository::open_episodes(&mut conn, &targets)
            .await?
            .into_iter()
            .map(|e| (e.target.clone(), e))
            .collect();
        // No region answered: nothing can be told about these targets this round.
        let Some(health) = state.health.summaries(&targets).await else {
            return Ok(());
        };
        for watched in &page {
            let episode = open.get(&watched.target);
            let mut seen = seen(watched, health.get(&watched.target), now);
            if seen.wants_oldest_parked(episode) {
                let oldest = state.health.oldest_parked(&watched.target).await;
                seen.oldest_parked_at = oldest.and_then(DateTime::from_timestamp_millis);
            }
            let decision = decide(episode, &seen, retention, now);
            apply(&mut conn, &watched.target, episode, &seen, decision, now).await?;
        }
        if i64::try_from(page.len()).unwrap_or(i64::MAX) < settings.page {
            return Ok(());
        }
    }
}

/// What the ledgers say of a watched target (nothing recorded: idle, every region read).
fn seen(watched: &Watched, health: Option<&TargetHealth>, now: DateTime<Utc>) -> Seen {
    let Some(health) = health else {
        return Seen {
            state: if watched.state == EffectiveState::Active {
                HealthState::Idle
            } else {
                HealthState::Paused
            },
            parked: 0,
            cause: None,
            complete: false,
            oldest_parked_at: None,
        };
    };
    let merged = health.merged();
    Seen {
        state: health.state(watched.state, now.timestamp_millis()),
        parked: merged.parked_objects,
        cause: merged
            .parked_cause
            .or_else(|| merged.last_error.as_ref().map(|e| e.cause)),
        complete: health.unreadable.is_empty(),
        oldest_parked_at: None,
    }
}

/// Applies one decision; its notification in the same transaction.
async fn apply(
    conn: &mut PgConnection,
    target: &Target,
    episode: Option<&Episode>,
    seen: &Seen,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sqlx::Acquire;
    // Most targets, most rounds: no transaction at all.
    if decision == Decision::Nothing {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    match (decision, episode) {
        (Decision::Open, _) => {
            if let Some(id) = repository::open_episode(&mut tx, target, seen.cause, seen.parked).await? {
                let message = Message::failing(target, seen.cause, seen.parked, now);
                repository::queue(&mut tx, &message, Some(id), None).await?;
                tracing::info!(tenant_id = %target.tenant_id, delivery_type = target.delivery_type.as_str(), "target failing: notification queued");
            }
        }
        (Decision::Track { parked_max }, Some(e)) => {
            repository::track_episode(&mut tx, e.episode_id, parked_max, false).await?;
        }
        (Decision::WarnExpiry { expires_at }, Some(e)) => {
            if repository::track_episode(&mut tx, e.episode_id, seen.parked, true).await? {
                let message = Message::expiring(target, seen.cause, seen.parked, expires_at, now);
                repository::queue(&mut tx, &message, Some(e.episode_id), None).await?;
            }
        }
        (Decision::Close { drained }, Some(e)) => {
            if repository::close_episode(&mut tx, e.episode_id).await? {
                let message = Message::recovered(target, drained, now);
                repository::queue(&mut tx, &message, Some(e.episode_id), None).await?;
                tracing::info!(tenant_id = %target.tenant_id, delivery_type = target.delivery_type.as_str(), "target recovered: notification queued");
            }
        }
        // Nothing, or a decision about an episode that is not open (decide makes none).
        (_, _) => return Ok(()),
    }
    tx.commit().await?;
    Ok(())
}

/// Reads the unfinished replays of tenants with a notification target from the ledgers,
/// a page at a time, which records (and queues) the ends (`routes::replays::documents`).
async fn watch_replays(state: &AppState, settings: &NotifierSettings) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let open = {
            let mut conn = state.db.acquire().await?;
            replays::repository::unfinished_notified(&mut conn, after, settings.page).await?
        };
        let Some(last) = open.last() else { return Ok(()) };
        after = Some(last.replay_id);
        if let Err(err) = crate::routes::replays::documents(state, &open).await {
            tracing::warn!(error = %err, "could not read replay progress for notifications");
            return Ok(());
        }
        if i64::try_from(open.len()).unwrap_or(i64::MAX) < settings.page {
            return Ok(());
        }
    }
}

/// Publishes what is due; a failure is recorded on the notification and its target and
/// retried with backoff.
async fn send_due<P: Publisher>(
    state: &AppState,
    publisher: &P,
    settings: &NotifierSettings,
) -> Result<(), StoreError> {
    let due = {
        let mut conn = state.db.acquire().await?;
        repository::claim_due(&mut conn, settings.batch, settings.lease).await?
    };
    for notification in due {
        let outcome = tokio::time::timeout(settings.send_timeout, send(publisher, &notification))
            .await
            .unwrap_or_else(|_| {
                let cause = logspoke_contract::Cause::AwsUnavailable;
                Err((cause, "AWS did not answer in time".to_owned()))
            });
        let mut conn = state.db.acquire().await?;
        match outcome {
            Ok(()) => repository::mark_sent(&mut conn, &notification).await?,
            Err((cause, message)) => {
                let attempt = u32::try_from(notification.attempts).unwrap_or(1);
                let delay = settings.backoff.equal_jitter(attempt);
                let retry_at = Utc::now() + TimeDelta::from_std(delay).unwrap_or(TimeDelta::minutes(15));
                tracing::warn!(tenant_id = %notification.message.tenant_id, notification_id = %notification.notification_id, cause = cause.as_str(), "a notification could not be published; it is retried");
                repository::mark_failed(&mut conn, &notification, cause, &message, retry_at).await?;
            }
        }
    }
    Ok(())
}

/// Publishes one notification: the cause and a scrubbed message when it fails.
async fn send<P: Publisher>(publisher: &P, due: &Due) -> Result<(), (logspoke_contract::Cause, String)> {
    use logspoke_contract::Cause;
    let Some(external_id) = &due.external_id else {
        return Err((
            Cause::OnboardingRequired,
            "the tenant has no ExternalId yet".into(),
        ));
    };
    let stored = |what: &str| (Cause::PermissionDenied, format!("the stored {what} is invalid"));
    let role = RoleArn::parse(&due.role_arn).map_err(|_| stored("role ARN"))?;
    let topic = NotificationTopic::parse(&due.topic_arn).map_err(|_| stored("topic ARN"))?;
    let mut body = serde_json::to_value(&due.message).map_err(|e| (Cause::AwsUnavailable, e.to_string()))?;
    body["notification_id"] = serde_json::json!(due.notification_id);
    let body = body.to_string();
    let outgoing = Outgoing {
        notification_id: due.notification_id,
        tenant_id: &due.message.tenant_id,
        kind: due.message.kind.as_str(),
        subject: &due.message.subject(),
        body: &body,
    };
    publisher
        .publish(&role, external_id, &topic, outgoing)
        .await
        .map_err(|e| (e.cause(), e.error.describe(Some(external_id.as_str()))))
}

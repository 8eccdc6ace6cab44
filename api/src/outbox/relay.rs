//! The outbox relay: drains `config_outbox` into the read model and the change topic,
//! and replay jobs into the delivery ledger.
//!
//! Safe with several api replicas: each batch claims, with `FOR UPDATE SKIP LOCKED`, only
//! the *oldest* unsent row of each config, so rows of one config are published in version
//! order and never by two relays at once. Replay rows wait for every earlier row of
//! their config; config rows wait only for earlier config rows, so a ledger that refuses
//! replay jobs never holds back a config change. For each claimed row: a conditional write of
//! the item (an older version never overwrites a newer one; a replay is a no-op), then
//! the event, then the row is marked sent. A failure leaves the row, retried with
//! jittered exponential backoff; nothing is dropped. A relay wakes on `NOTIFY
//! config_outbox` and also polls, so a change is published within a second.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use logspoke_contract::{
    Attributes, ChangeKind, ConfigChanged, DeliveryType, TenantId, EVENT_SCHEMA_VERSION,
};
use logspoke_runtime::backoff::Backoff;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;

use super::sink::ReadModelSink;

/// Tuning of a relay.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Longest wait between scans when no notification arrives.
    pub poll_interval: Duration,
    /// Rows claimed per batch (at most one per config).
    pub batch_size: i64,
    /// Rows of one batch published concurrently (they belong to different configs).
    pub concurrency: usize,
    /// First retry delay after a failure; doubles per attempt.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Sent rows older than this are deleted.
    pub retention: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            batch_size: 200,
            concurrency: 16,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// One claimed outbox row.
struct Row {
    id: i64,
    tenant_id: String,
    delivery_type: String,
    version: i64,
    change: String,
    item: serde_json::Value,
    created_at: DateTime<Utc>,
    attempts: i32,
}

/// What happened to one row.
enum Relayed {
    Sent(i64),
    Failed { id: i64, attempts: i32, error: String },
}

/// Runs the relay until `shutdown` turns true.
pub async fn run<S: ReadModelSink>(
    db: PgPool,
    sink: S,
    settings: RelaySettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = listen(&db).await;
    let mut last_prune = std::time::Instant::now();
    while !*shutdown.borrow() {
        match drain(&db, &sink, &settings).await {
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "outbox relay could not read the outbox; retrying"),
        }
        record_depth(&db).await;
        if last_prune.elapsed() > Duration::from_secs(3600) {
            prune(&db, settings.retention).await;
            last_prune = std::time::Instant::now();
        }
        wait(&mut listener, &db, settings.poll_interval, &mut shutdown).await;
    }
    tracing::info!("outbox relay stopped");
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(db).await.ok()?;
    listener.listen("config_outbox").await.ok()?;
    Some(listener)
}

/// Sleeps until a notification, the poll interval, or shutdown.
async fn wait(
    listener: &mut Option<PgListener>,
    db: &PgPool,
    poll: Duration,
    shutdown: &mut watch::Receiver<bool>,
) {
    let notified = async {
        match listener.as_mut() {
            Some(l) => {
                if l.recv().await.is_err() {
                    tokio::time::sleep(poll).await;
                }
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = notified => {}
        () = tokio::time::sleep(poll) => {}
        _ = shutdown.changed() => {}
    }
    if listener.is_none() {
        *listener = listen(db).await;
    }
}

/// Publishes batches until nothing is ready; returns how many rows were sent.
pub async fn drain<S: ReadModelSink>(
    db: &PgPool,
    sink: &S,
    settings: &RelaySettings,
) -> Result<usize, sqlx::Error> {
    let mut sent = 0;
    loop {
        let (claimed, published) = relay_batch(db, sink, settings).await?;
        sent += published;
        if claimed == 0 || published == 0 {
            return Ok(sent);
        }
    }
}

/// Claims and publishes one batch; returns (claimed, sent).
async fn relay_batch<S: ReadModelSink>(
    db: &PgPool,
    sink: &S,
    settings: &RelaySettings,
) -> Result<(usize, usize), sqlx::Error> {
    let mut tx = db.begin().await?;
    let rows = sqlx::query_as!(
        Row,
        "select id, tenant_id, delivery_type, version, change, item, created_at, attempts
         from config_outbox o
         where sent_at is null and next_attempt_at <= now()
           and not exists (
               select 1 from config_outbox earlier
               where earlier.tenant_id = o.tenant_id and earlier.delivery_type = o.delivery_type
                 and earlier.sent_at is null and earlier.id < o.id
                 -- A config change never waits behind a replay row (a ledger that refuses
                 -- replay jobs must not hold back a disable); replay rows wait for all.
                 and (o.change in ('replay_requested', 'replay_cancelled')
                      or earlier.change in ('upserted', 'deleted')))
         order by id
         limit $1
         for update skip locked",
        settings.batch_size,
    )
    .fetch_all(&mut *tx)
    .await?;
    let claimed = rows.len();
    let outcomes: Vec<Relayed> = stream::iter(rows)
        .map(|row| publish(sink, row))
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    let sent = record_outcomes(&mut tx, outcomes, settings).await?;
    tx.commit().await?;
    Ok((claimed, sent))
}

async fn publish<S: ReadModelSink>(sink: &S, row: Row) -> Relayed {
    let failed = |stage: &str, error: String| {
        metrics::counter!("logspoke_outbox_publish_errors_total", "stage" => stage.to_owned()).increment(1);
        Relayed::Failed {
            id: row.id,
            attempts: row.attempts,
            error,
        }
    };
    let publication = match decode(&row) {
        Ok(decoded) => decoded,
        Err(error) => return failed("decode", error),
    };
    let (stage, result) = match publication {
        Publication::Config { item, event } => match sink.write(&item, row.version).await {
            Ok(_) => ("event", sink.publish(&event).await),
            Err(err) => ("read_model", Err(err)),
        },
        Publication::ReplayRequested(job) => ("replay", sink.create_replay(&job).await),
        Publication::ReplayCancelled(key) => ("replay", sink.cancel_replay(&key).await),
    };
    if let Err(err) = result {
        return failed(stage, err.describe(None));
    }
    let lag = (Utc::now() - row.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    metrics::histogram!("logspoke_outbox_publish_lag_seconds").record(lag);
    metrics::counter!("logspoke_outbox_published_total").increment(1);
    Relayed::Sent(row.id)
}

/// What one outbox row publishes.
enum Publication {
    /// A config's read-model item, then its change event.
    Config { item: Attributes, event: ConfigChanged },
    /// A replay job item to create.
    ReplayRequested(Attributes),
    /// The key of a replay job to mark cancelled.
    ReplayCancelled(Attributes),
}

fn decode(row: &Row) -> Result<Publication, String> {
    let item: Attributes =
        serde_json::from_value(row.item.clone()).map_err(|e| format!("stored item: {e}"))?;
    match row.change.as_str() {
        super::REPLAY_REQUESTED => return Ok(Publication::ReplayRequested(item)),
        super::REPLAY_CANCELLED => return Ok(Publication::ReplayCancelled(item)),
        _ => {}
    }
    let event = ConfigChanged {
        schema_version: EVENT_SCHEMA_VERSION,
        tenant_id: TenantId::parse(&row.tenant_id).map_err(|e| e.to_string())?,
        delivery_type: DeliveryType::parse(&row.delivery_type).map_err(|e| e.to_string())?,
        version: row.version,
        change: ChangeKind::parse(&row.change).map_err(|e| e.to_string())?,
        occurred_at: row
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    Ok(Publication::Config { item, event })
}

async fn record_outcomes(
    conn: &mut sqlx::PgConnection,
    outcomes: Vec<Relayed>,
    settings: &RelaySettings,
) -> Result<usize, sqlx::Error> {
    let mut sent = Vec::new();
    for outcome in outcomes {
        match outcome {
            Relayed::Sent(id) => sent.push(id),
            Relayed::Failed { id, attempts, error } => {
                let delay = backoff(attempts, settings);
                tracing::warn!(outbox_id = id, attempts = attempts + 1, retry_in_ms = delay.as_millis() as u64, error = %error, "publishing a config change failed; will retry");
                sqlx::query!(
                    "update config_outbox set attempts = attempts + 1, last_error = $2,
                         next_attempt_at = now() + make_interval(secs => $3)
                     where id = $1",
                    id,
                    error,
                    delay.as_secs_f64(),
                )
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    if !sent.is_empty() {
        sqlx::query!(
            "update config_outbox set sent_at = now() where id = any($1)",
            &sent
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(sent.len())
}

/// How long a row waits after its `attempts`-th failed attempt (0-based): the shared
/// backoff's bound from `base_backoff`, doubling up to `max_backoff`, with equal jitter
/// (at least half of it), so failing rows back off for sure yet spread out.
pub fn backoff(attempts: i32, settings: &RelaySettings) -> Duration {
    let backoff = Backoff {
        base: settings.base_backoff,
        max: settings.max_backoff,
        attempts: u32::MAX,
    };
    let retry = u32::try_from(attempts.max(0)).unwrap_or(0).saturating_add(1);
    backoff.equal_jitter(retry)
}

async fn record_depth(db: &PgPool) {
    let depth = sqlx::query!(
        r#"select count(*) as "depth!", extract(epoch from now() - min(created_at))::float8 as "oldest_seconds"
           from config_outbox where sent_at is null"#
    )
    .fetch_one(db)
    .await;
    if let Ok(depth) = depth {
        metrics::gauge!("logspoke_outbox_depth").set(depth.depth as f64);
        metrics::gauge!("logspoke_outbox_oldest_unsent_seconds").set(depth.oldest_seconds.unwrap_or(0.0));
    }
}

async fn prune(db: &PgPool, retention: Duration) {
    let pruned = sqlx::query!(
        "delete from config_outbox where sent_at < now() - make_interval(secs => $1)",
        retention.as_secs_f64()
    )
    .execute(db)
    .await;
    if let Ok(done) = pruned {
        tracing::debug!(rows = done.rows_affected(), "pruned sent outbox rows");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let settings = RelaySettings {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            ..RelaySettings::default()
        };
        for attempts in 0..30 {
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << attempts.min(16))
                .min(Duration::from_secs(5));
            for _ in 0..20 {
                let delay = backoff(attempts, &settings);
                assert!(delay >= ceiling / 2 && delay <= ceiling, "{attempts}: {delay:?}");
            }
        }
        assert!(backoff(30, &settings) <= Duration::from_secs(5));
    }
}

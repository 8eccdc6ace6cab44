//! Publishing config changes: every write transaction enqueues the new read-model item
//! of each config it touched ([`enqueue`]); the [`relay`] drains the outbox into the
//! DynamoDB read model and the config-changes topic, in version order per config.
//! Replay jobs and their cancellations travel the same way, in order with the config's
//! changes ([`enqueue_replay`], [`enqueue_replay_cancel`]), into the delivery ledger.

pub mod relay;
pub mod sink;

use logspoke_contract::replay::ReplayJob;
use logspoke_contract::{
    Attributes, ChangeKind, ClusterId, ConfigItem, DeliveryType, EffectiveState, ExternalId, LiveConfig,
    TenantId,
};
use sqlx::PgConnection;

use crate::configs::{self, Config};
use crate::store::StoreError;

/// What the read-model item takes from the tenant rather than the config.
struct TenantPart {
    enabled: bool,
    external_id: Option<String>,
    clusters: Vec<String>,
}

/// Enqueues the read-model item of (tenant, type) as it stands in this transaction: the
/// live item at the config's version, or a tombstone at a fresh version when the config
/// (or its tenant) no longer exists.
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
) -> Result<(), StoreError> {
    let config = configs::repository::fetch(conn, tenant_id, delivery_type, false).await?;
    enqueue_state(conn, tenant_id, delivery_type, config.as_ref()).await
}

/// As [`enqueue`], for a writer that holds the config as this transaction left it
/// (`None`: deleted), so it is not read again.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, delivery_type = delivery_type.as_str()))]
pub async fn enqueue_state(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
    config: Option<&Config>,
) -> Result<(), StoreError> {
    // The item says when the config last changed, so a resync republishes it unchanged.
    let (version, delivery_version, updated_at, config) = match config {
        Some(config) => {
            let tenant = tenant_part(conn, tenant_id).await?;
            let live = live(config, tenant)?;
            (
                config.version,
                config.delivery_version,
                config.updated_at,
                Some(live),
            )
        }
        None => {
            let version = next_version(conn).await?;
            (version, version, chrono::Utc::now(), None)
        }
    };
    let item = ConfigItem {
        tenant_id: tenant_id.clone(),
        delivery_type,
        version,
        delivery_version,
        config,
        updated_at: updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    insert(conn, &item).await
}

#[tracing::instrument(skip_all)]
async fn tenant_part(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<TenantPart, StoreError> {
    let part = sqlx::query_as!(
        TenantPart,
        r#"select t.enabled, e.external_id as "external_id?",
                  array(select k.cluster_id from tenant_clusters k where k.tenant_id = t.tenant_id
                        order by k.cluster_id) as "clusters!"
           from tenants t
           left join tenant_external_ids e on e.tenant_id = t.tenant_id
           where t.tenant_id = $1"#,
        tenant_id.as_str(),
    )
    .fetch_one(conn)
    .await?;
    Ok(part)
}

/// Enqueues every config that exists, at its current version (`resync`). Items the read
/// model already holds at that version are left as they are.
pub async fn enqueue_everything(db: &sqlx::PgPool) -> Result<usize, StoreError> {
    let mut tx = db.begin().await?;
    let configs = sqlx::query!(
        "select tenant_id, delivery_type from delivery_configs order by tenant_id, delivery_type"
    )
    .fetch_all(&mut *tx)
    .await?;
    for config in &configs {
        let tenant_id =
            TenantId::parse(&config.tenant_id).map_err(|e| StoreError::corrupt("tenant id", e))?;
        enqueue(&mut tx, &tenant_id, parse_type(&config.delivery_type)?).await?;
    }
    tx.commit().await?;
    Ok(configs.len())
}

/// Gives every config of the tenant a new version and enqueues its item: after a change
/// that alters all of them (the tenant's `enabled`, its registered clusters). A new
/// version is needed because the read model keeps only strictly newer items. With
/// `delivery_changed` (the tenant's `enabled`) it is also each config's delivery version;
/// a cluster registration does not change how a target is delivered to.
pub async fn republish_tenant(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_changed: bool,
) -> Result<(), StoreError> {
    let types = bump_config_versions(conn, tenant_id, delivery_changed).await?;
    enqueue_all(conn, tenant_id, &types).await
}

#[tracing::instrument(skip_all)]
async fn bump_config_versions(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_changed: bool,
) -> Result<Vec<DeliveryType>, StoreError> {
    let types = sqlx::query_scalar!(
        "update delivery_configs c
         set version = next.version, updated_at = now(),
             delivery_version = case when $2 then next.version else c.delivery_version end
         from (select delivery_type, nextval('change_version_seq') as version
               from delivery_configs where tenant_id = $1) next
         where c.tenant_id = $1 and c.delivery_type = next.delivery_type
         returning c.delivery_type",
        tenant_id.as_str(),
        delivery_changed,
    )
    .fetch_all(conn)
    .await?;
    types.iter().map(|raw| parse_type(raw)).collect()
}

/// Enqueues every config of a tenant (after a change that affects all of them).
pub async fn enqueue_all(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    types: &[DeliveryType],
) -> Result<(), StoreError> {
    for delivery_type in types {
        enqueue(conn, tenant_id, *delivery_type).await?;
    }
    Ok(())
}

fn parse_type(raw: &str) -> Result<DeliveryType, StoreError> {
    DeliveryType::parse(raw).map_err(|e| StoreError::corrupt("delivery type", e))
}

async fn next_version(conn: &mut PgConnection) -> Result<i64, StoreError> {
    let version = sqlx::query_scalar!(r#"select nextval('change_version_seq') as "version!""#)
        .fetch_one(conn)
        .await?;
    Ok(version)
}

/// The live item of a stored config: the tenant's `enabled` folds into the state.
fn live(config: &Config, tenant: TenantPart) -> Result<LiveConfig, StoreError> {
    let state = if tenant.enabled {
        config.state()
    } else {
        EffectiveState::Disabled
    };
    let settings = config.settings.clone();
    Ok(LiveConfig {
        state,
        target_region: settings.target_region,
        role_arn: settings.role_arn,
        external_id: tenant
            .external_id
            .as_deref()
            .map(ExternalId::parse)
            .transpose()
            .map_err(|e| StoreError::corrupt("ExternalId", e))?,
        desired_logs: settings.desired_logs,
        target: settings.target,
        clusters: tenant
            .clusters
            .iter()
            .map(|c| ClusterId::parse(c))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::corrupt("cluster id", e))?,
        filter: settings.filter,
        message_format: settings.message_format,
        key_layout: settings.key_layout,
        storage_class: settings.storage_class,
        kms_key_arn: settings.kms_key_arn,
    })
}

async fn insert(conn: &mut PgConnection, item: &ConfigItem) -> Result<(), StoreError> {
    let change = if item.config.is_some() {
        ChangeKind::Upserted
    } else {
        ChangeKind::Deleted
    };
    let row = OutboxRow {
        tenant_id: &item.tenant_id,
        delivery_type: item.delivery_type,
        version: item.version,
        change: change.as_str(),
        item: item.to_attributes(),
    };
    insert_row(conn, row).await
}

/// The outbox `change` of a replay job to create in the ledger.
pub const REPLAY_REQUESTED: &str = "replay_requested";
/// The outbox `change` of a replay job to mark cancelled.
pub const REPLAY_CANCELLED: &str = "replay_cancelled";

/// Enqueues a new replay job: the relay creates its item in the delivery ledger (once),
/// after every change of the config enqueued before it.
pub async fn enqueue_replay(conn: &mut PgConnection, job: &ReplayJob) -> Result<(), StoreError> {
    let version = next_version(conn).await?;
    let row = OutboxRow {
        tenant_id: &job.target.tenant_id,
        delivery_type: job.target.delivery_type,
        version,
        change: REPLAY_REQUESTED,
        item: job.to_attributes(),
    };
    insert_row(conn, row).await
}

/// Enqueues the cancellation of a replay job: the relay sets `cancelled` on its item.
pub async fn enqueue_replay_cancel(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
    replay_id: &str,
) -> Result<(), StoreError> {
    let version = next_version(conn).await?;
    let row = OutboxRow {
        tenant_id,
        delivery_type,
        version,
        change: REPLAY_CANCELLED,
        item: ReplayJob::key_of(replay_id),
    };
    insert_row(conn, row).await
}

/// One row to enqueue.
struct OutboxRow<'a> {
    tenant_id: &'a TenantId,
    delivery_type: DeliveryType,
    version: i64,
    change: &'static str,
    item: Attributes,
}

async fn insert_row(conn: &mut PgConnection, row: OutboxRow<'_>) -> Result<(), StoreError> {
    let attributes = serde_json::to_value(row.item).map_err(|source| StoreError::Encode {
        what: "outbox item",
        source,
    })?;
    sqlx::query!(
        "insert into config_outbox (tenant_id, delivery_type, version, change, item) values ($1, $2, $3, $4, $5)",
        row.tenant_id.as_str(),
        row.delivery_type.as_str(),
        row.version,
        row.change,
        attributes,
    )
    .execute(conn)
    .await?;
    Ok(())
}

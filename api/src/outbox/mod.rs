//! Publishing config changes: every write transaction enqueues the new read-model item
//! of each config it touched ([`enqueue`]); the [`relay`] drains the outbox into the
//! DynamoDB read model and the config-changes topic, in version order per config.

pub mod relay;
pub mod sink;

use logspoke_contract::{
    BucketName, BucketPrefix, ClusterId, ConfigItem, DeliveryTarget, DeliveryType, DesiredLogs,
    EffectiveState, ExternalId, LiveConfig, LogGroupName, LogStreamTemplate, Region, RoleArn, TenantId,
};
use sqlx::PgConnection;

use crate::error::ApiError;
use crate::routes::delivery_configs::config_state;
use crate::verification::VerificationStatus;

/// The current state of one config, joined with its tenant and ExternalId.
struct Current {
    enabled: bool,
    tenant_enabled: bool,
    verification_status: String,
    target_region: String,
    role_arn: String,
    external_id: Option<String>,
    desired_logs: Vec<String>,
    log_group_name: Option<String>,
    log_stream_template: Option<String>,
    bucket_name: Option<String>,
    bucket_prefix: Option<String>,
    version: i64,
    updated_at: chrono::DateTime<chrono::Utc>,
    clusters: Vec<String>,
}

/// Enqueues the read-model item of (tenant, type) as it stands in this transaction: the
/// live item at the config's version, or a tombstone at a fresh version when the config
/// (or its tenant) no longer exists.
#[tracing::instrument(skip_all, fields(tenant_id, delivery_type = delivery_type.as_str()))]
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: &str,
    delivery_type: DeliveryType,
) -> Result<(), ApiError> {
    let current = sqlx::query_as!(
        Current,
        r#"select c.enabled, t.enabled as tenant_enabled, c.verification_status, c.target_region, c.role_arn,
                  e.external_id as "external_id?", c.desired_logs, c.log_group_name, c.log_stream_template,
                  c.bucket_name, c.bucket_prefix, c.version, c.updated_at,
                  array(select k.cluster_id from tenant_clusters k where k.tenant_id = c.tenant_id
                        order by k.cluster_id) as "clusters!"
           from delivery_configs c
           join tenants t on t.tenant_id = c.tenant_id
           left join tenant_external_ids e on e.tenant_id = c.tenant_id
           where c.tenant_id = $1 and c.delivery_type = $2"#,
        tenant_id,
        delivery_type.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let tenant = TenantId::parse(tenant_id).map_err(|_| invalid("tenant id"))?;
    // The item says when the config last changed, so a resync republishes it unchanged.
    let (version, updated_at, config) = match current {
        Some(current) => (current.version, current.updated_at, Some(live(current)?)),
        None => (next_version(conn).await?, chrono::Utc::now(), None),
    };
    let item = ConfigItem {
        tenant_id: tenant,
        delivery_type,
        version,
        config,
        updated_at: updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    insert(conn, &item).await
}

/// Enqueues every config that exists, at its current version (`resync`). Items the read
/// model already holds at that version are left as they are.
pub async fn enqueue_everything(db: &sqlx::PgPool) -> Result<usize, ApiError> {
    let mut tx = db.begin().await?;
    let configs = sqlx::query!(
        "select tenant_id, delivery_type from delivery_configs order by tenant_id, delivery_type"
    )
    .fetch_all(&mut *tx)
    .await?;
    for config in &configs {
        let delivery_type =
            DeliveryType::parse(&config.delivery_type).map_err(|_| invalid("delivery type"))?;
        enqueue(&mut tx, &config.tenant_id, delivery_type).await?;
    }
    tx.commit().await?;
    Ok(configs.len())
}

/// Gives every config of the tenant a new version and enqueues its item: after a change
/// that alters all of them (the tenant's `enabled`, its registered clusters). A new
/// version is needed because the read model keeps only strictly newer items.
pub async fn republish_tenant(conn: &mut PgConnection, tenant_id: &str) -> Result<(), ApiError> {
    let types = bump_config_versions(conn, tenant_id).await?;
    enqueue_all(conn, tenant_id, &types).await
}

#[tracing::instrument(skip_all)]
async fn bump_config_versions(conn: &mut PgConnection, tenant_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "update delivery_configs set version = nextval('change_version_seq'), updated_at = now()
         where tenant_id = $1 returning delivery_type",
        tenant_id
    )
    .fetch_all(conn)
    .await
}

/// Enqueues every config of a tenant (after a change that affects all of them).
pub async fn enqueue_all(conn: &mut PgConnection, tenant_id: &str, types: &[String]) -> Result<(), ApiError> {
    for raw in types {
        let delivery_type = DeliveryType::parse(raw).map_err(|_| invalid("delivery type"))?;
        enqueue(conn, tenant_id, delivery_type).await?;
    }
    Ok(())
}

fn invalid(what: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("stored {what} is invalid"))
}

async fn next_version(conn: &mut PgConnection) -> Result<i64, ApiError> {
    let version = sqlx::query_scalar!(r#"select nextval('change_version_seq') as "version!""#)
        .fetch_one(conn)
        .await?;
    Ok(version)
}

fn live(c: Current) -> Result<LiveConfig, ApiError> {
    let own = config_state(c.enabled, VerificationStatus::from_db(&c.verification_status));
    let state = if c.tenant_enabled {
        own
    } else {
        EffectiveState::Disabled
    };
    let target = match (c.log_group_name, c.bucket_name) {
        (Some(group), _) => DeliveryTarget::CloudWatch {
            log_group_name: LogGroupName::parse(&group).map_err(|_| invalid("log group"))?,
            log_stream_template: c
                .log_stream_template
                .as_deref()
                .map(LogStreamTemplate::parse)
                .transpose()
                .map_err(|_| invalid("stream template"))?,
        },
        (None, Some(bucket)) => DeliveryTarget::S3 {
            bucket_name: BucketName::parse(&bucket).map_err(|_| invalid("bucket"))?,
            bucket_prefix: BucketPrefix::parse(c.bucket_prefix.as_deref().unwrap_or(""))
                .map_err(|_| invalid("bucket prefix"))?,
        },
        (None, None) => return Err(invalid("target")),
    };
    Ok(LiveConfig {
        state,
        target_region: Region::parse(&c.target_region).map_err(|_| invalid("region"))?,
        role_arn: RoleArn::parse(&c.role_arn).map_err(|_| invalid("role ARN"))?,
        external_id: c
            .external_id
            .as_deref()
            .map(ExternalId::parse)
            .transpose()
            .map_err(|_| invalid("ExternalId"))?,
        desired_logs: DesiredLogs::parse(&c.desired_logs).map_err(|_| invalid("desired logs"))?,
        target,
        clusters: c
            .clusters
            .iter()
            .map(|c| ClusterId::parse(c))
            .collect::<Result<_, _>>()
            .map_err(|_| invalid("cluster id"))?,
    })
}

async fn insert(conn: &mut PgConnection, item: &ConfigItem) -> Result<(), ApiError> {
    let change = if item.config.is_some() {
        "upserted"
    } else {
        "deleted"
    };
    let attributes = serde_json::to_value(item.to_attributes()).map_err(anyhow::Error::from)?;
    sqlx::query!(
        "insert into config_outbox (tenant_id, delivery_type, version, change, item) values ($1, $2, $3, $4, $5)",
        item.tenant_id.as_str(),
        item.delivery_type.as_str(),
        item.version,
        change,
        attributes,
    )
    .execute(conn)
    .await?;
    Ok(())
}

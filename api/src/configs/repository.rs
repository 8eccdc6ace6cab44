//! Every query on `delivery_configs`, each taking the caller's connection or
//! transaction and returning typed [`Config`]s.
//!
//! Each query reads or returns the whole row (`*`) into [`ConfigRow`], whose fields are
//! the column list, said once: `query_as!` checks at compile time that the row's
//! columns and the struct's fields match one to one (by name, type and nullability),
//! so a column added to the table fails the build until [`ConfigRow`] carries it,
//! rather than being left out of some queries.

use logspoke_contract::{DeliveryType, TenantId};
use sqlx::PgConnection;

use super::row::ConfigRow;
use super::{Config, Settings};
use crate::store::StoreError;
use crate::verification::{Check, VerificationStatus};

fn typed(rows: Vec<ConfigRow>) -> Result<Vec<Config>, StoreError> {
    rows.into_iter().map(Config::try_from).collect()
}

/// Reads one config, locking its row for the transaction when `lock` is set.
#[tracing::instrument(skip_all)]
pub async fn fetch(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
    lock: bool,
) -> Result<Option<Config>, StoreError> {
    let (tenant_id, ty) = (tenant_id.as_str(), delivery_type.as_str());
    let row = if lock {
        sqlx::query_as!(
            ConfigRow,
            "select * from delivery_configs where tenant_id = $1 and delivery_type = $2 for update",
            tenant_id,
            ty
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            ConfigRow,
            "select * from delivery_configs where tenant_id = $1 and delivery_type = $2",
            tenant_id,
            ty
        )
        .fetch_optional(conn)
        .await?
    };
    row.map(Config::try_from).transpose()
}

/// Every config of a tenant, ordered by type.
#[tracing::instrument(skip_all)]
pub async fn list(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Vec<Config>, StoreError> {
    let rows = sqlx::query_as!(
        ConfigRow,
        "select * from delivery_configs where tenant_id = $1 order by delivery_type",
        tenant_id.as_str()
    )
    .fetch_all(conn)
    .await?;
    typed(rows)
}

/// The configs of these (tenant, type) pairs that exist, in one query, in no particular
/// order (the operators' health list looks up a page of targets at once).
#[tracing::instrument(skip_all, fields(configs = targets.len()))]
pub async fn fetch_many(
    conn: &mut PgConnection,
    targets: &[(TenantId, DeliveryType)],
) -> Result<Vec<Config>, StoreError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: Vec<String> = targets.iter().map(|(t, _)| t.as_str().to_owned()).collect();
    let types: Vec<String> = targets.iter().map(|(_, d)| d.as_str().to_owned()).collect();
    let rows = sqlx::query_as!(
        ConfigRow,
        "select c.*
         from delivery_configs c
         join unnest($1::text[], $2::text[]) as wanted(tenant_id, delivery_type)
           on wanted.tenant_id = c.tenant_id and wanted.delivery_type = c.delivery_type",
        &tenants,
        &types,
    )
    .fetch_all(conn)
    .await?;
    typed(rows)
}

/// Inserts or replaces the config of the settings' type; every write takes a fresh
/// version. With `reset_verification` the config returns to unverified (its role,
/// region or destination changed); with `delivery_changed` the new version is also its
/// delivery version (see [`Settings::matters_for_delivery`]).
#[tracing::instrument(skip_all)]
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    settings: &Settings,
    reset_verification: bool,
    delivery_changed: bool,
) -> Result<Config, StoreError> {
    let target = settings.target.columns();
    let desired_logs = settings.desired_logs.to_strings();
    let filter = (!settings.filter.is_empty())
        .then(|| serde_json::to_value(&settings.filter))
        .transpose()
        .map_err(|source| StoreError::Encode {
            what: "filter",
            source,
        })?;
    let message_fields = settings.message_format.field_names();
    let row = sqlx::query_as!(
        ConfigRow,
        "with next as (select nextval('change_version_seq') as version)
         insert into delivery_configs (tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                                       log_group_name, log_stream_template, bucket_name, bucket_prefix,
                                       version, delivery_version, filter, message_format, message_fields,
                                       key_layout, storage_class, kms_key_arn)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (select version from next), (select version from next),
                 $13, $14, $15, $16, $17, $18)
         on conflict (tenant_id, delivery_type) do update set
             enabled = excluded.enabled, target_region = excluded.target_region, role_arn = excluded.role_arn,
             desired_logs = excluded.desired_logs, log_group_name = excluded.log_group_name,
             log_stream_template = excluded.log_stream_template, bucket_name = excluded.bucket_name,
             bucket_prefix = excluded.bucket_prefix, version = excluded.version, updated_at = now(),
             filter = excluded.filter, message_format = excluded.message_format,
             message_fields = excluded.message_fields, key_layout = excluded.key_layout,
             storage_class = excluded.storage_class, kms_key_arn = excluded.kms_key_arn,
             delivery_version = case when $12 then excluded.version else delivery_configs.delivery_version end,
             verification_status = case when $11 then 'unverified' else delivery_configs.verification_status end,
             verification_checked_at = case when $11 then null else delivery_configs.verification_checked_at end,
             verification_checks = case when $11 then '[]'::jsonb else delivery_configs.verification_checks end
         returning *",
        tenant_id.as_str(),
        settings.target.delivery_type().as_str(),
        settings.enabled,
        settings.target_region.as_str(),
        settings.role_arn.as_str(),
        &desired_logs,
        target.log_group_name,
        target.log_stream_template,
        target.bucket_name,
        target.bucket_prefix,
        reset_verification,
        delivery_changed,
        filter,
        settings.message_format.as_str(),
        message_fields.as_deref(),
        settings.key_layout.as_str(),
        settings.storage_class.map(|c| c.as_str()),
        settings.kms_key_arn.as_ref().map(|k| k.as_str()),
    )
    .fetch_one(conn)
    .await?;
    Config::try_from(row)
}

/// Deletes one config (the caller has read and locked it).
#[tracing::instrument(skip_all)]
pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    delivery_type: DeliveryType,
) -> Result<(), StoreError> {
    sqlx::query!(
        "delete from delivery_configs where tenant_id = $1 and delivery_type = $2",
        tenant_id.as_str(),
        delivery_type.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes every config of a tenant (part of deleting the tenant) and returns them.
#[tracing::instrument(skip_all)]
pub async fn delete_all(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Vec<Config>, StoreError> {
    let rows = sqlx::query_as!(
        ConfigRow,
        "delete from delivery_configs where tenant_id = $1 returning *",
        tenant_id.as_str()
    )
    .fetch_all(conn)
    .await?;
    typed(rows)
}

/// Stores a verification result on the config, only if it is still at the version
/// that was verified; `None` when it changed meanwhile. A verification matters for
/// delivery: the new version is also the delivery version.
#[tracing::instrument(skip_all)]
pub async fn store_verification(
    conn: &mut PgConnection,
    verified: &Config,
    status: VerificationStatus,
    checks: &[Check],
) -> Result<Option<Config>, StoreError> {
    let checks = serde_json::to_value(checks).map_err(|source| StoreError::Encode {
        what: "verification checks",
        source,
    })?;
    let row = sqlx::query_as!(
        ConfigRow,
        "update delivery_configs c
         set verification_status = $4, verification_checked_at = now(), verification_checks = $5,
             version = next.version, delivery_version = next.version, updated_at = now()
         from (select nextval('change_version_seq') as version) next
         where c.tenant_id = $1 and c.delivery_type = $2 and c.version = $3
         returning c.*",
        verified.tenant_id.as_str(),
        verified.delivery_type().as_str(),
        verified.version,
        status.as_str(),
        checks,
    )
    .fetch_optional(conn)
    .await?;
    row.map(Config::try_from).transpose()
}

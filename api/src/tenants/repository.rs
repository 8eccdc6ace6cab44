//! The queries on `tenants` and `retired_tenant_ids`, each taking the caller's
//! connection or transaction.

use chrono::{DateTime, Utc};
use logspoke_contract::TenantId;
use sqlx::PgConnection;

use super::{NewTenant, Tenant};
use crate::store::StoreError;

/// Reads a tenant, locking its row for the rest of the transaction when `lock` is set
/// (every write that publishes the tenant's configs locks it first).
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn fetch(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    lock: bool,
) -> Result<Option<Tenant>, StoreError> {
    let tenant_id = tenant_id.as_str();
    let tenant = if lock {
        sqlx::query_as!(
            Tenant,
            "select tenant_id, display_name, enabled, version, created_at, updated_at
             from tenants where tenant_id = $1 for update",
            tenant_id
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            Tenant,
            "select tenant_id, display_name, enabled, version, created_at, updated_at
             from tenants where tenant_id = $1",
            tenant_id
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(tenant)
}

/// Up to `limit` tenants ordered by id, those after `after` when it is given (a page of
/// the operators' list).
#[tracing::instrument(skip_all)]
pub async fn page(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Tenant>, StoreError> {
    let tenants = sqlx::query_as!(
        Tenant,
        "select tenant_id, display_name, enabled, version, created_at, updated_at
         from tenants where ($1::text is null or tenant_id > $1)
         order by tenant_id limit $2",
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(tenants)
}

/// When `tenant_id` was deleted, if it ever was: such an id is never created again.
#[tracing::instrument(skip_all)]
pub async fn retired_at(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let retired_at = sqlx::query_scalar!(
        "select retired_at from retired_tenant_ids where tenant_id = $1",
        tenant_id.as_str()
    )
    .fetch_optional(conn)
    .await?;
    Ok(retired_at)
}

/// Inserts a tenant; an id that exists fails as a unique violation.
#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut PgConnection, new: &NewTenant) -> Result<Tenant, StoreError> {
    let tenant = sqlx::query_as!(
        Tenant,
        "insert into tenants (tenant_id, display_name, enabled) values ($1, $2, $3)
         returning tenant_id, display_name, enabled, version, created_at, updated_at",
        new.tenant_id.as_str(),
        new.display_name,
        new.enabled,
    )
    .fetch_one(conn)
    .await?;
    Ok(tenant)
}

/// Stores a tenant's changeable fields under a fresh version (the caller has read and
/// locked it).
#[tracing::instrument(skip_all)]
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    display_name: Option<String>,
    enabled: bool,
) -> Result<Tenant, StoreError> {
    let tenant = sqlx::query_as!(
        Tenant,
        "update tenants set display_name = $2, enabled = $3,
             version = nextval('change_version_seq'), updated_at = now()
         where tenant_id = $1
         returning tenant_id, display_name, enabled, version, created_at, updated_at",
        tenant_id.as_str(),
        display_name,
        enabled,
    )
    .fetch_one(conn)
    .await?;
    Ok(tenant)
}

/// Deletes a tenant's row (its configs are deleted first, each audited and published)
/// and retires its id: a tenant id names one customer forever.
#[tracing::instrument(skip_all)]
pub async fn delete_and_retire(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<(), StoreError> {
    sqlx::query!("delete from tenants where tenant_id = $1", tenant_id.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "insert into retired_tenant_ids (tenant_id) values ($1) on conflict do nothing",
        tenant_id.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

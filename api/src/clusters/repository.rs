//! The queries on `tenant_clusters`, each taking the caller's connection or transaction.

use logspoke_contract::{ClusterId, TenantId};
use sqlx::PgConnection;

use super::Cluster;
use crate::store::StoreError;

/// Every cluster registered for a tenant, ordered by cluster id.
#[tracing::instrument(skip_all)]
pub async fn list(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Vec<Cluster>, StoreError> {
    let clusters = sqlx::query_as!(
        Cluster,
        "select tenant_id, cluster_id, display_name, created_at, updated_at
         from tenant_clusters where tenant_id = $1 order by cluster_id",
        tenant_id.as_str()
    )
    .fetch_all(conn)
    .await?;
    Ok(clusters)
}

/// Reads one registration, locking it for the rest of the transaction.
#[tracing::instrument(skip_all)]
pub async fn fetch_for_update(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    cluster_id: &ClusterId,
) -> Result<Option<Cluster>, StoreError> {
    let cluster = sqlx::query_as!(
        Cluster,
        "select tenant_id, cluster_id, display_name, created_at, updated_at
         from tenant_clusters where tenant_id = $1 and cluster_id = $2 for update",
        tenant_id.as_str(),
        cluster_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(cluster)
}

/// Registers a cluster for a tenant, or replaces the display name of its registration.
#[tracing::instrument(skip_all)]
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    cluster_id: &ClusterId,
    display_name: Option<String>,
) -> Result<Cluster, StoreError> {
    let cluster = sqlx::query_as!(
        Cluster,
        "insert into tenant_clusters (tenant_id, cluster_id, display_name) values ($1, $2, $3)
         on conflict (tenant_id, cluster_id)
         do update set display_name = excluded.display_name, updated_at = now()
         returning tenant_id, cluster_id, display_name, created_at, updated_at",
        tenant_id.as_str(),
        cluster_id.as_str(),
        display_name,
    )
    .fetch_one(conn)
    .await?;
    Ok(cluster)
}

/// Deregisters a cluster (the caller has read and locked the registration).
#[tracing::instrument(skip_all)]
pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    cluster_id: &ClusterId,
) -> Result<(), StoreError> {
    sqlx::query!(
        "delete from tenant_clusters where tenant_id = $1 and cluster_id = $2",
        tenant_id.as_str(),
        cluster_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

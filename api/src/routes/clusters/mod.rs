//! Clusters: the collected Kubernetes/OpenShift clusters that may stage logs for a
//! tenant. The worker delivers an object only when the `{tenant_id}/{cluster_id}` of its
//! key is registered here, so a pod that labels itself (or its namespace) with another
//! tenant's id in a cluster that tenant never registered reaches nobody.
//!
//! A registration change gives every config of the tenant a new version and publishes
//! it: the read-model items carry the tenant's cluster list.

pub mod delete;
pub mod list;
pub mod put;

use chrono::{DateTime, Utc};
use logspoke_contract::{ClusterId, TenantId};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::error::ApiError;

/// A registered cluster as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cluster {
    /// The owning tenant.
    #[schema(example = "acme")]
    pub tenant_id: String,
    /// The cluster's id: the second segment of every key its collector stages.
    #[schema(example = "prod-eu-1")]
    pub cluster_id: String,
    /// Human-readable name.
    #[schema(example = "Production, Frankfurt")]
    pub display_name: Option<String>,
    /// When the cluster was registered for the tenant.
    pub created_at: DateTime<Utc>,
    /// When the registration last changed.
    pub updated_at: DateTime<Utc>,
}

impl Cluster {
    /// The document recorded in the audit log.
    pub fn audit_document(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Location of a cluster registration.
pub fn location(tenant_id: &str, cluster_id: &ClusterId) -> String {
    format!("/v1/tenants/{tenant_id}/clusters/{cluster_id}")
}

/// Parses the `{cluster_id}` path segment.
pub fn parse_cluster_id(raw: &str) -> Result<ClusterId, ApiError> {
    ClusterId::parse(raw).map_err(|e| ApiError::field("cluster_id", e.to_string()))
}

/// Reads one registration, locking it for the rest of the transaction.
#[tracing::instrument(skip_all)]
pub async fn fetch_for_update(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    cluster_id: &ClusterId,
) -> Result<Option<Cluster>, sqlx::Error> {
    sqlx::query_as!(
        Cluster,
        "select tenant_id, cluster_id, display_name, created_at, updated_at
         from tenant_clusters where tenant_id = $1 and cluster_id = $2 for update",
        tenant_id.as_str(),
        cluster_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

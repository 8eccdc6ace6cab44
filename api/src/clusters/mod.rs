//! Clusters: the collected Kubernetes/OpenShift clusters registered to stage logs for a
//! tenant (the worker delivers only objects of registered `{tenant_id}/{cluster_id}`
//! pairs; the read-model items carry each tenant's list).
//!
//! - this module: a registration as stored and shown;
//! - [`repository`]: the queries on `tenant_clusters` the routes make (the outbox reads
//!   the list it publishes itself).

pub mod repository;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

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

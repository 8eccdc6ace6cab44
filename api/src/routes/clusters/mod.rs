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

use logspoke_contract::ClusterId;

use crate::error::ApiError;

/// Location of a cluster registration.
pub fn location(tenant_id: &str, cluster_id: &ClusterId) -> String {
    format!("/v1/tenants/{tenant_id}/clusters/{cluster_id}")
}

/// Parses the `{cluster_id}` path segment.
pub fn parse_cluster_id(raw: &str) -> Result<ClusterId, ApiError> {
    ClusterId::parse(raw).map_err(|e| ApiError::field("cluster_id", e.to_string()))
}

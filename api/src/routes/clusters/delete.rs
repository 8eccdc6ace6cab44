//! `DELETE /v1/tenants/{tenant_id}/clusters/{cluster_id}`

use axum::extract::State;
use axum::http::StatusCode;

use super::parse_cluster_id;
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::clusters::{repository, Cluster};
use crate::error::{ApiError, Problem};
use crate::outbox;
use crate::paths::ClusterPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Deregister a cluster
///
/// Operators only. Objects the cluster stages for the tenant from then on are rejected
/// by the workers (`unregistered_cluster`) and never delivered.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant_id}/clusters/{cluster_id}",
    tag = "clusters",
    params(
        ClusterPath,
    ),
    responses(
        (status = 204, description = "Deregistered"),
        (status = 404, description = "No such tenant or registration", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cluster id", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, cluster_id = %raw_cluster))]
pub async fn delete_cluster(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    ClusterPath {
        tenant_id,
        cluster_id: raw_cluster,
    }: ClusterPath,
) -> Result<StatusCode, ApiError> {
    principal.require_operator()?;
    let cluster_id = parse_cluster_id(&raw_cluster)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    // Locked like every write that publishes the tenant's configs, so that a config
    // created meanwhile is published with the cluster list as it ends up.
    tenants::require(write.conn(), &tenant_id, true).await?;
    let Some(before) = repository::fetch_for_update(write.conn(), &tenant_id, &cluster_id).await? else {
        return Err(ApiError::NotFound(format!(
            "cluster '{cluster_id}' is not registered for tenant '{tenant_id}'"
        )));
    };
    repository::delete(write.conn(), &tenant_id, &cluster_id).await?;
    let old = Some(Cluster::audit_document(&before));
    write.audit(&tenant_id, "cluster.deregistered", old, None).await?;
    outbox::republish_tenant(write.conn(), &tenant_id, false).await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, cluster_id = %cluster_id, "cluster deregistered");
    Ok(StatusCode::NO_CONTENT)
}

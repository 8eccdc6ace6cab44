//! `PUT /v1/tenants/{tenant_id}/clusters/{cluster_id}`

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use logspoke_contract::ClusterId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{location, parse_cluster_id};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::clusters::{repository, Cluster};
use crate::error::{ApiError, Problem};
use crate::extract::parse_optional_object;
use crate::outbox;
use crate::paths::ClusterPath;
use crate::routes::tenants::{self, parse_display_name};
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Body of a cluster registration (optional).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCluster {
    /// Human-readable name: 1–200 characters, not only spaces, no control characters.
    #[schema(schema_with = crate::openapi::fields::display_name)]
    pub display_name: Option<String>,
}

/// Register a cluster for a tenant
///
/// Operators only. From then on, objects staged by this cluster under the tenant's
/// prefix are delivered to the tenant's active configs (within about two seconds, when
/// the change reaches the workers). Objects that arrived before, and were rejected as
/// `unregistered_cluster`, are not delivered retroactively. Registering again replaces
/// the display name.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant_id}/clusters/{cluster_id}",
    tag = "clusters",
    params(
        ClusterPath,
    ),
    request_body(content = Option<RegisterCluster>, description = "Optional display name"),
    responses(
        (status = 201, description = "Registered", body = Cluster,
            headers(("Location" = String, description = "URL of the registration"))),
        (status = 200, description = "Already registered; display name replaced", body = Cluster),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cluster id or body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, cluster_id = %raw_cluster))]
pub async fn put_cluster(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    ClusterPath {
        tenant_id,
        cluster_id: raw_cluster,
    }: ClusterPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require_operator()?;
    let cluster_id = parse_cluster_id(&raw_cluster)?;
    let display_name = parse_body(&body)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    tenants::require(write.conn(), &tenant_id, true).await?;
    let before = repository::fetch_for_update(write.conn(), &tenant_id, &cluster_id).await?;
    let stored = repository::upsert(write.conn(), &tenant_id, &cluster_id, display_name).await?;
    let action = if before.is_some() {
        "cluster.updated"
    } else {
        "cluster.registered"
    };
    let old = before.as_ref().map(Cluster::audit_document);
    write
        .audit(&tenant_id, action, old, Some(stored.audit_document()))
        .await?;
    if before.is_none() {
        outbox::republish_tenant(write.conn(), &tenant_id, false).await?;
    }
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, cluster_id = %cluster_id, "cluster registered");
    Ok(respond(stored, before.is_none(), &cluster_id))
}

fn parse_body(body: &[u8]) -> Result<Option<String>, ApiError> {
    let request: RegisterCluster = parse_optional_object(body)?;
    parse_display_name(request.display_name).map_err(|e| ApiError::field("display_name", e))
}

fn respond(cluster: Cluster, created: bool, cluster_id: &ClusterId) -> Response {
    if created {
        let location = location(&cluster.tenant_id, cluster_id);
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            axum::Json(cluster),
        )
            .into_response()
    } else {
        axum::Json(cluster).into_response()
    }
}

//! `POST /v1/tenants/{tenant_id}/onboarding/rotate-external-id`

use axum::extract::State;
use axum::Json;
use logspoke_contract::{DeliveryType, TenantId};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::audit::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::onboarding::external_id;
use crate::outbox;
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::store::StoreError;
use crate::unit_of_work::WriteTx;

/// The result of a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotation {
    /// The tenant.
    pub tenant_id: String,
    /// The new ExternalId; the customer must update the stack with it.
    pub external_id: String,
    /// Config types reset to unverified (no delivery until verified again).
    pub configs_reset: Vec<DeliveryType>,
}

/// Rotate the tenant's ExternalId
///
/// Operators only. Issues a new ExternalId and marks every config of the tenant
/// unverified: delivery stops until the customer updates the stack and the configs are
/// verified again.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/onboarding/rotate-external-id",
    tag = "onboarding",
    params(TenantPath),
    responses(
        (status = 200, description = "The new ExternalId", body = Rotation),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn rotate_external_id(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
) -> Result<Json<Rotation>, ApiError> {
    principal.require_operator()?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    tenants::require(write.conn(), &tenant_id, true).await?;
    let fresh = external_id::rotate(write.conn(), &tenant_id).await?;
    let configs_reset = reset_verification(write.conn(), &tenant_id).await?;
    let after =
        serde_json::json!({"external_id": "rotated (value not recorded)", "configs_reset": configs_reset});
    write
        .audit(&tenant_id, "tenant.external_id_rotated", None, Some(after))
        .await?;
    outbox::enqueue_all(write.conn(), &tenant_id, &configs_reset).await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, configs_reset = configs_reset.len(), "ExternalId rotated");
    Ok(Json(Rotation {
        tenant_id: tenant_id.to_string(),
        external_id: fresh.to_string(),
        configs_reset,
    }))
}

#[tracing::instrument(skip_all)]
async fn reset_verification(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> Result<Vec<DeliveryType>, StoreError> {
    let types = sqlx::query_scalar!(
        "update delivery_configs c
         set verification_status = 'unverified', verification_checked_at = null, verification_checks = '[]',
             version = next.version, delivery_version = next.version, updated_at = now()
         from (select delivery_type, nextval('change_version_seq') as version
               from delivery_configs where tenant_id = $1) next
         where c.tenant_id = $1 and c.delivery_type = next.delivery_type
         returning c.delivery_type",
        tenant_id.as_str()
    )
    .fetch_all(conn)
    .await?;
    types
        .iter()
        .map(|raw| DeliveryType::parse(raw).map_err(|e| StoreError::corrupt("delivery type", e)))
        .collect()
}

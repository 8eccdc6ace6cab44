//! `GET /v1/tenants/{tenant_id}/delivery-configs/{type}/health`

use axum::extract::State;
use axum::Json;
use logspoke_contract::ledger::Target;

use super::not_found;
use crate::auth::Principal;
use crate::configs::repository;
use crate::error::{ApiError, Problem};
use crate::paths::ConfigPath;
use crate::routes::delivery_health::DeliveryHealth;
use crate::state::AppState;

/// Read a delivery config's health
///
/// Whether the config's target receives its logs, as the workers last recorded it: the
/// state, the last delivery and its lag, the last error with its cause (the
/// `Cause` schema says what to do about each), the objects parked until the
/// target works again, and what was delivered in the last hour and day. A target
/// nothing was recorded for yet is `idle` (`paused` when the config is not `active`)
/// with zeros. Each api replica reads a target's health at most once every 5 seconds and
/// answers from that read meanwhile (the workers record it every 10 seconds).
///
/// Every provider region's workers record their own deliveries: the top-level fields
/// combine the regions (failing anywhere is `failing`), `regions` has each region's
/// own. A region whose ledger cannot be read is named in `unreadable_regions` and left
/// out; only when no region can be read is the answer 503.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}/health",
    tag = "delivery-health",
    params(ConfigPath),
    responses(
        (status = 200, description = "The target's delivery health", body = DeliveryHealth),
        (status = 404, description = "No such tenant, type or config", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No region's delivery ledger could be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn get_delivery_health(
    State(state): State<AppState>,
    principal: Principal,
    path: ConfigPath,
) -> Result<Json<DeliveryHealth>, ApiError> {
    principal.require_tenant_access(&path.tenant_id)?;
    let mut conn = state.db.acquire().await?;
    let config = repository::fetch(&mut conn, &path.tenant_id, path.delivery_type, false)
        .await?
        .ok_or_else(|| not_found(&path.tenant_id, path.delivery_type))?;
    // No pool connection is held while DynamoDB is read.
    drop(conn);
    let target = Target::new(path.tenant_id, path.delivery_type);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let health = state.health.target(&target, now_ms).await?;
    Ok(Json(DeliveryHealth::new(&health, config.state(), now_ms)))
}

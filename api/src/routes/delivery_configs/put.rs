//! `PUT /v1/tenants/{tenant_id}/delivery-configs/{type}`

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use logspoke_contract::TenantId;

use super::{location, with_health, DeliveryConfigInput};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::document::DeliveryConfig;
use crate::configs::{repository, Config, Settings};
use crate::error::{ApiError, Problem};
use crate::etag::{check_if_match, etag};
use crate::extract::JsonBody;
use crate::paths::ConfigPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Create or replace a delivery config
///
/// 201 when created, 200 when replaced. Honours `If-Match` (412 when stale; `*` requires
/// an existing config).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant_id}/delivery-configs/{type}",
    tag = "delivery-configs",
    params(
        ConfigPath,
        ("If-Match" = Option<String>, Header, description = "ETag the replacement is based on"),
    ),
    request_body = DeliveryConfigInput,
    responses(
        (status = 200, description = "Replaced", body = DeliveryConfig, headers(("ETag" = String))),
        (status = 201, description = "Created", body = DeliveryConfig,
            headers(("ETag" = String), ("Location" = String))),
        (status = 404, description = "No such tenant or type", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %path.tenant_id, delivery_type = path.delivery_type.as_str()))]
pub async fn put_delivery_config(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    path: ConfigPath,
    headers: HeaderMap,
    JsonBody(body): JsonBody<DeliveryConfigInput>,
) -> Result<Response, ApiError> {
    let ConfigPath {
        tenant_id,
        delivery_type,
    } = path;
    principal.require_tenant_access(&tenant_id)?;
    let settings = body.parse(delivery_type, &state.onboarding.provider_role_arn)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    // Locked: a concurrent cluster change republishes every config of the tenant, and
    // must see (or wait for) this one.
    tenants::require(write.conn(), &tenant_id, true).await?;
    let current = repository::fetch(write.conn(), &tenant_id, delivery_type, true).await?;
    check_if_match(&headers, current.as_ref().map(|c| c.version))?;
    let action = if current.is_some() {
        "delivery_config.replaced"
    } else {
        "delivery_config.created"
    };
    store(&state, write, &tenant_id, &settings, current.as_ref(), action).await
}

/// Where PUT and PATCH both end, once the settings are valid and the current config is
/// read, locked and matched against `If-Match`: stores the settings (back to unverified
/// when the role, region or destination changes), audits and publishes the change,
/// commits, and answers with the stored config. Settings equal to the stored ones change
/// nothing: no version, audit row or published event, and the same ETag.
pub async fn store(
    state: &AppState,
    mut write: WriteTx<'_>,
    tenant_id: &TenantId,
    settings: &Settings,
    current: Option<&Config>,
    action: &'static str,
) -> Result<Response, ApiError> {
    if let Some(unchanged) = current.filter(|c| c.settings == *settings) {
        drop(write);
        metrics::counter!("logspoke_api_unchanged_writes_total").increment(1);
        return Ok(respond(state, unchanged, false).await);
    }
    let reset = current.is_none_or(|c| settings.changes_target_of(&c.settings));
    let delivery_changed = settings.matters_for_delivery(current.map(|c| &c.settings));
    let stored = repository::upsert(write.conn(), tenant_id, settings, reset, delivery_changed).await?;
    let delivery_type = stored.delivery_type();
    write
        .config_changed(tenant_id, delivery_type, action, current, Some(&stored))
        .await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, delivery_type = delivery_type.as_str(), action, "delivery config written");
    Ok(respond(state, &stored, current.is_none()).await)
}

/// The config's document with its health summary: 201 with `Location` for a creation,
/// 200 otherwise; both carry the ETag.
pub async fn respond(state: &AppState, config: &Config, created: bool) -> Response {
    let tag = etag(config.version);
    let document = with_health(state, std::slice::from_ref(config))
        .await
        .pop()
        .unwrap_or_else(|| DeliveryConfig::from(config));
    let body = axum::Json(document);
    if created {
        let loc = location(&config.tenant_id, config.delivery_type());
        (
            StatusCode::CREATED,
            [(header::ETAG, tag), (header::LOCATION, loc)],
            body,
        )
            .into_response()
    } else {
        ([(header::ETAG, tag)], body).into_response()
    }
}

//! `PATCH /v1/tenants/{tenant_id}`

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{not_found, parse_display_name};
use crate::audit::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::etag::{check_if_match, etag};
use crate::extract::{merge_patch, parse_value, require_known_fields, require_object, JsonBody};
use crate::outbox;
use crate::paths::TenantPath;
use crate::state::AppState;
use crate::tenants::{repository, Tenant};
use crate::unit_of_work::WriteTx;

/// The changeable fields of a tenant, as a JSON merge patch (RFC 7396).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// New display name (as for creation); `null` clears it.
    #[schema(schema_with = crate::openapi::fields::display_name)]
    pub display_name: Option<String>,
    /// Enable or disable delivery for the whole tenant.
    pub enabled: Option<bool>,
}

/// Change a tenant
///
/// Operators only. A JSON merge patch of `display_name` and `enabled`; honours `If-Match`.
#[utoipa::path(
    patch,
    path = "/v1/tenants/{tenant_id}",
    tag = "tenants",
    params(
        TenantPath,
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on"),
    ),
    request_body(content = UpdateTenant, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed tenant", body = Tenant, headers(("ETag" = String))),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The ETag in If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn update_tenant(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Response, ApiError> {
    principal.require_operator()?;
    require_object(&patch)?;
    require_known_fields(&patch, &["display_name", "enabled"])?;
    // Field types first: a 422 is what a client can act on, whatever the state (404, 412).
    let _: UpdateTenant = parse_value(&patch)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    let Some(current) = repository::fetch(write.conn(), &tenant_id, true).await? else {
        check_if_match(&headers, None)?;
        return Err(not_found(&tenant_id));
    };
    // As for PUT, an invalid body is refused (422) before the precondition (412).
    let (display_name, enabled) = patched_fields(&current, &patch)?;
    check_if_match(&headers, Some(current.version))?;
    if display_name == current.display_name && enabled == current.enabled {
        return Ok(respond(current));
    }
    let updated = repository::update(write.conn(), &tenant_id, display_name, enabled).await?;
    let (before, after) = (current.audit_document(), updated.audit_document());
    write
        .audit(&tenant_id, "tenant.updated", Some(before), Some(after))
        .await?;
    if enabled != current.enabled {
        // Every config's effective state follows the tenant: new versions for the read model.
        outbox::republish_tenant(write.conn(), &tenant_id, true).await?;
    }
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, enabled, "tenant updated");
    Ok(respond(updated))
}

fn patched_fields(current: &Tenant, patch: &Value) -> Result<(Option<String>, bool), ApiError> {
    let mut document = serde_json::to_value(UpdateTenant {
        display_name: current.display_name.clone(),
        enabled: Some(current.enabled),
    })
    .map_err(anyhow::Error::from)?;
    merge_patch(&mut document, patch);
    let merged: UpdateTenant = parse_value(&document)?;
    let display_name =
        parse_display_name(merged.display_name).map_err(|e| ApiError::field("display_name", e))?;
    Ok((display_name, merged.enabled.unwrap_or(current.enabled)))
}

fn respond(tenant: Tenant) -> Response {
    ([(header::ETAG, etag(tenant.version))], axum::Json(tenant)).into_response()
}

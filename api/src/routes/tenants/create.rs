//! `POST /v1/tenants`

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use logspoke_contract::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{location, parse_display_name};
use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::error::{ApiError, FieldError, Problem};
use crate::etag::etag;
use crate::extract::JsonBody;
use crate::idempotency::{self, IdempotencyKey, StoredResponse};
use crate::state::AppState;
use crate::tenants::{repository, NewTenant, Tenant};

/// Body of `POST /v1/tenants`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`; it becomes an S3 key segment.
    #[schema(schema_with = crate::openapi::fields::tenant_id)]
    pub tenant_id: String,
    /// Human-readable name: 1–200 characters, not only spaces, no control characters.
    #[schema(schema_with = crate::openapi::fields::display_name)]
    pub display_name: Option<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

impl CreateTenant {
    fn parse(&self) -> Result<NewTenant, ApiError> {
        let mut errors = Vec::new();
        let tenant_id = TenantId::parse(&self.tenant_id)
            .map_err(|e| errors.push(FieldError::new("tenant_id", e.to_string())))
            .ok();
        let display_name = parse_display_name(self.display_name.clone())
            .map_err(|e| errors.push(FieldError::new("display_name", e)))
            .ok()
            .flatten();
        match tenant_id {
            Some(tenant_id) if errors.is_empty() => Ok(NewTenant {
                tenant_id,
                display_name,
                enabled: self.enabled.unwrap_or(true),
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Create a tenant
///
/// Operators only. With an `Idempotency-Key`, a retry with the same body returns the
/// first response (marked `Idempotent-Replayed: true`).
#[utoipa::path(
    post,
    path = "/v1/tenants",
    tag = "tenants",
    request_body = CreateTenant,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key and body → same response, for 24 h.", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 201, description = "Created", body = Tenant,
            headers(("Location" = String, description = "URL of the tenant"), ("ETag" = String))),
        (status = 409, description = "The tenant already exists, or its id was used by a deleted tenant (ids are never reused)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn create_tenant(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<Response, ApiError> {
    principal.require_operator()?;
    let new = body.parse()?;
    let key = IdempotencyKey::from_headers(&headers)?;
    let hash = idempotency::request_hash(&body);
    let mut conn = state.db.acquire().await?;
    if let Some(key) = &key {
        if let Some(replayed) = idempotency::replay(&mut conn, &principal.subject, key, &hash).await? {
            return Ok(replayed);
        }
    }
    let actor = Actor {
        principal: &principal,
        request_id: &request_id,
    };
    match create(&mut conn, actor, &new, key.as_ref(), &hash).await {
        Ok(tenant) => Ok(created(tenant)),
        // A concurrent retry with the same key committed first: answer as it did.
        Err(ApiError::Conflict(detail)) => match &key {
            Some(key) => idempotency::replay(&mut conn, &principal.subject, key, &hash)
                .await?
                .ok_or(ApiError::Conflict(detail)),
            None => Err(ApiError::Conflict(detail)),
        },
        Err(err) => Err(err),
    }
}

async fn create(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    new: &NewTenant,
    key: Option<&IdempotencyKey>,
    hash: &str,
) -> Result<Tenant, ApiError> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    if let Some(retired_at) = repository::retired_at(&mut tx, &new.tenant_id).await? {
        return Err(ApiError::Conflict(format!(
            "tenant id '{}' was used before (deleted {}); a tenant id names one customer forever, \
             choose another",
            new.tenant_id,
            retired_at.format("%Y-%m-%d")
        )));
    }
    let tenant = repository::insert(&mut tx, new)
        .await
        .map_err(|err| match ApiError::from(err) {
            ApiError::Conflict(_) => ApiError::Conflict(format!("tenant '{}' already exists", new.tenant_id)),
            other => other,
        })?;
    // Again after the insert: a deletion of the same id that committed while the insert
    // waited on it retired the id after the first check looked.
    if repository::retired_at(&mut tx, &new.tenant_id).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "tenant id '{}' was used before; a tenant id names one customer forever, choose another",
            new.tenant_id
        )));
    }
    let change = Change {
        tenant_id: &new.tenant_id,
        action: "tenant.created",
        delivery_type: None,
        before: None,
        after: Some(tenant.audit_document()),
    };
    audit::record(&mut tx, actor, change).await?;
    if let Some(key) = key {
        let stored = StoredResponse {
            status: StatusCode::CREATED.as_u16(),
            body: tenant.audit_document(),
            location: Some(location(&tenant.tenant_id)),
        };
        idempotency::store(&mut tx, &actor.principal.subject, key, hash, &stored).await?;
    }
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.tenant_id, actor = %actor.principal.subject, "tenant created");
    Ok(tenant)
}

fn created(tenant: Tenant) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, location(&tenant.tenant_id)),
            (header::ETAG, etag(tenant.version)),
        ],
        axum::Json(tenant),
    )
        .into_response()
}

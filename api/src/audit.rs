//! The audit log: who changed what, when, with the document before and after. Rows are
//! written in the same transaction as the change they describe.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use logspoke_contract::{DeliveryType, TenantId};
use serde_json::Value;
use sqlx::PgConnection;

use crate::auth::Principal;

/// The request ids of a change: the server's own (set by the request-id layer for every
/// request: a client's `x-request-id` never becomes it) and the one the client sent, kept
/// apart and labelled as the client's so a change can be traced to both logs.
#[derive(Debug, Clone, Default)]
pub struct RequestId {
    /// The server's id of the request (its `x-request-id` in the api's logs and answer).
    pub server: Option<String>,
    /// The `x-request-id` the client sent, as sent (printable, at most 200 bytes).
    pub client: Option<String>,
}

/// The `x-request-id` a client sent, taken off the request before the server sets its
/// own (see [`take_client_request_id`]).
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Longest client request id kept.
const CLIENT_REQUEST_ID_BYTES: usize = 200;

/// Moves the client's `x-request-id` into a [`ClientRequestId`] extension, so the
/// request-id layer always sets the server's own; an id that is not printable ASCII or is
/// longer than 200 bytes is dropped.
pub async fn take_client_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(value) = request.headers_mut().remove("x-request-id") {
        let printable = value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= CLIENT_REQUEST_ID_BYTES)
            .filter(|v| v.bytes().all(|b| b.is_ascii_graphic()));
        if let Some(id) = printable {
            let id = ClientRequestId(id.to_owned());
            request.extensions_mut().insert(id);
        }
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let server = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let client = parts.extensions.get::<ClientRequestId>().map(|c| c.0.clone());
        Ok(Self { server, client })
    }
}

/// Who made a change, and under which request.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The authenticated principal.
    pub principal: &'a Principal,
    /// The request that made the change.
    pub request_id: &'a RequestId,
}

/// One change to record.
#[derive(Debug)]
pub struct Change<'a> {
    /// Tenant the change belongs to.
    pub tenant_id: &'a TenantId,
    /// What happened, e.g. `tenant.created` or `delivery_config.replaced`.
    pub action: &'static str,
    /// The config type, for config changes.
    pub delivery_type: Option<DeliveryType>,
    /// The resource before the change (`None` for a creation).
    pub before: Option<Value>,
    /// The resource after the change (`None` for a deletion).
    pub after: Option<Value>,
}

/// Inserts one audit row inside the caller's transaction.
#[tracing::instrument(skip_all, fields(tenant_id = %change.tenant_id, action = change.action))]
pub async fn record(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    change: Change<'_>,
) -> Result<(), sqlx::Error> {
    let role = match actor.principal.role() {
        crate::auth::Role::Operator => "operator",
        crate::auth::Role::Tenant => "tenant",
    };
    sqlx::query!(
        r#"insert into audit_events (tenant_id, actor, actor_role, action, delivery_type, before, after, request_id,
                                    client_request_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
        change.tenant_id.as_str(),
        actor.principal.subject,
        role,
        change.action,
        change.delivery_type.map(DeliveryType::as_str),
        change.before,
        change.after,
        actor.request_id.server,
        actor.request_id.client,
    )
    .execute(conn)
    .await?;
    Ok(())
}

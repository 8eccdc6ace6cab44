//! The audit log: who changed what, when, with the document before and after. Rows are
//! written in the same transaction as the change they describe.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use logspoke_contract::{DeliveryType, TenantId};
use serde_json::Value;
use sqlx::PgConnection;

use crate::auth::Principal;

/// The `x-request-id` of the request (set by the request-id layer), kept with each
/// audit row so a change can be traced to its request log.
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self(id))
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
        r#"insert into audit_events (tenant_id, actor, actor_role, action, delivery_type, before, after, request_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        change.tenant_id.as_str(),
        actor.principal.subject,
        role,
        change.action,
        change.delivery_type.map(DeliveryType::as_str),
        change.before,
        change.after,
        actor.request_id.0,
    )
    .execute(conn)
    .await?;
    Ok(())
}

//! Tenants: the customers whose logs Logspoke delivers.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use logspoke_contract::TenantId;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::error::ApiError;

/// A tenant as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    /// Lowercase letters, digits and hyphens; it becomes an S3 key segment.
    #[schema(example = "acme")]
    pub tenant_id: String,
    /// Human-readable name.
    #[schema(example = "Acme Corp")]
    pub display_name: Option<String>,
    /// A disabled tenant receives no logs, whatever its configs say.
    pub enabled: bool,
    /// Increases with every change; not a count. One sequence numbers every tenant and
    /// config write, so a value never repeats (even across delete and re-create) and
    /// the next value may skip ahead. The ETag is this value quoted.
    pub version: i64,
    /// When the tenant was created.
    pub created_at: DateTime<Utc>,
    /// When the tenant last changed.
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    /// The document recorded in the audit log.
    pub fn audit_document(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Location of a tenant resource.
pub fn location(tenant_id: &str) -> String {
    format!("/v1/tenants/{tenant_id}")
}

/// The 404 for a tenant that does not exist.
pub fn not_found(tenant_id: &TenantId) -> ApiError {
    ApiError::NotFound(format!("tenant '{tenant_id}' does not exist"))
}

/// Validates a display name: optional, 1–200 characters, no control characters.
pub fn parse_display_name(value: Option<String>) -> Result<Option<String>, String> {
    let Some(name) = value else { return Ok(None) };
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("must be 1 to 200 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(Some(name))
}

/// Reads a tenant, locking its row for the rest of the transaction when `lock` is set.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn fetch(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    lock: bool,
) -> Result<Option<Tenant>, sqlx::Error> {
    let tenant_id = tenant_id.as_str();
    if lock {
        sqlx::query_as!(
            Tenant,
            "select tenant_id, display_name, enabled, version, created_at, updated_at
             from tenants where tenant_id = $1 for update",
            tenant_id
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            Tenant,
            "select tenant_id, display_name, enabled, version, created_at, updated_at
             from tenants where tenant_id = $1",
            tenant_id
        )
        .fetch_optional(conn)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_table() {
        assert_eq!(parse_display_name(None), Ok(None));
        assert_eq!(
            parse_display_name(Some("  Acme  ".into())),
            Ok(Some("Acme".into()))
        );
        assert_eq!(
            parse_display_name(Some("Ünïcødé Ltd".into())),
            Ok(Some("Ünïcødé Ltd".into()))
        );
        assert_eq!(
            parse_display_name(Some("é".repeat(200))),
            Ok(Some("é".repeat(200)))
        );
        for bad in ["", "   ", "a\nb", "tab\there"] {
            assert!(parse_display_name(Some(bad.into())).is_err(), "{bad:?}");
        }
        assert!(parse_display_name(Some("x".repeat(201))).is_err());
    }
}

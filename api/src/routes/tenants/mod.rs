//! Tenants: the customers whose logs Logspoke delivers.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use logspoke_contract::TenantId;
use sqlx::PgConnection;

use crate::error::ApiError;
use crate::tenants::{repository, Tenant};

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

/// The tenant, or the 404 naming it; locked for the rest of the transaction when `lock`
/// is set (see [`repository::fetch`]).
pub async fn require(conn: &mut PgConnection, tenant_id: &TenantId, lock: bool) -> Result<Tenant, ApiError> {
    repository::fetch(conn, tenant_id, lock)
        .await?
        .ok_or_else(|| not_found(tenant_id))
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

//! Tenants: the customers whose logs Logspoke delivers.
//!
//! - this module: the tenant as stored and shown, and a validated new one;
//! - [`repository`]: the queries on `tenants` and `retired_tenant_ids`.

pub mod repository;

use chrono::{DateTime, Utc};
use logspoke_contract::TenantId;
use serde::Serialize;
use utoipa::ToSchema;

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

/// A tenant to create, validated: what `POST /v1/tenants` stores.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Its id, never used before.
    pub tenant_id: TenantId,
    /// Human-readable name, trimmed.
    pub display_name: Option<String>,
    /// Whether logs flow to it from the start.
    pub enabled: bool,
}

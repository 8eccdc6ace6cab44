//! Authentication (who is calling) and the authorization checks handlers call explicitly.
//!
//! A request is authenticated by the [`Principal`] extractor from a bearer JWT; each
//! handler then authorizes with [`Principal::require_operator`] or
//! [`Principal::require_tenant_access`] next to the resource it protects.

mod extractor;
pub mod jwks;
pub mod jwt;
mod key_set;

use logspoke_contract::TenantId;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The `role` claim: what kind of principal a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Provider staff: every tenant, every operation.
    Operator,
    /// A customer: only its own tenant, never tenant creation or deletion.
    Tenant,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, recorded as the actor in the audit log.
    pub subject: String,
    /// What the principal may reach.
    pub kind: PrincipalKind,
}

/// The reach of a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// All tenants.
    Operator,
    /// Exactly one tenant.
    Tenant(TenantId),
}

impl Principal {
    /// Operator-only operations (listing or creating tenants, deleting a tenant).
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.kind {
            PrincipalKind::Operator => Ok(()),
            PrincipalKind::Tenant(_) => Err(ApiError::Forbidden),
        }
    }

    /// Operations on one tenant's resources. Checked on the raw path segment before any
    /// lookup, so a tenant principal gets the same 403 whether or not another tenant
    /// exists.
    pub fn require_tenant_access(&self, tenant_id: &logspoke_contract::TenantId) -> Result<(), ApiError> {
        match &self.kind {
            PrincipalKind::Operator => Ok(()),
            PrincipalKind::Tenant(own) if own.as_str() == tenant_id.as_str() => Ok(()),
            PrincipalKind::Tenant(_) => Err(ApiError::Forbidden),
        }
    }

    /// The role name recorded in the audit log.
    pub fn role(&self) -> Role {
        match self.kind {
            PrincipalKind::Operator => Role::Operator,
            PrincipalKind::Tenant(_) => Role::Tenant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> Principal {
        Principal {
            subject: "bob".into(),
            kind: PrincipalKind::Tenant(TenantId::parse(id).unwrap()),
        }
    }

    fn id(raw: &str) -> TenantId {
        TenantId::parse(raw).unwrap()
    }

    #[test]
    fn operator_reaches_every_tenant() {
        let op = Principal {
            subject: "alice".into(),
            kind: PrincipalKind::Operator,
        };
        assert!(op.require_operator().is_ok());
        assert!(op.require_tenant_access(&id("acme")).is_ok());
        assert!(op.require_tenant_access(&id("globex")).is_ok());
    }

    #[test]
    fn tenant_reaches_only_itself() {
        let acme = tenant("acme");
        assert!(acme.require_tenant_access(&id("acme")).is_ok());
        assert!(matches!(
            acme.require_tenant_access(&id("globex")),
            Err(ApiError::Forbidden)
        ));
        assert!(matches!(
            acme.require_tenant_access(&id("acme-corp")),
            Err(ApiError::Forbidden)
        ));
        assert!(matches!(acme.require_operator(), Err(ApiError::Forbidden)));
    }
}

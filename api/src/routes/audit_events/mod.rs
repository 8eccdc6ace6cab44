//! The audit trail of a tenant.

pub mod list;

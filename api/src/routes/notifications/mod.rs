//! A tenant's notification target (`…/notification-target`: its SNS topic, a test
//! notification) and the notifications sent to it (`…/notifications`). The rules are in
//! [`crate::notifications`].

pub mod delete;
pub mod get;
pub mod list;
pub mod put;
pub mod test;

use logspoke_contract::TenantId;

use crate::error::ApiError;

/// The 404 of a tenant without a notification target.
pub fn not_found(tenant_id: &TenantId) -> ApiError {
    ApiError::NotFound(format!(
        "tenant '{tenant_id}' has no notification target; put one first"
    ))
}

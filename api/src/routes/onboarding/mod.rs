//! Onboarding: the tenant's ExternalId and the link that creates the customer's role.

pub mod rotate;
pub mod start;

//! Handlers, one file per action, grouped by resource (`routes/<resource>/<action>.rs`).

pub mod audit_events;
pub mod clusters;
pub mod delivery_configs;
pub mod delivery_health;
pub mod docs;
pub mod notifications;
pub mod onboarding;
pub mod ops;
pub mod replays;
pub mod tenants;

//! Logspoke control plane: tenants and their delivery configs, authenticated, validated
//! and audited, on Postgres. `main.rs` only parses the command line and calls [`cli`].

pub mod audit;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod clusters;
pub mod config;
pub mod configs;
pub mod delivery_health;
pub mod error;
pub mod etag;
pub mod extract;
pub mod idempotency;
pub mod notifications;
pub mod onboarding;
pub mod openapi;
pub mod outbox;
pub mod pagination;
pub mod paths;
pub mod replays;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod unit_of_work;
pub mod verification;
pub mod write_limit;

/// The embedded migrations in `migrations/`, applied at start and by `migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

//! Integration tests of the api: the real router over HTTP, a fresh Postgres database
//! per test. One binary for the crate (see STYLE.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod auth;
mod aws;
mod clusters;
mod configuration_doc;
mod delivery_configs;
mod delivery_health;
mod docs;
mod helpers;
mod idempotency;
mod notifications;
mod onboarding;
mod openapi;
mod ops;
mod problems;
mod publishing;
mod readiness;
mod replays;
mod tenants;
mod verification;

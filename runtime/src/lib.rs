//! What the api and the delivery worker do the same way, so the two binaries cannot
//! drift apart: reading settings through clap ([`config`]) with the typed values both
//! accept ([`values`]), JSON logs and the Prometheus recorder ([`telemetry`]), the
//! SIGINT/SIGTERM stop ([`shutdown`]), the `/healthz` `/readyz` `/metrics` endpoint
//! of a process without an HTTP API of its own ([`ops`]), how long to wait before trying
//! again ([`backoff`]) and the loop of every periodic task ([`periodic`]).
//!
//! It depends on no AWS SDK crate: identifiers such as [`values::TopicArn`] are checked
//! by their shape only.

pub mod backoff;
pub mod config;
pub mod ops;
pub mod periodic;
pub mod shutdown;
pub mod telemetry;
pub mod values;

pub use shutdown::shutdown_signal;

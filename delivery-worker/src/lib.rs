//! Logspoke delivery worker: turns staged Kubernetes log files into deliveries.
//!
//! The modules follow the data flow: [`sqs`] receives S3 events from the delivery queue,
//! [`event`] parses them into staged objects, [`tenants`] holds the delivery configs
//! (read model + change events) that [`pipeline`] routes each object by and whose
//! outcome it decides; per target, [`credentials`] assumes the tenant's role and the
//! object streams through the [`reader`] (gzip NDJSON → events) into the [`sinks`]
//! (CloudWatch Logs batches, S3 copies). [`lambda`] runs the same pipeline behind the
//! Lambda runtime API instead of [`sqs`]. [`app`] wires them for the binary.

pub mod app;
pub mod config;
pub mod credentials;
pub mod event;
pub mod health;
mod json;
pub mod lambda;
pub mod ledger;
pub mod memory;
pub mod pipeline;
pub mod reader;
pub mod replay;
pub mod retry;
pub mod sinks;
pub mod sqs;
pub mod telemetry;
pub mod tenants;

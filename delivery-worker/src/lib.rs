//! Logspoke delivery worker: turns staged Kubernetes log files into deliveries.
//!
//! The modules follow the data flow: [`sqs`] receives S3 events from the delivery queue,
//! [`event`] parses them into staged objects, [`tenants`] holds the delivery configs
//! (read model + change events) that [`pipeline`] routes each object by; per object and
//! target, [`pipeline::target`] decides from the [`ledger`] what the target needs and from
//! its [`filter`] which lines it gets, and the object streams — with the tenant's role
//! from [`credentials`] — through the [`reader`] (gzip NDJSON → events) into the
//! [`sinks`] (CloudWatch Logs batches, S3 copies).
//! [`delivery_health`] gathers what each target saw. [`lambda`] runs the same pipeline
//! behind the Lambda runtime API instead of [`sqs`]. [`components`] builds the parts once
//! for the long-running [`replica`], the Lambda function and the one-off [`cli`] commands.

pub mod budget;
pub mod cli;
pub mod clock;
pub mod components;
pub mod config;
pub mod credentials;
pub mod delivery_health;
pub mod event;
pub mod filter;
mod json;
pub mod lambda;
pub mod ledger;
pub mod pipeline;
pub mod reader;
pub mod replay;
pub mod replica;
pub mod sinks;
pub mod sqs;
pub mod telemetry;
pub mod tenants;

//! The worker against the AWS emulator (ministack, AUTH=true): a provider account with
//! the staging bucket, delivery queue, read model and change topic, and customer accounts
//! whose roles come from the committed customer template. One test binary for the crate.

#![allow(clippy::unwrap_used)]

mod configuration_doc;
mod delivery;
mod lambda;
mod shaping;
mod world;

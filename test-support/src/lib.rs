//! The AWS emulator (ministack, AUTH=true) as the integration tests of the api and the
//! delivery worker use it: accounts selected by access key id, the provider role, the
//! customer stack launched from the committed template, buckets, read-model and
//! delivery-ledger tables.
//!
//! `scripts/test` starts one emulator per run and exports `AWS_ENDPOINT_URL`; both test
//! binaries share it, so every name a test creates is unique ([`unique`]) and what both
//! create (the provider role) is created idempotently, the same way.
//!
//! [`recording_s3`] is not the emulator: a local endpoint that records what each request
//! carries, for what the emulator does not check.
//!
//! A dev-dependency only: panics are how these helpers report a broken test set-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod customer;
mod provider;
pub mod recording_s3;
mod resources;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub use customer::{launch_customer_stack, launch_customer_stack_outputs};
pub use provider::{ensure_provider_role, provider_role_arn, PROVIDER_ROLE};
pub use resources::{
    create_bucket, create_ledger_table, create_read_model_table, ensure_bucket, receive_messages, s3,
};

/// The provider account (the emulator maps access key id `111111111111` to it).
pub const PROVIDER: &str = "111111111111";
/// A customer account.
pub const CUSTOMER: &str = "222222222222";
/// A second customer account, for isolation tests.
pub const OTHER_CUSTOMER: &str = "333333333333";
/// The region every test works in.
pub const REGION: &str = "eu-west-1";
/// The IAM path of every customer role: the template's, and the only one Logspoke assumes.
pub const ROLE_PATH: &str = "/logspoke/";
/// The customer role template, as committed: what a customer's stack is launched from.
pub const CUSTOMER_TEMPLATE: &str = include_str!("../../cloudformation/customer-log-delivery-role.yaml");

/// The emulator endpoint, or a closed port when none is set, so that tests which never
/// call AWS still build their clients; [`require_emulator`] fails the ones that do.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:9".to_owned())
}

/// Fails the test with the way to fix it when no emulator is configured.
pub fn require_emulator() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "this test needs the AWS emulator: run scripts/test (it starts one and sets AWS_ENDPOINT_URL)"
    );
}

/// SDK configuration acting as `account` (the emulator maps the access key id to it).
pub async fn sdk(account: &str) -> SdkConfig {
    sdk_with(Credentials::new(account, "test", None, None, "tests")).await
}

/// SDK configuration with `credentials` (e.g. an assumed role's), against the emulator.
pub async fn sdk_with(credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// A name no other test of the run uses: `prefix-` and ten hex digits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

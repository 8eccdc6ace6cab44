//! AWS plumbing shared by the api and the delivery worker, so both reach a customer's
//! account through exactly the same credential chain and clients, and classify failures
//! the same way.

pub mod chain;
pub mod classify;
pub mod clients;
pub mod error;
pub mod read_model;

pub use chain::{session_name, RoleChain};
pub use classify::{classify, Step};
pub use error::{AwsError, AwsErrorKind};

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the standard variables (`AWS_REGION`,
/// `AWS_ENDPOINT_URL`, credentials, IRSA web identity, …).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// S3 path-style addressing is needed when an endpoint override points at an emulator
/// (bucket names cannot become subdomains of 127.0.0.1); real S3 uses virtual hosts.
pub fn use_path_style(sdk: &SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
}

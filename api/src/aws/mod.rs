//! AWS access for the control plane: the role chain the worker also uses, and the
//! error shape the rest of the code classifies.

pub mod chain;
pub mod error;
pub mod target_access;

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

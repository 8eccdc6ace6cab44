//! AWS access for the control plane: the role chain the worker also uses and the error
//! shape the rest of the code classifies (both from `logspoke-aws`), and the probes that
//! verify a customer's target.

pub mod target_access;

pub use logspoke_aws::{chain, error, load_sdk_config, use_path_style};

/// The SDK settings `sdk` with the region set to `region` and all else kept (the same
/// credentials and endpoint): how the api reaches another provider region's ledger. An
/// emulator serves every region on one endpoint and picks the region by the signature.
pub fn in_region(sdk: &aws_config::SdkConfig, region: logspoke_contract::Region) -> aws_config::SdkConfig {
    sdk.to_builder()
        .region(aws_config::Region::new(region.as_str()))
        .build()
}

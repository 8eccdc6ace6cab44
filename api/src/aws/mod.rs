//! AWS access for the control plane: the role chain the worker also uses and the error
//! shape the rest of the code classifies (both from `logspoke-aws`), and the probes that
//! verify a customer's target.

pub mod target_access;

pub use logspoke_aws::{chain, error, load_sdk_config, use_path_style};

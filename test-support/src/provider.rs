//! The provider role both test binaries assume customer roles through.

use aws_config::SdkConfig;
use aws_sdk_iam::error::ProvideErrorMetadata;
use logspoke_contract::RoleArn;
use serde_json::json;

use crate::PROVIDER;

/// Name of the provider role in the provider account.
pub const PROVIDER_ROLE: &str = "LogspokeProvider";

/// The provider role's ARN, as the api and the worker are configured with it.
pub fn provider_role_arn() -> RoleArn {
    RoleArn::parse(&format!("arn:aws:iam::{PROVIDER}:role/{PROVIDER_ROLE}")).unwrap()
}

/// Creates the provider role if it is missing and (re)writes its policy, as
/// `cloudformation/provider-regional.yaml` makes it: trusting the provider account's base
/// credentials, allowed to assume roles under `/logspoke/` outside its own account.
/// The policy leaves out the template's ExternalId condition, which the emulator cannot
/// evaluate in an identity policy (docs/adr/0004-provider-stack.md).
pub async fn ensure_provider_role(provider: &SdkConfig) {
    let iam = aws_sdk_iam::Client::new(provider);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{PROVIDER}:root")}, "Action": "sts:AssumeRole"}]});
    let created = iam
        .create_role()
        .role_name(PROVIDER_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await;
    if let Err(err) = created {
        let code = err.code().unwrap_or_default().to_owned();
        assert_eq!(code, "EntityAlreadyExists", "creating the provider role: {err:?}");
    }
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/logspoke/*"},
        {"Effect": "Deny", "Action": "sts:*", "Resource": format!("arn:aws:iam::{PROVIDER}:role/*")}]});
    iam.put_role_policy()
        .role_name(PROVIDER_ROLE)
        .policy_name("assume-customer-roles")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
}

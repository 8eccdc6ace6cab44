//! Start-up checks of the onboarding setup: the published customer template declares
//! the parameters the links fill, and the provider role exists. Results feed `/readyz`
//! and the `check` subcommand.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_config::SdkConfig;
use serde::Serialize;

use super::link;
use crate::aws::error::AwsError;
use crate::config::OnboardingConfig;

/// How often the checks run again after start.
const RECHECK_EVERY: Duration = Duration::from_secs(300);

/// The outcome of one configuration check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigCheck {
    /// `customer_template`, `provider_role` or `jwks`.
    pub name: &'static str,
    /// `ok`, `failed` (the configuration is wrong) or `unknown` (AWS unreachable).
    pub status: &'static str,
    /// Details.
    pub message: String,
}

impl ConfigCheck {
    fn ok(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: "ok",
            message: message.into(),
        }
    }

    fn failed(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: "failed",
            message: message.into(),
        }
    }

    fn from_aws(name: &'static str, err: &AwsError, definite: bool) -> Self {
        let status = if definite { "failed" } else { "unknown" };
        Self {
            name,
            status,
            message: err.describe(None),
        }
    }
}

/// The latest check results, shared with `/readyz`.
#[derive(Debug, Default)]
pub struct ConfigChecks(RwLock<Vec<ConfigCheck>>);

impl ConfigChecks {
    /// The latest results (empty before the first run finishes).
    pub fn latest(&self) -> Vec<ConfigCheck> {
        self.0.read().map(|r| r.clone()).unwrap_or_default()
    }

    fn store(&self, checks: Vec<ConfigCheck>) {
        if let Ok(mut slot) = self.0.write() {
            *slot = checks;
        }
    }
}

/// Compares the template's parameters with what the links fill: every filled name must
/// be declared, and every declared parameter without a default must be filled.
pub fn compare_parameters(declared: &[(String, bool)]) -> Result<(), String> {
    let names: BTreeSet<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    let filled: BTreeSet<&str> = link::PARAMETERS.into_iter().collect();
    let undeclared: Vec<&str> = filled.difference(&names).copied().collect();
    let unfilled: Vec<&str> = declared
        .iter()
        .filter(|(name, has_default)| !has_default && !filled.contains(name.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    match (undeclared.is_empty(), unfilled.is_empty()) {
        (true, true) => Ok(()),
        _ => Err(format!(
            "the template does not declare {undeclared:?} (the links fill them) and requires {unfilled:?} \
             (the links do not fill them)"
        )),
    }
}

async fn check_template(sdk: &SdkConfig, config: &OnboardingConfig) -> ConfigCheck {
    const NAME: &str = "customer_template";
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let summary = cloudformation
        .get_template_summary()
        .template_url(config.customer_template_url.as_str())
        .send()
        .await
        .map_err(AwsError::from);
    let summary = match summary {
        Ok(summary) => summary,
        Err(err) => return ConfigCheck::from_aws(NAME, &err, !err.is_transient()),
    };
    let declared: Vec<(String, bool)> = summary
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_owned(),
                p.default_value().is_some(),
            )
        })
        .collect();
    match compare_parameters(&declared) {
        Ok(()) => ConfigCheck::ok(NAME, "the template declares every parameter the links fill"),
        Err(message) => ConfigCheck::failed(NAME, message),
    }
}

async fn check_provider_role(sdk: &SdkConfig, config: &OnboardingConfig) -> ConfigCheck {
    const NAME: &str = "provider_role";
    let iam = aws_sdk_iam::Client::new(sdk);
    let role = &config.provider_role_arn;
    match iam
        .get_role()
        .role_name(role.role_name())
        .send()
        .await
        .map_err(AwsError::from)
    {
        Ok(_) => ConfigCheck::ok(NAME, format!("{role} exists")),
        Err(err) if err.code() == "NoSuchEntity" => {
            ConfigCheck::failed(NAME, format!("{role} does not exist"))
        }
        Err(err) => ConfigCheck::from_aws(NAME, &err, false),
    }
}

/// Runs both checks once.
pub async fn run(sdk: &SdkConfig, config: &OnboardingConfig) -> Vec<ConfigCheck> {
    let (template, role) = tokio::join!(check_template(sdk, config), check_provider_role(sdk, config));
    vec![template, role]
}

/// Runs the checks now and every few minutes, logging failures.
pub fn spawn(sdk: SdkConfig, config: OnboardingConfig, results: Arc<ConfigChecks>) {
    tokio::spawn(async move {
        loop {
            let checks = run(&sdk, &config).await;
            for check in checks.iter().filter(|c| c.status != "ok") {
                tracing::warn!(check = check.name, status = check.status, message = %check.message, "onboarding check failed");
            }
            results.store(checks);
            tokio::time::sleep(RECHECK_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(params: &[(&str, bool)]) -> Vec<(String, bool)> {
        params.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect()
    }

    #[test]
    fn matching_template_passes() {
        let params = declared(&[
            ("ExternalId", false),
            ("ProviderRoleArn", false),
            ("LogGroupName", true),
            ("CreateLogGroup", true),
            ("LogGroupRetentionDays", true),
            ("LogGroupKmsKeyArn", true),
            ("BucketName", true),
            ("BucketPrefix", true),
            ("CreateBucket", true),
            ("BucketExpirationDays", true),
            ("BucketKmsKeyArn", true),
            ("RoleName", true),
        ]);
        assert_eq!(compare_parameters(&params), Ok(()));
    }

    #[test]
    fn a_template_that_cannot_create_the_destination_fails() {
        // A template of before CreateLogGroup: the link's request to create the group
        // would be dropped, and verification would find no log group.
        let old = declared(&[
            ("ExternalId", false),
            ("ProviderRoleArn", false),
            ("LogGroupName", true),
            ("BucketName", true),
            ("BucketPrefix", true),
            ("RoleName", true),
        ]);
        let err = compare_parameters(&old).unwrap_err();
        for name in [
            "CreateLogGroup",
            "LogGroupRetentionDays",
            "CreateBucket",
            "BucketExpirationDays",
        ] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn a_template_without_the_bucket_prefix_fails() {
        // An older template: the link's prefix would be dropped and the role would get the
        // whole bucket.
        let old = declared(&[
            ("ExternalId", false),
            ("ProviderRoleArn", false),
            ("LogGroupName", true),
            ("BucketName", true),
        ]);
        let err = compare_parameters(&old).unwrap_err();
        assert!(err.contains("BucketPrefix"), "{err}");
    }

    /// (name, has a default) of each parameter in the committed template, read as text:
    /// the two-space-indented keys between `Parameters:` and the next top-level key.
    fn committed_template_parameters() -> Vec<(String, bool)> {
        const TEMPLATE: &str = include_str!("../../../cloudformation/customer-log-delivery-role.yaml");
        let mut params: Vec<(String, bool)> = Vec::new();
        let mut inside = false;
        for line in TEMPLATE.lines() {
            if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
                inside = line == "Parameters:";
            } else if inside {
                if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
                    if !name.starts_with([' ', '#']) {
                        params.push((name.to_owned(), false));
                    }
                } else if line.starts_with("    Default:") {
                    if let Some(last) = params.last_mut() {
                        last.1 = true;
                    }
                }
            }
        }
        params
    }

    #[test]
    fn the_committed_template_declares_what_the_links_fill() {
        let params = committed_template_parameters();
        assert!(params.len() >= link::PARAMETERS.len(), "{params:?}");
        assert_eq!(compare_parameters(&params), Ok(()), "{params:?}");
        // Optional: the log group's key is chosen in the console, the bucket's comes from
        // the S3 config when it names one.
        for name in ["LogGroupKmsKeyArn", "BucketKmsKeyArn", "RoleName"] {
            assert!(params.contains(&(name.to_owned(), true)), "{name}: {params:?}");
        }
    }

    #[test]
    fn a_renamed_or_extra_required_parameter_fails() {
        let renamed = declared(&[
            ("ExternalID", false),
            ("ProviderRoleArn", false),
            ("LogGroupName", true),
            ("BucketName", true),
        ]);
        let err = compare_parameters(&renamed).unwrap_err();
        assert!(err.contains("ExternalId") && err.contains("ExternalID"), "{err}");
        let extra = declared(&[
            ("ExternalId", false),
            ("ProviderRoleArn", false),
            ("LogGroupName", true),
            ("BucketName", true),
            ("KmsKeyArn", false),
        ]);
        assert!(compare_parameters(&extra).unwrap_err().contains("KmsKeyArn"));
    }
}

//! Turns AWS errors into causes a customer can act on. AWS answers `AccessDenied` for a
//! missing role, an untrusting role and a wrong ExternalId alike, so those share
//! `role_not_assumable` unless the error itself says more.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use logspoke_contract::DeliveryTarget;

use super::{ProbeError, Subject};
use crate::aws::error::{AwsError, AwsErrorKind};

/// Machine-readable reason a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The role is missing, or its trust policy does not name the provider role.
    RoleNotAssumable,
    /// The role trusts the provider but requires a different ExternalId.
    ExternalIdMismatch,
    /// The role accepts an ExternalId other than the tenant's (confused-deputy risk).
    ExternalIdNotRequired,
    /// The role lacks a permission the worker needs (the message names the action).
    PermissionDenied,
    /// The log group does not exist in the target region.
    LogGroupNotFound,
    /// The bucket does not exist.
    BucketNotFound,
    /// The target exists in another region than the config names.
    RegionMismatch,
    /// Verification did not finish in time.
    Timeout,
    /// The tenant has no ExternalId yet: run onboarding first.
    OnboardingRequired,
    /// AWS could not be reached or was throttling; try again.
    AwsUnavailable,
}

impl Cause {
    /// True when the failure says nothing about the customer's setup (AWS unreachable,
    /// throttling, a timeout): retrying later may succeed with nothing changed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::AwsUnavailable | Self::Timeout)
    }
}

fn is_timeout(err: &AwsError) -> bool {
    err.kind == AwsErrorKind::Timeout
}

/// Cause and message for a failed AssumeRole with the tenant's ExternalId.
pub fn classify_assume(err: &AwsError, subject: &Subject, secret: &str) -> (Cause, String) {
    if is_timeout(err) {
        return (Cause::Timeout, "AssumeRole did not answer in time".into());
    }
    if err.is_transient() {
        return (
            Cause::AwsUnavailable,
            format!("AssumeRole failed, try again: {}", err.describe(Some(secret))),
        );
    }
    let detail = err.describe(Some(secret));
    let mentions_external_id = detail.to_ascii_lowercase().contains("externalid")
        || detail.to_ascii_lowercase().contains("external id");
    if mentions_external_id {
        let message = format!(
            "{} trusts Logspoke but expects a different ExternalId; update the stack with the ExternalId \
             from onboarding ({detail})",
            subject.role_arn
        );
        return (Cause::ExternalIdMismatch, message);
    }
    let message = format!(
        "Logspoke could not assume {}: the role does not exist, its trust policy does not name the \
         provider role, or it requires a different ExternalId; create or update the stack from the \
         onboarding link ({detail})",
        subject.role_arn
    );
    (Cause::RoleNotAssumable, message)
}

/// Cause and message for a failed probe of the target.
pub fn classify_probe(failure: &ProbeError, subject: &Subject) -> (Cause, String) {
    let err = &failure.error;
    let region = subject.region.as_str();
    let detail = err.describe(None);
    if is_timeout(err) {
        return (
            Cause::Timeout,
            format!("{} did not answer in time", failure.action),
        );
    }
    let code = err.code();
    let cause = match (&subject.target, code) {
        (_, "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => Cause::PermissionDenied,
        (
            DeliveryTarget::S3 { .. },
            "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException",
        ) => Cause::RegionMismatch,
        (DeliveryTarget::S3 { .. }, _) if err.status == Some(301) => Cause::RegionMismatch,
        (DeliveryTarget::S3 { .. }, "NoSuchBucket") => Cause::BucketNotFound,
        (DeliveryTarget::CloudWatch { .. }, "ResourceNotFoundException") => Cause::LogGroupNotFound,
        _ if err.is_transient() => Cause::AwsUnavailable,
        _ if err.status == Some(403) => Cause::PermissionDenied,
        _ => Cause::AwsUnavailable,
    };
    let message = match (cause, &subject.target) {
        (Cause::PermissionDenied, _) => format!(
            "the role may not call {} on the target; grant it (the onboarding template does) ({detail})",
            failure.action
        ),
        (Cause::LogGroupNotFound, DeliveryTarget::CloudWatch { log_group_name: log_group, .. }) => format!(
            "log group {log_group} does not exist in {region}; create it, or fix the region or name ({detail})"
        ),
        (Cause::BucketNotFound, DeliveryTarget::S3 { bucket_name: bucket, .. }) => {
            format!("bucket {bucket} does not exist; create it or fix the name ({detail})")
        }
        (Cause::RegionMismatch, _) => {
            format!("the target is not in {region}; set target_region to the bucket's region ({detail})")
        }
        _ => format!("{} failed, try again: {detail}", failure.action),
    };
    (cause, message)
}

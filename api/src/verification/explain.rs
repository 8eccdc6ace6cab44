//! Messages a customer can act on, written around the cause the shared classifier gives
//! a failed call ([`logspoke_aws::classify`]), so that `verify` and delivery health name
//! the same failure alike. AWS answers `AccessDenied` for a missing role, an untrusting
//! role and a wrong ExternalId alike, so those share `role_not_assumable` unless the
//! error itself says more.

use logspoke_aws::{classify, Step};
use logspoke_contract::{Cause, DeliveryTarget};

use super::{ProbeError, Subject};
use crate::aws::error::{AwsError, AwsErrorKind};

fn is_timeout(err: &AwsError) -> bool {
    err.kind == AwsErrorKind::Timeout
}

/// Cause and message for a failed AssumeRole with the tenant's ExternalId.
pub fn explain_assume(err: &AwsError, subject: &Subject, secret: &str) -> (Cause, String) {
    let cause = classify(Step::AssumeRole, err);
    let detail = err.describe(Some(secret));
    let message = match cause {
        _ if is_timeout(err) => "AssumeRole did not answer in time".to_owned(),
        Cause::ExternalIdMismatch => format!(
            "{} trusts Logspoke but expects a different ExternalId; update the stack with the ExternalId \
             from onboarding ({detail})",
            subject.role_arn
        ),
        Cause::RoleNotAssumable => format!(
            "Logspoke could not assume {}: the role does not exist, its trust policy does not name the \
             provider role, or it requires a different ExternalId; create or update the stack from the \
             onboarding link ({detail})",
            subject.role_arn
        ),
        _ => format!("AssumeRole failed, try again: {detail}"),
    };
    (cause, message)
}

/// The step a probe of `target` is classified as: the same writes the worker makes.
fn probe_step(target: &DeliveryTarget) -> Step {
    match target {
        DeliveryTarget::CloudWatch { .. } => Step::CloudWatch,
        DeliveryTarget::S3 { .. } => Step::PutObject,
    }
}

/// Cause and message for a failed probe of the target.
pub fn explain_probe(failure: &ProbeError, subject: &Subject) -> (Cause, String) {
    let err = &failure.error;
    let cause = classify(probe_step(&subject.target), err);
    let region = subject.region.as_str();
    let detail = err.describe(None);
    let action = failure.action;
    let message = match (cause, &subject.target) {
        _ if is_timeout(err) => format!("{action} did not answer in time"),
        (Cause::PermissionDenied, _) => format!(
            "the role may not call {action} on the target; grant it (the onboarding template does) ({detail})"
        ),
        (Cause::KmsDenied, _) => format!(
            "the KMS key of the target refuses the role's {action}; allow the role to use the key \
             (kms:GenerateDataKey, kms:Encrypt) ({detail})"
        ),
        (Cause::LogGroupMissing, DeliveryTarget::CloudWatch { log_group_name: log_group, .. }) => format!(
            "log group {log_group} does not exist in {region}; create it, or fix the region or name ({detail})"
        ),
        (Cause::BucketMissing, DeliveryTarget::S3 { bucket_name: bucket, .. }) => {
            format!("bucket {bucket} does not exist; create it or fix the name ({detail})")
        }
        (Cause::RegionMismatch, _) => {
            format!("the target is not in {region}; set target_region to the bucket's region ({detail})")
        }
        _ => format!("{action} failed, try again: {detail}"),
    };
    (cause, message)
}

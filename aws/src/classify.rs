//! What a failed AWS call means for a customer's target, answered once for `verify` and
//! for delivery: [`classify`] turns the call's [`Step`] and its [`AwsError`] into a
//! [`Cause`]. `verify` words its own messages around the cause; delivery parks an object
//! for a cause that is not [transient](Cause::is_transient) and retries it otherwise.
//!
//! The rules blame the customer's setup only on evidence: a denial or a missing-resource
//! code from the customer's account, or a redirect to another region. Anything else is
//! `aws_unavailable`, so that a failure on the provider's side (its own credentials, a
//! clock skew, an answer nobody expected) neither parks every tenant's objects nor marks
//! a working config as failed. A call that timed out is `aws_unavailable` too: delivery
//! health has always recorded it so, and a cause the previous release cannot read must
//! not reach the ledger's items (`timeout` is the deadline of a whole verification).

use logspoke_contract::Cause;

use crate::AwsError;

/// The AWS call that failed: the same error code means different things on different
/// calls (`AccessDenied` on AssumeRole is a trust policy, on PutLogEvents a missing
/// permission, on the staging bucket the provider's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Assuming the tenant's role through the provider role, with an ExternalId.
    AssumeRole,
    /// Reading the staged object with the worker's own credentials.
    ReadStaged,
    /// Writing to the tenant's log group: `DescribeLogStreams`, `CreateLogStream`,
    /// `PutLogEvents`.
    CloudWatch,
    /// Writing into the tenant's bucket: `PutObject` (and `verify` deleting its marker).
    PutObject,
    /// Publishing a notification to the tenant's SNS topic.
    Publish,
}

impl Step {
    /// The IAM action a message names for the step.
    pub fn action(self) -> &'static str {
        match self {
            Self::AssumeRole => "sts:AssumeRole",
            Self::ReadStaged => "s3:GetObject (staging)",
            Self::CloudWatch => "logs:PutLogEvents",
            Self::PutObject => "s3:PutObject",
            Self::Publish => "sns:Publish",
        }
    }
}

/// The cause of `err`, a failure of a call made at `step`.
pub fn classify(step: Step, err: &AwsError) -> Cause {
    if err.is_transient() {
        return if is_throttling(err) {
            Cause::Throttled
        } else {
            Cause::AwsUnavailable
        };
    }
    customer_cause(step, err).unwrap_or(Cause::AwsUnavailable)
}

fn is_throttling(err: &AwsError) -> bool {
    err.code().contains("Throttl") || err.code() == "SlowDown"
}

/// The customer-side cause of a failure at `step`, if the error shows one.
fn customer_cause(step: Step, err: &AwsError) -> Option<Cause> {
    let code = err.code();
    let message = err.message.as_deref().unwrap_or("").to_ascii_lowercase();
    let kms = code.starts_with("KMS") || message.contains("kms");
    let denied = matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError"
    );
    let names_external_id = message.contains("externalid") || message.contains("external id");
    let redirected = matches!(
        code,
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"
    ) || err.status == Some(301);
    match step {
        Step::ReadStaged => None,
        // AWS answers AccessDenied for a missing role, an untrusting role and a wrong
        // ExternalId alike: only the message can tell the last apart.
        Step::AssumeRole if denied && names_external_id => Some(Cause::ExternalIdMismatch),
        Step::AssumeRole if denied || code == "NoSuchEntity" => Some(Cause::RoleNotAssumable),
        Step::AssumeRole => None,
        _ if kms => Some(Cause::KmsDenied),
        _ if denied => Some(Cause::PermissionDenied),
        Step::CloudWatch if code == "ResourceNotFoundException" => Some(Cause::LogGroupMissing),
        Step::PutObject if code == "NoSuchBucket" => Some(Cause::BucketMissing),
        Step::PutObject if redirected => Some(Cause::RegionMismatch),
        Step::Publish if matches!(code, "NotFound" | "NotFoundException") => Some(Cause::TopicMissing),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AwsErrorKind;

    fn no_answer(kind: AwsErrorKind) -> AwsError {
        AwsError {
            code: None,
            message: None,
            status: None,
            kind,
        }
    }

    /// Every (step, error) row `verify` and delivery classify, and the cause both report.
    #[test]
    fn every_step_and_error_has_one_cause() {
        use Cause::*;
        use Step::*;
        let error = AwsError::service;
        #[rustfmt::skip]
        let table = [
            // Assuming the tenant's role.
            (AssumeRole, error("AccessDenied", 403, "not authorized to perform sts:AssumeRole"), RoleNotAssumable),
            (AssumeRole, error("AccessDenied", 403, "ExternalId does not match"), ExternalIdMismatch),
            (AssumeRole, error("AccessDenied", 403, "the external id does not match"), ExternalIdMismatch),
            (AssumeRole, error("NoSuchEntity", 404, "role not found"), RoleNotAssumable),
            (AssumeRole, error("Throttling", 400, "Rate exceeded"), Throttled),
            (AssumeRole, no_answer(AwsErrorKind::Timeout), AwsUnavailable),
            (AssumeRole, no_answer(AwsErrorKind::Transport), AwsUnavailable),
            (AssumeRole, error("ValidationError", 400, "something else"), AwsUnavailable),
            (AssumeRole, error("ValidationError", 400, "ExternalId is malformed"), AwsUnavailable),
            (AssumeRole, error("RegionDisabledException", 403, "STS is not activated"), AwsUnavailable),
            // Reading the staged object: the provider's bucket, never the customer's doing.
            (ReadStaged, error("AccessDenied", 403, "denied"), AwsUnavailable),
            (ReadStaged, error("NoSuchKey", 404, "gone"), AwsUnavailable),
            // Writing to the tenant's log group.
            (CloudWatch, error("ResourceNotFoundException", 400, "The specified log group does not exist."), LogGroupMissing),
            (CloudWatch, error("AccessDeniedException", 400, "not authorized to perform logs:PutLogEvents"), PermissionDenied),
            (CloudWatch, error("AccessDeniedException", 400, "The KMS key is disabled"), KmsDenied),
            (CloudWatch, error("ThrottlingException", 400, "Rate exceeded"), Throttled),
            (CloudWatch, error("ServiceUnavailableException", 503, "down"), AwsUnavailable),
            (CloudWatch, no_answer(AwsErrorKind::Timeout), AwsUnavailable),
            (CloudWatch, error("UnrecognizedClientException", 403, "bad signature"), AwsUnavailable),
            // Writing into the tenant's bucket.
            (PutObject, error("NoSuchBucket", 404, "The specified bucket does not exist"), BucketMissing),
            (PutObject, error("AccessDenied", 403, "Access Denied"), PermissionDenied),
            (PutObject, error("KMS.DisabledException", 400, "key disabled"), KmsDenied),
            (PutObject, error("PermanentRedirect", 301, "use the eu-central-1 endpoint"), RegionMismatch),
            // Publishing a notification to the tenant's topic.
            (Publish, error("NotFound", 404, "Topic does not exist"), TopicMissing),
            (Publish, error("AuthorizationError", 403, "not authorized to perform: SNS:Publish"), PermissionDenied),
            (Publish, error("KMSAccessDenied", 400, "KMS key access denied"), KmsDenied),
            (Publish, error("Throttled", 400, "Rate exceeded"), Throttled),
            (PutObject, error("AuthorizationHeaderMalformed", 400, "region is wrong"), RegionMismatch),
            (PutObject, error("IllegalLocationConstraintException", 400, "region"), RegionMismatch),
            (PutObject, AwsError { code: None, message: None, status: Some(301), kind: AwsErrorKind::Service }, RegionMismatch),
            (PutObject, error("SlowDown", 503, "reduce your request rate"), Throttled),
            (PutObject, error("ServiceUnavailable", 503, "down"), AwsUnavailable),
            (PutObject, error("InternalError", 500, "oops"), AwsUnavailable),
            (PutObject, error("RequestTimeTooSkewed", 403, "clock"), AwsUnavailable),
            (PutObject, no_answer(AwsErrorKind::Timeout), AwsUnavailable),
        ];
        for (step, err, cause) in table {
            assert_eq!(classify(step, &err), cause, "{step:?} {err:?}");
        }
    }
}

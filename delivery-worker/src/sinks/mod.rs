//! Destinations a tenant's logs are delivered to, one module per sink, and how a delivery
//! to one of them fails.

pub mod cloudwatch;
pub mod s3;

use logspoke_aws::AwsError;
use logspoke_contract::ledger::DeliveryCause;

/// The AWS call that failed while delivering to a target: the same error code means
/// different things on different calls (`AccessDenied` on AssumeRole is a trust policy,
/// on PutLogEvents a missing permission, on the staging bucket the provider's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Assuming the tenant's role.
    AssumeRole,
    /// Reading the staged object with the worker's own credentials.
    ReadStaged,
    /// `CreateLogStream` or `PutLogEvents` in the tenant's account.
    CloudWatch,
    /// `PutObject` into the tenant's bucket.
    PutObject,
}

impl Step {
    fn action(self) -> &'static str {
        match self {
            Self::AssumeRole => "sts:AssumeRole",
            Self::ReadStaged => "s3:GetObject (staging)",
            Self::CloudWatch => "logs:PutLogEvents",
            Self::PutObject => "s3:PutObject",
        }
    }
}

/// Why delivering an object to one target did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// A retry may succeed with nothing changed (throttling, an outage): the message is
    /// retried through the queue.
    Transient(DeliveryCause, String),
    /// The customer's setup refuses the object (or the config awaits verification): the
    /// object is parked for this target until the target works again.
    Customer(DeliveryCause, String),
    /// It never will; counted and logged as a rejection with this reason.
    Permanent(&'static str, String),
}

impl TargetError {
    /// Classifies a failed AWS call made at `step` while delivering to a target. The
    /// message never holds the ExternalId: `secret` is scrubbed from it.
    pub fn aws(step: Step, err: &AwsError, secret: Option<&str>) -> Self {
        let text = format!("{}: {}", step.action(), err.describe(secret));
        if err.is_transient() {
            let cause = if err.code().contains("Throttl") || err.code() == "SlowDown" {
                DeliveryCause::Throttled
            } else {
                DeliveryCause::AwsUnavailable
            };
            return Self::Transient(cause, text);
        }
        match customer_cause(step, err) {
            Some(cause) => Self::Customer(cause, text),
            None if step == Step::ReadStaged && err.code() == "NoSuchKey" => {
                Self::Permanent("object_missing", text)
            }
            // Not the customer's doing and not known to pass: retried through the queue,
            // and after maxReceiveCount dead-lettered, nothing lost.
            None => Self::Transient(DeliveryCause::AwsUnavailable, text),
        }
    }

    /// The cause recorded in the target's health.
    pub fn cause(&self) -> Option<DeliveryCause> {
        match self {
            Self::Transient(cause, _) | Self::Customer(cause, _) => Some(*cause),
            Self::Permanent(..) => None,
        }
    }

    /// The message recorded with it.
    pub fn message(&self) -> &str {
        match self {
            Self::Transient(_, text) | Self::Customer(_, text) | Self::Permanent(_, text) => text,
        }
    }
}

/// The customer-side cause of a failure at `step`, the same causes `verify` reports.
fn customer_cause(step: Step, err: &AwsError) -> Option<DeliveryCause> {
    let code = err.code();
    let message = err.message.as_deref().unwrap_or("").to_ascii_lowercase();
    let kms = code.starts_with("KMS") || message.contains("kms");
    let denied = matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
    );
    match step {
        Step::ReadStaged => None,
        Step::AssumeRole if denied && message.contains("externalid") => {
            Some(DeliveryCause::ExternalIdMismatch)
        }
        Step::AssumeRole if denied || code == "NoSuchEntity" => Some(DeliveryCause::RoleNotAssumable),
        Step::AssumeRole => None,
        _ if kms => Some(DeliveryCause::KmsDenied),
        _ if denied => Some(DeliveryCause::PermissionDenied),
        Step::CloudWatch if code == "ResourceNotFoundException" => Some(DeliveryCause::LogGroupMissing),
        Step::PutObject if code == "NoSuchBucket" => Some(DeliveryCause::BucketMissing),
        Step::PutObject
            if matches!(
                code,
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"
            ) =>
        {
            Some(DeliveryCause::RegionMismatch)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use logspoke_aws::AwsErrorKind;

    use super::*;

    fn error(code: &str, message: &str) -> AwsError {
        AwsError {
            code: Some(code.into()),
            message: Some(message.into()),
            status: Some(400),
            kind: AwsErrorKind::Service,
        }
    }

    fn cause_of(step: Step, code: &str, message: &str) -> Option<DeliveryCause> {
        match TargetError::aws(step, &error(code, message), None) {
            TargetError::Customer(cause, _) => Some(cause),
            _ => None,
        }
    }

    #[test]
    fn customer_side_failures_have_the_causes_verify_uses() {
        use DeliveryCause::*;
        let table = [
            (
                Step::AssumeRole,
                "AccessDenied",
                "not authorized to perform sts:AssumeRole",
                RoleNotAssumable,
            ),
            (
                Step::AssumeRole,
                "AccessDenied",
                "ExternalId does not match",
                ExternalIdMismatch,
            ),
            (
                Step::CloudWatch,
                "ResourceNotFoundException",
                "The specified log group does not exist.",
                LogGroupMissing,
            ),
            (
                Step::CloudWatch,
                "AccessDeniedException",
                "not authorized to perform logs:PutLogEvents",
                PermissionDenied,
            ),
            (
                Step::CloudWatch,
                "AccessDeniedException",
                "The KMS key is disabled",
                KmsDenied,
            ),
            (
                Step::PutObject,
                "NoSuchBucket",
                "The specified bucket does not exist",
                BucketMissing,
            ),
            (Step::PutObject, "AccessDenied", "Access Denied", PermissionDenied),
            (
                Step::PutObject,
                "KMS.DisabledException",
                "key disabled",
                KmsDenied,
            ),
            (
                Step::PutObject,
                "PermanentRedirect",
                "use the eu-central-1 endpoint",
                RegionMismatch,
            ),
        ];
        for (step, code, message, cause) in table {
            assert_eq!(cause_of(step, code, message), Some(cause), "{step:?} {code}");
        }
    }

    #[test]
    fn provider_side_failures_are_retried_not_parked() {
        let throttled = TargetError::aws(Step::CloudWatch, &error("ThrottlingException", "rate"), None);
        assert!(matches!(
            throttled,
            TargetError::Transient(DeliveryCause::Throttled, _)
        ));
        let outage = AwsError {
            status: Some(503),
            ..error("ServiceUnavailable", "down")
        };
        assert!(matches!(
            TargetError::aws(Step::PutObject, &outage, None),
            TargetError::Transient(DeliveryCause::AwsUnavailable, _)
        ));
        // The staging bucket is the provider's: a denied read is never the customer's.
        assert!(matches!(
            TargetError::aws(Step::ReadStaged, &error("AccessDenied", "denied"), None),
            TargetError::Transient(..)
        ));
        assert!(matches!(
            TargetError::aws(Step::ReadStaged, &error("NoSuchKey", "gone"), None),
            TargetError::Permanent("object_missing", _)
        ));
    }

    #[test]
    fn the_external_id_never_reaches_the_message() {
        let secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        let err = error("AccessDenied", &format!("ExternalId {secret} refused"));
        let classified = TargetError::aws(Step::AssumeRole, &err, Some(secret));
        assert!(!classified.message().contains(secret), "{}", classified.message());
    }
}

/// What a target acknowledged of one object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Events the target accepted (CloudWatch; 0 for S3).
    pub events: u64,
    /// Bytes delivered: message bytes for CloudWatch, the object's bytes for S3.
    pub bytes: u64,
    /// Events CloudWatch refused one by one.
    pub rejected_events: u64,
    /// Batches acknowledged, those of an earlier attempt included.
    pub batches: u64,
}

/// Where a sink reports each batch the target acknowledged, so that a later attempt
/// resumes after it (the delivery ledger's progress record).
pub trait Progress: Send + Sync {
    /// The first `batches` batches of the object (`events` events) are acknowledged.
    fn acked(&self, batches: u64, events: u64) -> impl std::future::Future<Output = ()> + Send;
}

/// Where an attempt starts: after the batches an earlier attempt had acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Batches not to send again.
    pub batches: u64,
    /// Events in them.
    pub events: u64,
}

//! Destinations a tenant's logs are delivered to, one module per sink, and how a delivery
//! to one of them fails.

pub mod adaptive;
pub mod cloudwatch;
pub mod discard;
pub mod s3;

use logspoke_aws::{classify, AwsError};
use logspoke_contract::Cause;

use crate::reader::{ReadError, ReadStats};

/// The AWS call that failed while delivering to a target (shared with `verify`).
pub use logspoke_aws::Step;

/// What a tenant reads of a failure on the provider's side (reading the staged object,
/// the delivery ledger): the detail is in the worker's log, never in the tenant's health
/// or replay.
pub const PROVIDER_SIDE: &str = "a problem on our side (reading the staged object or the delivery ledger), \
     not in your setup; retried automatically";

/// Why delivering an object to one target did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// A retry may succeed with nothing changed (throttling, an outage): the message is
    /// retried through the queue.
    Transient(Cause, String),
    /// The customer's setup refuses the object (or the config awaits verification), or the
    /// customer's account throttles it past the sink's few quick retries (its quota is the
    /// customer's state: the object waits parked and drains as the account accepts, instead
    /// of holding a slot or reaching the provider's DLQ): the object is parked for this
    /// target until the target works again.
    Customer(Cause, String),
    /// It never will; counted and logged as a rejection with this reason.
    Permanent(&'static str, String),
}

impl TargetError {
    /// Classifies a failed AWS call made at `step` while delivering to a target, with
    /// the causes `verify` reports ([`classify`]). The message never holds the
    /// ExternalId: `secret` is scrubbed from it.
    pub fn aws(step: Step, err: &AwsError, secret: Option<&str>) -> Self {
        let text = if step == Step::ReadStaged {
            // The provider's own bucket, role and key: AWS's text names them, which is for
            // the operators' logs, not the tenant's health or replay.
            tracing::warn!(error = %err.describe(secret), "reading a staged object failed");
            PROVIDER_SIDE.to_owned()
        } else {
            format!("{}: {}", step.action(), err.describe(secret))
        };
        match classify(step, err) {
            cause if !cause.is_transient() => Self::Customer(cause, text),
            // Throttled by the customer's own account (its log group or bucket): its quota
            // is the customer's state. Throttling of the provider's own calls (the staging
            // bucket, STS) stays a retry.
            Cause::Throttled if matches!(step, Step::CloudWatch | Step::PutObject) => {
                Self::Customer(Cause::Throttled, text)
            }
            _ if step == Step::ReadStaged && err.code() == "NoSuchKey" => {
                Self::Permanent("object_missing", text)
            }
            // Not the customer's doing and not known to pass: retried through the queue,
            // and after maxReceiveCount dead-lettered, nothing lost.
            cause => Self::Transient(cause, text),
        }
    }

    /// A refused write into the tenant's bucket names the other reason S3 refuses it: the
    /// bucket is not owned by the role's account (`ExpectedBucketOwner`).
    pub fn or_not_owned_by(self, owner: &str) -> Self {
        match self {
            Self::Customer(Cause::PermissionDenied, text) => Self::Customer(
                Cause::PermissionDenied,
                format!("{text} (the role may not write under the prefix, or the bucket is not owned by account {owner})"),
            ),
            other => other,
        }
    }

    /// The cause recorded in the target's health.
    pub fn cause(&self) -> Option<Cause> {
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

    #[test]
    fn customer_side_failures_are_parked_with_their_cause() {
        let missing = TargetError::aws(
            Step::CloudWatch,
            &error(
                "ResourceNotFoundException",
                "The specified log group does not exist.",
            ),
            None,
        );
        assert!(matches!(
            missing,
            TargetError::Customer(Cause::LogGroupMissing, text) if text.starts_with("logs:PutLogEvents")
        ));
    }

    #[test]
    fn a_provider_side_failure_tells_the_tenant_nothing_of_the_providers_roles_or_keys() {
        let denied = error(
            "AccessDenied",
            "User: arn:aws:sts::111111111111:assumed-role/logspoke-worker/w-1 is not authorized to perform: \
             kms:Decrypt on resource: arn:aws:kms:eu-west-1:111111111111:key/0b6e2f4c",
        );
        let failed = TargetError::aws(Step::ReadStaged, &denied, None);
        assert!(matches!(failed, TargetError::Transient(..)), "{failed:?}");
        for leak in ["arn:", "111111111111", "kms", "logspoke-worker"] {
            assert!(!failed.message().contains(leak), "{leak} in {}", failed.message());
        }
        assert_eq!(failed.message(), PROVIDER_SIDE);
    }

    #[test]
    fn a_write_refused_by_the_bucket_names_the_account_that_must_own_it() {
        let refused = TargetError::aws(Step::PutObject, &error("AccessDenied", "Access Denied"), None)
            .or_not_owned_by("222222222222");
        assert!(
            matches!(&refused, TargetError::Customer(Cause::PermissionDenied, text) if text.contains("not owned by account 222222222222")),
            "{refused:?}"
        );
    }

    #[test]
    fn provider_side_failures_are_retried_not_parked() {
        // The provider's own calls throttled: retried, never parked for the customer.
        let staging = TargetError::aws(Step::ReadStaged, &error("SlowDown", "reduce your rate"), None);
        assert!(
            matches!(staging, TargetError::Transient(Cause::Throttled, _)),
            "{staging:?}"
        );
        let sts = TargetError::aws(Step::AssumeRole, &error("Throttling", "Rate exceeded"), None);
        assert!(
            matches!(sts, TargetError::Transient(Cause::Throttled, _)),
            "{sts:?}"
        );
        let outage = AwsError {
            status: Some(503),
            ..error("ServiceUnavailable", "down")
        };
        assert!(matches!(
            TargetError::aws(Step::PutObject, &outage, None),
            TargetError::Transient(Cause::AwsUnavailable, _)
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
    fn the_customers_account_throttling_its_own_destination_parks() {
        let logs = TargetError::aws(Step::CloudWatch, &error("ThrottlingException", "rate"), None);
        assert!(
            matches!(logs, TargetError::Customer(Cause::Throttled, _)),
            "{logs:?}"
        );
        let bucket = TargetError::aws(Step::PutObject, &error("SlowDown", "reduce your rate"), None);
        assert!(
            matches!(bucket, TargetError::Customer(Cause::Throttled, _)),
            "{bucket:?}"
        );
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
    /// Bytes delivered: message bytes for CloudWatch (as formatted), the bytes written
    /// for S3.
    pub bytes: u64,
    /// Events CloudWatch refused one by one.
    pub rejected_events: u64,
    /// Batches acknowledged, those of an earlier attempt included.
    pub batches: u64,
    /// Lines the target's filter removed (`crate::filter`), over the whole object.
    pub events_filtered: u64,
}

/// The failure of a delivery whose read of the staged object failed: a retry when the
/// reader says one may pass (the body broke off), else the object is never deliverable.
pub fn read_failed(err: ReadError) -> TargetError {
    match err {
        err if err.is_retriable() => {
            tracing::warn!(error = %err, "reading a staged object failed mid-stream");
            TargetError::Transient(Cause::AwsUnavailable, PROVIDER_SIDE.to_owned())
        }
        err @ ReadError::TooLarge(_) => TargetError::Permanent("too_large", err.to_string()),
        err => TargetError::Permanent("unreadable_file", err.to_string()),
    }
}

/// Logs and counts the lines of an object that are not log events.
pub fn record_bad_lines(stats: &ReadStats) {
    if stats.bad_lines > 0 {
        tracing::warn!(
            bad_lines = stats.bad_lines,
            first_bad_line = stats.first_bad_line,
            "skipped lines that are not log events"
        );
        metrics::counter!("logspoke_worker_bad_lines_total").increment(stats.bad_lines);
    }
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

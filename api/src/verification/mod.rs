//! The trial AssumeRole: prove a delivery config works exactly as the worker will use
//! it, and that the customer's role refuses anyone without the tenant's ExternalId.
//!
//! The steps are pure logic over [`TargetAccess`], so every outcome is unit-tested with
//! a fake; the real implementation runs against AWS (or the emulator in tests).
//!
//! The ExternalId check assumes the role with a random *wrong* ExternalId. Assuming with
//! none would prove nothing: the provider role's own policy refuses every AssumeRole that
//! carries no ExternalId, so that call fails whatever the customer's trust policy says.

pub mod explain;
pub mod rate_limit;
#[cfg(test)]
mod tests;

use std::future::Future;

use chrono::{DateTime, Utc};
use logspoke_aws::{classify, Step};
use logspoke_contract::{
    BucketName, BucketPrefix, Cause, DeliveryTarget, ExternalId, KmsKeyArn, LogGroupName, Region, RoleArn,
    StorageClass, TenantId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::aws::error::{AwsError, AwsErrorKind};
use explain::{explain_assume, explain_probe};

/// Stream the CloudWatch probe creates and writes one labelled event to.
pub const VERIFICATION_STREAM: &str = "logspoke-verification";

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check succeeded.
    Passed,
    /// The check failed; `cause` says why.
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

/// One step of a verification, with an actionable cause when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Check {
    /// `assume_role`, `external_id_required`, `cloudwatch_write` or `s3_write`.
    pub name: String,
    /// Passed, failed or skipped.
    pub status: CheckStatus,
    /// Machine-readable reason of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// What happened and what to do about it.
    pub message: String,
}

impl Check {
    fn passed(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Passed,
            cause: None,
            message: message.into(),
        }
    }

    fn failed(name: &str, cause: Cause, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Failed,
            cause: Some(cause),
            message: message.into(),
        }
    }

    fn skipped(name: &str) -> Self {
        let message = "not run: an earlier check failed";
        Self {
            name: name.to_owned(),
            status: CheckStatus::Skipped,
            cause: None,
            message: message.into(),
        }
    }
}

/// Stored verification state of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Never verified, or changed since.
    Unverified,
    /// The last verification passed (or an operator forced it).
    Verified,
    /// The last verification failed.
    Failed,
}

impl VerificationStatus {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }

    /// Parses the database spelling.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "unverified" => Ok(Self::Unverified),
            "verified" => Ok(Self::Verified),
            "failed" => Ok(Self::Failed),
            other => Err(format!("'{other}' is not unverified, verified or failed")),
        }
    }
}

/// The verification part of a config response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// Unverified, verified or failed.
    pub status: VerificationStatus,
    /// When the last verification ran.
    pub checked_at: Option<DateTime<Utc>>,
    /// What the last verification found.
    pub checks: Vec<Check>,
}

/// Everything a verification needs to know about a config.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The tenant (names the role session).
    pub tenant_id: TenantId,
    /// The customer's role.
    pub role_arn: RoleArn,
    /// The tenant's ExternalId.
    pub external_id: ExternalId,
    /// Where the target lives.
    pub region: Region,
    /// What to probe.
    pub target: DeliveryTarget,
    /// S3: the storage class and KMS key the worker writes copies with, which the
    /// probe's marker is written with too (a role that may not use the key fails here).
    pub storage: (Option<StorageClass>, Option<KmsKeyArn>),
}

/// An assumed customer-role session, opaque to the verification logic.
pub trait Session: Send + Sync {}

/// A failed probe: which action failed, and how.
#[derive(Debug, Clone)]
pub struct ProbeError {
    /// The IAM action that failed, e.g. `logs:PutLogEvents`.
    pub action: &'static str,
    /// The AWS error.
    pub error: AwsError,
}

/// The AWS operations verification needs, and nothing more.
pub trait TargetAccess: Send + Sync {
    /// An assumed customer-role session.
    type Session: Session;

    /// Assumes the customer role through the provider role with `external_id` (always
    /// one: the provider's policy refuses calls without).
    fn assume(
        &self,
        subject: &Subject,
        external_id: &ExternalId,
    ) -> impl Future<Output = Result<Self::Session, AwsError>> + Send;

    /// Creates the verification stream (if missing) and writes one labelled event.
    fn probe_cloudwatch(
        &self,
        session: &Self::Session,
        subject: &Subject,
        log_group: &LogGroupName,
    ) -> impl Future<Output = Result<(), ProbeError>> + Send;

    /// Puts a small marker object under the prefix and deletes it.
    fn probe_s3(
        &self,
        session: &Self::Session,
        subject: &Subject,
        bucket: &BucketName,
        prefix: &BucketPrefix,
    ) -> impl Future<Output = Result<(), ProbeError>> + Send;
}

/// Runs every check against `subject` (the config is verified when all passed),
/// appending each to `checks` as soon as it is known: a caller that
/// gives up (a timeout) keeps what finished, so a failure found before the deadline is
/// never lost behind the timeout.
pub async fn run_into<A: TargetAccess>(aws: &A, subject: &Subject, checks: &mut Vec<Check>) {
    let secret = subject.external_id.to_string();
    let probe_name = match subject.target {
        DeliveryTarget::CloudWatch { .. } => "cloudwatch_write",
        DeliveryTarget::S3 { .. } => "s3_write",
    };
    let session = match aws.assume(subject, &subject.external_id).await {
        Ok(session) => session,
        Err(err) => {
            let (cause, message) = explain_assume(&err, subject, &secret);
            checks.push(Check::failed("assume_role", cause, message));
            // A role we cannot assume at all also refuses a wrong ExternalId: that proves nothing.
            checks.extend([Check::skipped(EXTERNAL_ID_CHECK), Check::skipped(probe_name)]);
            return;
        }
    };
    checks.push(Check::passed(
        "assume_role",
        format!("assumed {} with the tenant's ExternalId", subject.role_arn),
    ));
    checks.push(refuses_a_wrong_external_id(aws, subject).await);
    checks.push(probe(aws, &session, subject, probe_name).await);
}

/// Name of the ExternalId check (clients read it).
const EXTERNAL_ID_CHECK: &str = "external_id_required";

/// A role that lets the provider in with an ExternalId other than the tenant's (none at
/// all, or any value) is a confused-deputy risk: whoever learns its ARN can make Logspoke
/// deliver into it. Probed with a fresh random value, never stored or shown.
async fn refuses_a_wrong_external_id<A: TargetAccess>(aws: &A, subject: &Subject) -> Check {
    let wrong = wrong_external_id(&subject.external_id);
    match aws.assume(subject, &wrong).await {
        Ok(_) => Check::failed(
            EXTERNAL_ID_CHECK,
            Cause::ExternalIdNotRequired,
            format!(
                "{} can be assumed with an ExternalId that is not the tenant's, so anyone who learns \
                 its ARN could make Logspoke deliver into it; its trust policy must require \
                 sts:ExternalId to equal the tenant's ExternalId (StringEquals, as the onboarding \
                 template does)",
                subject.role_arn
            ),
        ),
        Err(err) => wrong_external_id_refused(&err, subject, &wrong),
    }
}

/// The check's result when AssumeRole with the wrong ExternalId failed: only a denial
/// proves the trust policy pins the ExternalId; a transient failure proves nothing yet
/// and has the cause delivery would report; any other answer proves nothing either way.
fn wrong_external_id_refused(err: &AwsError, subject: &Subject, wrong: &ExternalId) -> Check {
    let detail = err
        .describe(Some(wrong.as_str()))
        .replace(subject.external_id.as_str(), "<external-id>");
    if err.is_transient() {
        let message = if err.kind == AwsErrorKind::Timeout {
            "AssumeRole did not answer in time".to_owned()
        } else {
            format!("could not check, try again: {detail}")
        };
        Check::failed(EXTERNAL_ID_CHECK, classify(Step::AssumeRole, err), message)
    } else if err.status == Some(403) || err.code().starts_with("AccessDenied") {
        Check::passed(
            EXTERNAL_ID_CHECK,
            "the role refused a random ExternalId that is not the tenant's",
        )
    } else {
        Check::failed(
            EXTERNAL_ID_CHECK,
            Cause::AwsUnavailable,
            format!("could not check, AssumeRole answered unexpectedly; try again: {detail}"),
        )
    }
}

/// A random ExternalId of the same shape as a real one, different from the tenant's.
fn wrong_external_id(tenant: &ExternalId) -> ExternalId {
    loop {
        let candidate = ExternalId::generate();
        if candidate != *tenant {
            return candidate;
        }
    }
}

async fn probe<A: TargetAccess>(aws: &A, session: &A::Session, subject: &Subject, name: &str) -> Check {
    let result = match &subject.target {
        DeliveryTarget::CloudWatch { log_group_name, .. } => {
            aws.probe_cloudwatch(session, subject, log_group_name).await
        }
        DeliveryTarget::S3 {
            bucket_name,
            bucket_prefix,
        } => aws.probe_s3(session, subject, bucket_name, bucket_prefix).await,
    };
    match result {
        Ok(()) => Check::passed(name, success_message(subject)),
        Err(err) => {
            let (cause, message) = explain_probe(&err, subject);
            Check::failed(name, cause, message)
        }
    }
}

fn success_message(subject: &Subject) -> String {
    match &subject.target {
        DeliveryTarget::CloudWatch {
            log_group_name: log_group,
            ..
        } => format!(
            "wrote a verification event to {log_group}/{VERIFICATION_STREAM} in {}",
            subject.region.as_str()
        ),
        DeliveryTarget::S3 {
            bucket_name: bucket,
            bucket_prefix: prefix,
        } => {
            format!("put and deleted a marker object under s3://{bucket}/{prefix}")
        }
    }
}

/// Whether every check passed.
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status == CheckStatus::Passed)
}

/// What a finished verification means for the stored config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed: store `verified`.
    Verified,
    /// A check failed for a reason the customer must fix: store `failed`.
    Failed,
    /// Every failure was transient (AWS unreachable, throttling, a timeout): store
    /// nothing, so a verified config stays verified, and ask the client to retry.
    Unavailable,
}

/// Classifies a verification's checks (see [`Outcome`]).
pub fn outcome(checks: &[Check]) -> Outcome {
    if all_passed(checks) {
        return Outcome::Verified;
    }
    let mut failures = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .peekable();
    let transient_only =
        failures.peek().is_some() && failures.all(|c| c.cause.is_some_and(Cause::is_transient));
    if transient_only {
        Outcome::Unavailable
    } else {
        Outcome::Failed
    }
}

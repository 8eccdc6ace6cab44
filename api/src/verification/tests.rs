//! Every verification outcome, driven by a fake `TargetAccess`.

use logspoke_contract::{BucketName, BucketPrefix, ExternalId, LogGroupName, Region, RoleArn, TenantId};

use super::classify::Cause;
use super::*;
use crate::aws::error::{AwsError, AwsErrorKind};

struct FakeSession;
impl Session for FakeSession {}

/// Scripted answers for each call.
struct Fake {
    with_external_id: Result<(), AwsError>,
    without_external_id: Result<(), AwsError>,
    probe: Result<(), ProbeError>,
}

impl Fake {
    fn healthy() -> Self {
        Self {
            with_external_id: Ok(()),
            without_external_id: Err(AwsError::service("AccessDenied", 403, "not authorized")),
            probe: Ok(()),
        }
    }
}

impl TargetAccess for Fake {
    type Session = FakeSession;

    async fn assume(&self, _: &Subject, external_id: Option<&ExternalId>) -> Result<FakeSession, AwsError> {
        let answer = if external_id.is_some() {
            &self.with_external_id
        } else {
            &self.without_external_id
        };
        answer.clone().map(|()| FakeSession)
    }

    async fn probe_cloudwatch(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &LogGroupName,
    ) -> Result<(), ProbeError> {
        self.probe.clone()
    }

    async fn probe_s3(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &BucketName,
        _: &BucketPrefix,
    ) -> Result<(), ProbeError> {
        self.probe.clone()
    }
}

fn subject(target: ProbeTarget) -> Subject {
    Subject {
        tenant_id: TenantId::parse("acme").unwrap(),
        role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/LogspokeDelivery").unwrap(),
        external_id: ExternalId::parse("Secret0123456789Secret0123456789ab").unwrap(),
        region: Region::parse("eu-west-1").unwrap(),
        target,
    }
}

fn cloudwatch() -> Subject {
    subject(ProbeTarget::CloudWatch {
        log_group: LogGroupName::parse("/logspoke/acme").unwrap(),
    })
}

fn s3() -> Subject {
    subject(ProbeTarget::S3 {
        bucket: BucketName::parse("acme-logs").unwrap(),
        prefix: BucketPrefix::parse("k8s").unwrap(),
    })
}

fn probe_error(action: &'static str, code: &str, status: u16) -> Result<(), ProbeError> {
    Err(ProbeError {
        action,
        error: AwsError::service(code, status, "denied"),
    })
}

fn summary(checks: &[Check]) -> Vec<(&str, CheckStatus, Option<Cause>)> {
    checks
        .iter()
        .map(|c| (c.name.as_str(), c.status, c.cause))
        .collect()
}

#[tokio::test]
async fn a_well_configured_role_passes_every_check() {
    let checks = run(&Fake::healthy(), &cloudwatch()).await;
    assert!(all_passed(&checks), "{checks:?}");
    assert_eq!(
        summary(&checks),
        [
            ("assume_role", CheckStatus::Passed, None),
            ("external_id_required", CheckStatus::Passed, None),
            ("cloudwatch_write", CheckStatus::Passed, None),
        ]
    );
}

#[tokio::test]
async fn an_unassumable_role_skips_the_probe() {
    let fake = Fake {
        with_external_id: Err(AwsError::service(
            "AccessDenied",
            403,
            "User is not authorized to perform sts:AssumeRole",
        )),
        ..Fake::healthy()
    };
    let checks = run(&fake, &cloudwatch()).await;
    assert_eq!(
        summary(&checks),
        [
            ("assume_role", CheckStatus::Failed, Some(Cause::RoleNotAssumable)),
            ("external_id_required", CheckStatus::Passed, None),
            ("cloudwatch_write", CheckStatus::Skipped, None),
        ]
    );
}

#[tokio::test]
async fn an_error_naming_the_external_id_is_a_mismatch_and_never_echoes_it() {
    let secret = "Secret0123456789Secret0123456789ab";
    let fake = Fake {
        with_external_id: Err(AwsError::service(
            "AccessDenied",
            403,
            &format!("ExternalId {secret} does not match the trust policy"),
        )),
        ..Fake::healthy()
    };
    let checks = run(&fake, &cloudwatch()).await;
    assert_eq!(checks[0].cause, Some(Cause::ExternalIdMismatch));
    assert!(checks.iter().all(|c| !c.message.contains(secret)), "{checks:?}");
}

#[tokio::test]
async fn a_role_assumable_without_external_id_fails() {
    let fake = Fake {
        without_external_id: Ok(()),
        ..Fake::healthy()
    };
    let checks = run(&fake, &s3()).await;
    assert!(!all_passed(&checks));
    assert_eq!(checks[1].cause, Some(Cause::ExternalIdNotRequired));
    assert_eq!(checks[2].status, CheckStatus::Passed);
}

#[tokio::test]
async fn probe_failures_map_to_actionable_causes() {
    let cases = [
        (
            cloudwatch(),
            probe_error("logs:PutLogEvents", "AccessDeniedException", 400),
            Cause::PermissionDenied,
        ),
        (
            cloudwatch(),
            probe_error("logs:CreateLogStream", "ResourceNotFoundException", 400),
            Cause::LogGroupNotFound,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "NoSuchBucket", 404),
            Cause::BucketNotFound,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "AccessDenied", 403),
            Cause::PermissionDenied,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "PermanentRedirect", 301),
            Cause::RegionMismatch,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "AuthorizationHeaderMalformed", 400),
            Cause::RegionMismatch,
        ),
        (
            cloudwatch(),
            probe_error("logs:PutLogEvents", "ThrottlingException", 400),
            Cause::AwsUnavailable,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "InternalError", 500),
            Cause::AwsUnavailable,
        ),
    ];
    for (subject, probe, cause) in cases {
        let action = probe.as_ref().err().map(|p| p.action).unwrap();
        let fake = Fake {
            probe,
            ..Fake::healthy()
        };
        let checks = run(&fake, &subject).await;
        assert_eq!(checks[2].cause, Some(cause), "{action}");
        if cause == Cause::PermissionDenied {
            assert!(checks[2].message.contains(action), "{}", checks[2].message);
        }
    }
}

#[tokio::test]
async fn timeouts_are_reported_as_such() {
    let timeout = AwsError {
        code: None,
        message: None,
        status: None,
        kind: AwsErrorKind::Timeout,
    };
    let fake = Fake {
        with_external_id: Err(timeout.clone()),
        ..Fake::healthy()
    };
    assert_eq!(run(&fake, &cloudwatch()).await[0].cause, Some(Cause::Timeout));
    let fake = Fake {
        probe: Err(ProbeError {
            action: "s3:PutObject",
            error: timeout,
        }),
        ..Fake::healthy()
    };
    assert_eq!(run(&fake, &s3()).await[2].cause, Some(Cause::Timeout));
}

#[tokio::test]
async fn an_unreachable_sts_is_not_blamed_on_the_customer() {
    let down = AwsError {
        code: None,
        message: Some("connection refused".into()),
        status: None,
        kind: AwsErrorKind::Transport,
    };
    let fake = Fake {
        with_external_id: Err(down.clone()),
        without_external_id: Err(down),
        probe: Ok(()),
    };
    let checks = run(&fake, &cloudwatch()).await;
    assert_eq!(checks[0].cause, Some(Cause::AwsUnavailable));
    assert_eq!(checks[1].cause, Some(Cause::AwsUnavailable));
}

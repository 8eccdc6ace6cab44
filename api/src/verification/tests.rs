//! Every verification outcome, driven by a fake `TargetAccess`.

use logspoke_contract::{
    BucketName, BucketPrefix, Cause, ExternalId, LogGroupName, Region, RoleArn, TenantId,
};

use super::*;
use crate::aws::error::{AwsError, AwsErrorKind};

/// All checks of one verification, run to the end.
async fn run<A: TargetAccess>(aws: &A, subject: &Subject) -> Vec<Check> {
    let mut checks = Vec::new();
    run_into(aws, subject, &mut checks).await;
    checks
}

struct FakeSession;
impl Session for FakeSession {}

/// Scripted answers for each call.
struct Fake {
    /// AssumeRole with the tenant's ExternalId.
    with_tenants_id: Result<(), AwsError>,
    /// AssumeRole with any other ExternalId.
    with_another_id: Result<(), AwsError>,
    probe: Result<(), ProbeError>,
}

fn access_denied() -> AwsError {
    AwsError::service("AccessDenied", 403, "not authorized to perform sts:AssumeRole")
}

impl Fake {
    fn healthy() -> Self {
        Self {
            with_tenants_id: Ok(()),
            with_another_id: Err(access_denied()),
            probe: Ok(()),
        }
    }
}

impl TargetAccess for Fake {
    type Session = FakeSession;

    async fn assume(&self, subject: &Subject, external_id: &ExternalId) -> Result<FakeSession, AwsError> {
        let answer = if *external_id == subject.external_id {
            &self.with_tenants_id
        } else {
            &self.with_another_id
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

/// What a customer role's trust policy lets the provider role in with.
#[derive(Debug, Clone, Copy)]
enum Trust {
    /// `StringEquals sts:ExternalId` = the tenant's value (the onboarding template).
    Pinned,
    /// `Null sts:ExternalId = false`: any ExternalId, as long as there is one.
    AnyExternalId,
    /// No condition at all.
    Unconditional,
}

/// STS as production sees it: the provider role's own policy refuses every AssumeRole
/// that carries no ExternalId; past that, the customer role's trust policy decides.
/// Records each ExternalId it is sent.
struct ProductionSts {
    trust: Trust,
    sent: std::sync::Mutex<Vec<String>>,
}

impl ProductionSts {
    fn new(trust: Trust) -> Self {
        Self {
            trust,
            sent: Default::default(),
        }
    }

    fn answer(&self, tenants: &ExternalId, sent: Option<&ExternalId>) -> Result<(), AwsError> {
        let Some(sent) = sent else {
            return Err(access_denied()); // the provider policy's condition
        };
        self.sent.lock().unwrap().push(sent.to_string());
        match self.trust {
            Trust::Pinned if sent != tenants => Err(access_denied()),
            Trust::Pinned | Trust::AnyExternalId | Trust::Unconditional => Ok(()),
        }
    }
}

impl TargetAccess for ProductionSts {
    type Session = FakeSession;

    async fn assume(&self, subject: &Subject, external_id: &ExternalId) -> Result<FakeSession, AwsError> {
        self.answer(&subject.external_id, Some(external_id))
            .map(|()| FakeSession)
    }

    async fn probe_cloudwatch(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &LogGroupName,
    ) -> Result<(), ProbeError> {
        Ok(())
    }

    async fn probe_s3(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &BucketName,
        _: &BucketPrefix,
    ) -> Result<(), ProbeError> {
        Ok(())
    }
}

fn subject(target: DeliveryTarget) -> Subject {
    Subject {
        tenant_id: TenantId::parse("acme").unwrap(),
        role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/LogspokeDelivery").unwrap(),
        external_id: ExternalId::parse("Secret0123456789Secret0123456789ab").unwrap(),
        region: Region::parse("eu-west-1").unwrap(),
        target,
        storage: (None, None),
    }
}

fn cloudwatch() -> Subject {
    subject(DeliveryTarget::CloudWatch {
        log_group_name: LogGroupName::parse("/logspoke/acme").unwrap(),
        log_stream_template: None,
    })
}

fn s3() -> Subject {
    subject(DeliveryTarget::S3 {
        bucket_name: BucketName::parse("acme-logs").unwrap(),
        bucket_prefix: BucketPrefix::parse("k8s").unwrap(),
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
        with_tenants_id: Err(access_denied()),
        ..Fake::healthy()
    };
    let checks = run(&fake, &cloudwatch()).await;
    // A role that refuses everyone refuses a wrong ExternalId too: that proves nothing.
    assert_eq!(
        summary(&checks),
        [
            ("assume_role", CheckStatus::Failed, Some(Cause::RoleNotAssumable)),
            ("external_id_required", CheckStatus::Skipped, None),
            ("cloudwatch_write", CheckStatus::Skipped, None),
        ]
    );
}

#[tokio::test]
async fn an_error_naming_the_external_id_is_a_mismatch_and_never_echoes_it() {
    let secret = "Secret0123456789Secret0123456789ab";
    let fake = Fake {
        with_tenants_id: Err(AwsError::service(
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
async fn a_role_that_accepts_another_external_id_fails() {
    let fake = Fake {
        with_another_id: Ok(()),
        ..Fake::healthy()
    };
    let checks = run(&fake, &s3()).await;
    assert_eq!(outcome(&checks), Outcome::Failed);
    assert_eq!(checks[1].cause, Some(Cause::ExternalIdNotRequired));
    assert_eq!(checks[2].status, CheckStatus::Passed);
}

#[tokio::test]
async fn behind_the_provider_policy_a_role_that_accepts_any_external_id_fails() {
    // Assuming *without* an ExternalId is refused by the provider policy whatever the
    // role says, so only a wrong ExternalId tells these roles from a pinned one.
    for trust in [Trust::AnyExternalId, Trust::Unconditional] {
        let sts = ProductionSts::new(trust);
        assert!(sts.answer(&cloudwatch().external_id, None).is_err());
        let checks = run(&sts, &cloudwatch()).await;
        assert_eq!(
            summary(&checks),
            [
                ("assume_role", CheckStatus::Passed, None),
                (
                    "external_id_required",
                    CheckStatus::Failed,
                    Some(Cause::ExternalIdNotRequired)
                ),
                ("cloudwatch_write", CheckStatus::Passed, None),
            ],
            "{trust:?}"
        );
        assert_eq!(outcome(&checks), Outcome::Failed);
    }
}

#[tokio::test]
async fn behind_the_provider_policy_a_pinned_role_passes() {
    let checks = run(&ProductionSts::new(Trust::Pinned), &cloudwatch()).await;
    assert_eq!(outcome(&checks), Outcome::Verified, "{checks:?}");
}

#[tokio::test]
async fn the_wrong_external_id_is_fresh_random_shaped_like_a_real_one_and_never_shown() {
    let subject = cloudwatch();
    let tenants = subject.external_id.to_string();
    let sts = ProductionSts::new(Trust::AnyExternalId);
    let mut messages = Vec::new();
    for _ in 0..2 {
        messages.extend(run(&sts, &subject).await.into_iter().map(|c| c.message));
    }
    let sent = sts.sent.lock().unwrap().clone();
    let wrong: Vec<&String> = sent.iter().filter(|id| **id != tenants).collect();
    assert_eq!((sent.len(), wrong.len()), (4, 2), "{sent:?}");
    assert_ne!(wrong[0], wrong[1], "a new value per verification");
    for id in wrong {
        assert!(
            id.len() >= 32 && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id}"
        );
        assert!(messages.iter().all(|m| !m.contains(id.as_str())), "{messages:?}");
    }
}

#[tokio::test]
async fn a_transient_failure_of_the_external_id_check_is_not_blamed_on_the_customer() {
    let cases = [
        (
            AwsError::service("Throttling", 400, "Rate exceeded"),
            Cause::Throttled,
        ),
        (
            AwsError {
                code: None,
                message: None,
                status: None,
                kind: AwsErrorKind::Timeout,
            },
            Cause::AwsUnavailable,
        ),
    ];
    for (error, cause) in cases {
        let fake = Fake {
            with_another_id: Err(error),
            ..Fake::healthy()
        };
        let checks = run(&fake, &cloudwatch()).await;
        assert_eq!(checks[1].cause, Some(cause));
        assert_eq!(outcome(&checks), Outcome::Unavailable);
    }
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
            Cause::LogGroupMissing,
        ),
        (
            s3(),
            probe_error("s3:PutObject", "NoSuchBucket", 404),
            Cause::BucketMissing,
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
            Cause::Throttled,
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
        with_tenants_id: Err(timeout.clone()),
        ..Fake::healthy()
    };
    // A call that did not answer is `aws_unavailable`, as in delivery health; the
    // message says it timed out.
    let assume = &run(&fake, &cloudwatch()).await[0];
    assert_eq!(assume.cause, Some(Cause::AwsUnavailable));
    assert_eq!(assume.message, "AssumeRole did not answer in time");
    let fake = Fake {
        probe: Err(ProbeError {
            action: "s3:PutObject",
            error: timeout,
        }),
        ..Fake::healthy()
    };
    let probe = &run(&fake, &s3()).await[2];
    assert_eq!(probe.cause, Some(Cause::AwsUnavailable));
    assert_eq!(probe.message, "s3:PutObject did not answer in time");
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
        with_tenants_id: Err(down.clone()),
        with_another_id: Err(down),
        probe: Ok(()),
    };
    let checks = run(&fake, &cloudwatch()).await;
    assert_eq!(checks[0].cause, Some(Cause::AwsUnavailable));
    assert_eq!(checks[1].status, CheckStatus::Skipped);
    assert_eq!(outcome(&checks), Outcome::Unavailable);
}

fn failed(cause: Cause) -> Check {
    Check::failed("some_check", cause, "failed")
}

#[test]
fn only_a_verification_that_failed_for_transient_reasons_alone_is_unavailable() {
    let passed = Check::passed("assume_role", "ok");
    let skipped = Check::skipped("cloudwatch_write");
    let cases = [
        (vec![passed.clone(), passed.clone()], Outcome::Verified),
        (
            vec![failed(Cause::AwsUnavailable), skipped.clone()],
            Outcome::Unavailable,
        ),
        (vec![passed.clone(), failed(Cause::Timeout)], Outcome::Unavailable),
        (
            vec![
                passed.clone(),
                failed(Cause::Timeout),
                failed(Cause::AwsUnavailable),
            ],
            Outcome::Unavailable,
        ),
        // A customer-caused failure is stored even when something else was transient.
        (
            vec![
                failed(Cause::ExternalIdNotRequired),
                failed(Cause::AwsUnavailable),
            ],
            Outcome::Failed,
        ),
        (vec![failed(Cause::RoleNotAssumable), skipped], Outcome::Failed),
        (vec![passed, failed(Cause::OnboardingRequired)], Outcome::Failed),
    ];
    for (checks, expected) in cases {
        assert_eq!(outcome(&checks), expected, "{checks:?}");
    }
}

/// An unpinned role whose target never answers: the probe hangs.
struct HangingProbe;

impl TargetAccess for HangingProbe {
    type Session = FakeSession;

    async fn assume(&self, _: &Subject, _: &ExternalId) -> Result<FakeSession, AwsError> {
        Ok(FakeSession)
    }

    async fn probe_cloudwatch(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &LogGroupName,
    ) -> Result<(), ProbeError> {
        std::future::pending().await
    }

    async fn probe_s3(
        &self,
        _: &FakeSession,
        _: &Subject,
        _: &BucketName,
        _: &BucketPrefix,
    ) -> Result<(), ProbeError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_slow_probe_cannot_hide_a_failed_external_id_check_behind_a_timeout() {
    let mut checks = Vec::new();
    let subject = cloudwatch();
    let run = run_into(&HangingProbe, &subject, &mut checks);
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), run)
        .await
        .is_err();
    assert!(timed_out);
    assert_eq!(
        summary(&checks),
        [
            ("assume_role", CheckStatus::Passed, None),
            (
                "external_id_required",
                CheckStatus::Failed,
                Some(Cause::ExternalIdNotRequired)
            ),
        ]
    );
    // With the handler's timeout check added, the outcome is a stored failure, not a 503.
    checks.push(Check::failed("verification", Cause::Timeout, "timed out"));
    assert_eq!(outcome(&checks), Outcome::Failed);
}

#[tokio::test]
async fn only_a_denial_of_the_wrong_external_id_passes_the_check() {
    let fake = Fake {
        with_another_id: Err(AwsError::service("ValidationError", 400, "something else")),
        ..Fake::healthy()
    };
    let checks = run(&fake, &cloudwatch()).await;
    assert_eq!(checks[1].status, CheckStatus::Failed);
    assert_eq!(checks[1].cause, Some(Cause::AwsUnavailable));
    let denied = Fake {
        with_another_id: Err(AwsError::service("AccessDenied", 403, "not authorized")),
        ..Fake::healthy()
    };
    assert_eq!(run(&denied, &cloudwatch()).await[1].status, CheckStatus::Passed);
}

//! The real [`TargetAccess`]: the provider role chain, then least-harm writes to the
//! customer's CloudWatch Logs or S3 with the customer-role session, through the same
//! clients the worker delivers with (`logspoke_aws::clients`).

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use logspoke_contract::{BucketName, BucketPrefix, ExternalId, LogGroupName};

use super::chain::{session_name, RoleChain};
use super::error::AwsError;
use crate::verification::{ProbeError, Session, Subject, TargetAccess, VERIFICATION_STREAM};

/// Verification sessions are short: they only need a few calls.
const VERIFY_SESSION: Duration = Duration::from_secs(900);

/// Customer-role credentials for one verification.
pub struct CustomerSession(Credentials);

impl Session for CustomerSession {}

/// Verification against real AWS (or the emulator).
#[derive(Debug, Clone)]
pub struct AwsTargetAccess {
    chain: Arc<RoleChain>,
}

impl AwsTargetAccess {
    /// Uses `chain` for every assumption.
    pub fn new(chain: Arc<RoleChain>) -> Self {
        Self { chain }
    }

    /// The role chain, shared with what else assumes customer roles (notifications).
    pub fn chain(&self) -> Arc<RoleChain> {
        self.chain.clone()
    }

    fn logs(&self, session: &CustomerSession, subject: &Subject) -> aws_sdk_cloudwatchlogs::Client {
        logspoke_aws::clients::tenant_logs(self.chain.sdk(), session.0.clone(), &subject.region)
    }

    fn s3(&self, session: &CustomerSession, subject: &Subject) -> aws_sdk_s3::Client {
        logspoke_aws::clients::tenant_s3(self.chain.sdk(), session.0.clone(), &subject.region)
    }
}

fn failed(action: &'static str) -> impl FnOnce(AwsError) -> ProbeError {
    move |error| ProbeError { action, error }
}

impl TargetAccess for AwsTargetAccess {
    type Session = CustomerSession;

    async fn assume(&self, subject: &Subject, external_id: &ExternalId) -> Result<CustomerSession, AwsError> {
        let name = session_name("logspoke-verify", subject.tenant_id.as_str());
        let credentials = self
            .chain
            .assume_customer(&subject.role_arn, external_id, &name, VERIFY_SESSION)
            .await?;
        Ok(CustomerSession(credentials))
    }

    async fn probe_cloudwatch(
        &self,
        session: &CustomerSession,
        subject: &Subject,
        log_group: &LogGroupName,
    ) -> Result<(), ProbeError> {
        let logs = self.logs(session, subject);
        let created = logs
            .create_log_stream()
            .log_group_name(log_group.as_str())
            .log_stream_name(VERIFICATION_STREAM)
            .send()
            .await
            .map_err(AwsError::from);
        match created {
            Ok(_) => {}
            Err(err) if err.code() == "ResourceAlreadyExistsException" => {}
            Err(err) => return Err(failed("logs:CreateLogStream")(err)),
        }
        let event = InputLogEvent::builder()
            .timestamp(chrono::Utc::now().timestamp_millis())
            .message(format!(
                "Logspoke delivery verification for tenant {}: this role can write to this log group.",
                subject.tenant_id
            ))
            .build()
            .map_err(|e| failed("logs:PutLogEvents")(local_error(e.to_string())))?;
        logs.put_log_events()
            .log_group_name(log_group.as_str())
            .log_stream_name(VERIFICATION_STREAM)
            .log_events(event)
            .send()
            .await
            .map_err(|e| failed("logs:PutLogEvents")(AwsError::from(e)))?;
        Ok(())
    }

    async fn probe_s3(
        &self,
        session: &CustomerSession,
        subject: &Subject,
        bucket: &BucketName,
        prefix: &BucketPrefix,
    ) -> Result<(), ProbeError> {
        let s3 = self.s3(session, subject);
        let key = format!("{prefix}_logspoke-verification/{}.txt", uuid::Uuid::new_v4());
        let body = format!(
            "Logspoke delivery verification for tenant {}: this role can write here. Safe to delete.\n",
            subject.tenant_id
        );
        // The bucket must be the role's own account's, as for the worker's copies: a bucket
        // of that name in another account refuses the probe instead of passing it.
        let owner = subject.role_arn.account_id();
        let (class, kms_key) = &subject.storage;
        logspoke_aws::clients::tenant_put_object(&s3, bucket, owner, &key, *class, kms_key.as_ref())
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|e| failed("s3:PutObject")(AwsError::from(e)))?;
        s3.delete_object()
            .bucket(bucket.as_str())
            .expected_bucket_owner(owner)
            .key(&key)
            .send()
            .await
            .map_err(|e| failed("s3:DeleteObject")(AwsError::from(e)))?;
        Ok(())
    }
}

fn local_error(message: String) -> AwsError {
    AwsError {
        code: None,
        message: Some(message),
        status: None,
        kind: super::error::AwsErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use logspoke_contract::{DeliveryTarget, RoleArn, TenantId};

    use super::*;

    #[tokio::test]
    async fn the_s3_probe_names_the_account_that_must_own_the_bucket() {
        let (endpoint, heads) = logspoke_test_support::recording_s3::start().await;
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(endpoint)
            .build();
        let provider = RoleArn::parse("arn:aws:iam::111111111111:role/logspoke-provider").unwrap();
        let access = AwsTargetAccess::new(RoleChain::new(sdk, provider));
        let bucket = BucketName::parse("acme-logs").unwrap();
        let prefix = BucketPrefix::parse("k8s/").unwrap();
        let subject = Subject {
            tenant_id: TenantId::parse("acme").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/Delivery").unwrap(),
            external_id: ExternalId::generate(),
            region: logspoke_contract::Region::parse("eu-west-1").unwrap(),
            target: DeliveryTarget::S3 {
                bucket_name: bucket.clone(),
                bucket_prefix: prefix.clone(),
            },
            storage: (
                Some(logspoke_contract::StorageClass::StandardIa),
                Some(
                    logspoke_contract::KmsKeyArn::parse(
                        "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    )
                    .unwrap(),
                ),
            ),
        };
        let session = CustomerSession(Credentials::new("AKID", "secret", None, None, "test"));
        access
            .probe_s3(&session, &subject, &bucket, &prefix)
            .await
            .unwrap();
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2, "the marker put and deleted: {heads:?}");
        // The marker is written as the worker writes copies: a role that may not use
        // the key fails verification, not the first delivery. (Heads are recorded lowercased.)
        assert!(
            heads[0].contains("x-amz-storage-class: standard_ia"),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].contains("x-amz-server-side-encryption: aws:kms"),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].contains(
                "x-amz-server-side-encryption-aws-kms-key-id: arn:aws:kms:eu-west-1:222222222222:key/"
            ),
            "{}",
            heads[0]
        );
        for head in heads {
            assert!(
                head.contains("x-amz-expected-bucket-owner: 222222222222"),
                "a bucket of that name in another account must refuse the probe: {head}"
            );
        }
    }
}

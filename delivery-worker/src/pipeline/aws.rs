//! The real [`Deliverer`]: the tenant's role from the credential cache, the object from
//! the staging bucket (with the worker's own credentials), then the target's sink with
//! clients built for the tenant's account and region.

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use logspoke_aws::clients;
use logspoke_aws::AwsError;
use logspoke_contract::{DeliveryTarget, LiveConfig};

use super::{now_ms, Delivered, Deliverer, Progress, Resume, TargetError};
use crate::credentials::CredentialCache;
use crate::event::StagedObject;
use crate::retry::Backoff;
use crate::sinks::cloudwatch::service::AwsLogs;
use crate::sinks::cloudwatch::{self, Destination};
use crate::sinks::{s3, Step};

/// Delivers objects to tenants' CloudWatch Logs and S3 targets.
pub struct AwsDeliverer {
    credentials: Arc<CredentialCache>,
    staging: aws_sdk_s3::Client,
    backoff: Backoff,
}

impl AwsDeliverer {
    /// A deliverer reading the staging bucket with the worker's own credentials and
    /// retrying throttled `PutLogEvents` calls as `backoff` says.
    pub fn new(credentials: Arc<CredentialCache>, backoff: Backoff) -> Self {
        let staging = clients::s3(credentials.sdk());
        Self {
            credentials,
            staging,
            backoff,
        }
    }

    async fn assume(&self, object: &StagedObject, config: &LiveConfig) -> Result<Credentials, TargetError> {
        let Some(external_id) = config.external_id.as_ref() else {
            // The tenant has not been onboarded since: parked until it is and verified.
            return Err(TargetError::Customer(
                logspoke_contract::ledger::DeliveryCause::AwaitingVerification,
                "the config has no ExternalId".into(),
            ));
        };
        self.credentials
            .customer(object.layout.tenant_id(), &config.role_arn, external_id)
            .await
            .map_err(|e| TargetError::aws(Step::AssumeRole, &e, Some(external_id.as_str())))
    }

    /// The staged object's body (and length), read with the worker's own credentials.
    async fn open(&self, object: &StagedObject) -> Result<(ByteStream, Option<i64>), TargetError> {
        let output = self
            .staging
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("GetObject", &output);
        let output = output.map_err(|e| TargetError::aws(Step::ReadStaged, &e, None))?;
        Ok((output.body, output.content_length))
    }
}

impl Deliverer for AwsDeliverer {
    async fn deliver<P: Progress>(
        &self,
        object: &StagedObject,
        config: &LiveConfig,
        resume: Resume,
        progress: &P,
    ) -> Result<Delivered, TargetError> {
        let credentials = self.assume(object, config).await?;
        let sdk = self.credentials.sdk();
        match &config.target {
            DeliveryTarget::CloudWatch {
                log_group_name,
                log_stream_template,
            } => {
                let logs = AwsLogs::new(clients::tenant_logs(sdk, credentials, &config.target_region));
                let stream = cloudwatch::stream_name(&object.layout, log_stream_template.as_ref())?;
                let (body, _) = self.open(object).await?;
                let to = Destination {
                    group: log_group_name.as_str(),
                    stream: &stream,
                    tenant_id: object.layout.tenant_id().as_str(),
                };
                let fallback_ms = object.event_time_ms.unwrap_or_else(now_ms);
                cloudwatch::deliver(&logs, to, body, fallback_ms, &self.backoff, resume, progress).await
            }
            DeliveryTarget::S3 {
                bucket_name,
                bucket_prefix,
            } => {
                let tenant_s3 = clients::tenant_s3(sdk, credentials, &config.target_region);
                let (body, length) = self.open(object).await?;
                let key = s3::target_key(bucket_prefix, &object.layout);
                s3::put(&tenant_s3, bucket_name, &key, body, length)
                    .await
                    .map_err(|e| TargetError::aws(Step::PutObject, &e, None))?;
                Ok(Delivered {
                    bytes: length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
                    batches: 1,
                    ..Delivered::default()
                })
            }
        }
    }
}

//! Publishing one notification to a tenant's topic: the narrow [`Publisher`] the
//! notifier needs, and its AWS implementation (the provider role chain to the tenant's
//! role, then `sns:Publish` in the topic's region with that session).

use std::future::Future;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sns::types::MessageAttributeValue;
use logspoke_aws::classify::{classify, Step};
use logspoke_contract::{Cause, ExternalId, RoleArn};
use uuid::Uuid;

use super::NotificationTopic;
use crate::aws::chain::{session_name, RoleChain};
use crate::aws::error::AwsError;

/// Sessions that publish need one call.
const PUBLISH_SESSION: Duration = Duration::from_secs(900);

/// One message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// What subscribers deduplicate by.
    pub notification_id: Uuid,
    /// The tenant (a FIFO topic's message group).
    pub tenant_id: &'a str,
    /// The kind, as a message attribute for subscription filter policies.
    pub kind: &'a str,
    /// The e-mail subject.
    pub subject: &'a str,
    /// The JSON body.
    pub body: &'a str,
}

/// Why a publish failed: the step and what AWS said.
#[derive(Debug)]
pub struct PublishError {
    /// Assuming the role, or publishing.
    pub step: Step,
    /// The error.
    pub error: AwsError,
}

impl PublishError {
    /// The cause, in the vocabulary of delivery health.
    pub fn cause(&self) -> Cause {
        classify(self.step, &self.error)
    }
}

/// What the notifier needs to send.
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `message` to `topic` as `role` (assumed with `external_id`).
    fn publish(
        &self,
        role: &RoleArn,
        external_id: &ExternalId,
        topic: &NotificationTopic,
        message: Outgoing<'_>,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// The real [`Publisher`].
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    chain: std::sync::Arc<RoleChain>,
}

impl SnsPublisher {
    /// Uses `chain` for every assumption.
    pub fn new(chain: std::sync::Arc<RoleChain>) -> Self {
        Self { chain }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    // Infallible: both required fields are set.
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap_or_else(|_| unreachable!("data_type is set"))
}

impl Publisher for SnsPublisher {
    async fn publish(
        &self,
        role: &RoleArn,
        external_id: &ExternalId,
        topic: &NotificationTopic,
        message: Outgoing<'_>,
    ) -> Result<(), PublishError> {
        let name = session_name("logspoke-notify", message.tenant_id);
        let credentials = self
            .chain
            .assume_customer(role, external_id, &name, PUBLISH_SESSION)
            .await
            .map_err(|error| PublishError {
                step: Step::AssumeRole,
                error,
            })?;
        let config = aws_sdk_sns::config::Builder::from(self.chain.sdk())
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .region(aws_config::Region::new(topic.region().as_str()))
            .build();
        let id = message.notification_id.to_string();
        let mut publish = aws_sdk_sns::Client::from_conf(config)
            .publish()
            .topic_arn(topic.as_str())
            .subject(message.subject)
            .message(message.body)
            .message_attributes("notification_id", attribute(&id))
            .message_attributes("kind", attribute(message.kind));
        if topic.is_fifo() {
            publish = publish
                .message_group_id(message.tenant_id)
                .message_deduplication_id(&id);
        }
        publish.send().await.map_err(|e| PublishError {
            step: Step::Publish,
            error: AwsError::from(e),
        })?;
        Ok(())
    }
}

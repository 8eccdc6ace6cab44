//! Where the relay publishes: the DynamoDB read model (conditional on the version), the
//! config-changes SNS topic, and the replay job items of the delivery ledger. Behind a
//! narrow trait so the relay's ordering and retry logic is testable with a
//! fault-injecting fake, and exercised for real against the emulator.

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use logspoke_aws::read_model::item_to_sdk;
use logspoke_contract::replay::{ReplayState, ENDED_JOB_TTL_SECONDS, OPEN_JOBS_ATTRIBUTE};
use logspoke_contract::{Attributes, ConfigChanged};

use crate::aws::error::{unless_condition_failed, AwsError};

/// Result of a conditional read-model write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The item now holds this version.
    Written,
    /// The item already held this or a newer version (a replay, or a racing relay).
    AlreadyCurrent,
}

/// What the relay needs from AWS.
pub trait ReadModelSink: Send + Sync {
    /// Writes the item unless the stored version is the same or newer.
    fn write(
        &self,
        item: &Attributes,
        version: i64,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    /// Publishes the change event.
    fn publish(&self, event: &ConfigChanged) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Creates a replay job item unless it exists (a relay that retries after a lost
    /// answer must not reset the progress workers wrote since).
    fn create_replay(&self, job: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Marks the replay job with this key cancelled, and ends it when no worker has taken
    /// it yet; a job that no longer exists (it ended and expired) is left alone.
    fn cancel_replay(&self, key: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The real sink.
#[derive(Debug, Clone)]
pub struct AwsReadModelSink {
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    table: String,
    topic_arn: String,
    ledger_table: String,
}

impl AwsReadModelSink {
    /// Writes to `table`, publishes to `topic_arn` and writes replay jobs into
    /// `ledger_table`, with the api's own credentials.
    pub fn new(sdk: &SdkConfig, table: &str, topic_arn: &str, ledger_table: &str) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            table: table.to_owned(),
            topic_arn: topic_arn.to_owned(),
            ledger_table: ledger_table.to_owned(),
        }
    }
}

impl ReadModelSink for AwsReadModelSink {
    async fn write(&self, item: &Attributes, version: i64) -> Result<WriteOutcome, AwsError> {
        let written = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(item)))
            .condition_expression("attribute_not_exists(#v) OR #v < :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .send()
            .await
            .map_err(AwsError::from);
        match written {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(err) if err.is_condition_failed() => Ok(WriteOutcome::AlreadyCurrent),
            Err(err) => Err(err),
        }
    }

    async fn publish(&self, event: &ConfigChanged) -> Result<(), AwsError> {
        let attribute = |value: &str| {
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError {
                    code: None,
                    message: Some(e.to_string()),
                    status: None,
                    kind: crate::aws::error::AwsErrorKind::Other,
                })
        };
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message(event.to_json())
            .message_attributes("tenant_id", attribute(event.tenant_id.as_str())?)
            .message_attributes("type", attribute(event.delivery_type.as_str())?)
            .send()
            .await
            .map_err(AwsError::from)?;
        Ok(())
    }

    async fn create_replay(&self, job: &Attributes) -> Result<(), AwsError> {
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.ledger_table)
            .set_item(Some(item_to_sdk(job)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(AwsError::from);
        unless_condition_failed(put)
    }

    async fn cancel_replay(&self, key: &Attributes) -> Result<(), AwsError> {
        // A job no worker holds yet ends here and now, so that it never blocks its
        // target waiting for a worker; a running one is told through the flag.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let ended = self
            .dynamodb
            .update_item()
            .table_name(&self.ledger_table)
            .set_key(Some(item_to_sdk(key)))
            .update_expression(format!(
                "SET cancelled = :yes, #state = :cancelled, finished_at_ms = :now, expires_at = :ttl \
                 REMOVE {OPEN_JOBS_ATTRIBUTE}"
            ))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#state) OR #state = :queued) \
                 AND (attribute_not_exists(lease_until_ms) OR lease_until_ms < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(
                ":cancelled",
                AttributeValue::S(ReplayState::Cancelled.as_str().into()),
            )
            .expression_attribute_values(":queued", AttributeValue::S(ReplayState::Queued.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((now_ms / 1000 + ENDED_JOB_TTL_SECONDS).to_string()),
            )
            .send()
            .await
            .map_err(AwsError::from);
        match ended {
            Ok(_) => return Ok(()),
            Err(err) if err.is_condition_failed() => {}
            Err(err) => return Err(err),
        }
        let flagged = self
            .dynamodb
            .update_item()
            .table_name(&self.ledger_table)
            .set_key(Some(item_to_sdk(key)))
            .update_expression("SET cancelled = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(AwsError::from);
        unless_condition_failed(flagged)
    }
}

//! Config-change events for this replica.
//!
//! Every replica must see every change, and an SQS queue hands each message to one
//! consumer, so each replica creates its own short-lived queue at start, subscribes it to
//! the config topic, and removes both when it stops. An event only says "this key has a
//! new version": the replica then reads the item itself (consistently) and applies it if
//! it is newer, so duplicated or reordered events are harmless.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use logspoke_aws::AwsError;
use logspoke_contract::ConfigChanged;
use tokio::sync::watch;

use super::source::{self, ReadModel};
use super::TenantConfigs;

/// Longest a change event waits in a replica's queue (SQS's minimum retention); a replica
/// that was away longer catches up by its periodic resync.
const RETENTION_SECONDS: &str = "60";

/// This replica's queue and its subscription to the config topic.
#[derive(Debug, Clone)]
pub struct Subscription {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    /// The replica's queue.
    pub queue_url: String,
    subscription_arn: String,
}

impl Subscription {
    /// Creates the replica's queue `{prefix}{random}` and subscribes it to `topic_arn`.
    pub async fn create(sdk: &SdkConfig, topic_arn: &str, prefix: &str) -> Result<Self, AwsError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let sns = aws_sdk_sns::Client::new(sdk);
        let name = format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::MessageRetentionPeriod, RETENTION_SECONDS)
            .send()
            .await?
            .queue_url
            .unwrap_or_default();
        let queue_arn = queue_arn(&sqs, &queue_url).await?;
        sqs.set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(QueueAttributeName::Policy, allow_topic(&queue_arn, topic_arn))
            .send()
            .await?;
        let subscription_arn = sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "true")
            .return_subscription_arn(true)
            .send()
            .await?
            .subscription_arn
            .unwrap_or_default();
        tracing::info!(queue = %name, "subscribed to config changes");
        Ok(Self {
            sqs,
            sns,
            queue_url,
            subscription_arn,
        })
    }

    /// Unsubscribes and deletes the queue (at shutdown).
    pub async fn remove(&self) {
        if let Err(err) = self
            .sns
            .unsubscribe()
            .subscription_arn(&self.subscription_arn)
            .send()
            .await
        {
            tracing::warn!(error = %AwsError::from(err), "could not unsubscribe from config changes");
        }
        if let Err(err) = self.sqs.delete_queue().queue_url(&self.queue_url).send().await {
            tracing::warn!(error = %AwsError::from(err), "could not delete the config-change queue");
        }
    }

    /// Applies change events until `shutdown` turns true.
    pub async fn run<R: ReadModel>(
        &self,
        source: Arc<R>,
        configs: Arc<TenantConfigs>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        while !*shutdown.borrow() {
            let received = tokio::select! {
                received = self.receive() => received,
                _ = shutdown.changed() => break,
            };
            match received {
                Ok(messages) => self.handle(&messages, source.as_ref(), &configs).await,
                Err(err) => {
                    tracing::warn!(error = %err, "could not receive config changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn receive(&self) -> Result<Vec<aws_sdk_sqs::types::Message>, AwsError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(20)
            .send()
            .await?;
        Ok(output.messages.unwrap_or_default())
    }

    async fn handle<R: ReadModel>(
        &self,
        messages: &[aws_sdk_sqs::types::Message],
        source: &R,
        configs: &TenantConfigs,
    ) {
        let mut done = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            let body = message.body().unwrap_or_default();
            let applied = match parse_event(body) {
                Some(event) => apply(&event, source, configs).await,
                None => {
                    tracing::error!("dropping a config-change message that is not a ConfigChanged event");
                    metrics::counter!("logspoke_worker_invalid_config_events_total").increment(1);
                    true
                }
            };
            if applied {
                if let Some(handle) = message.receipt_handle() {
                    done.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(index.to_string())
                            .receipt_handle(handle)
                            .build(),
                    );
                }
            }
        }
        let entries: Vec<_> = done.into_iter().filter_map(Result::ok).collect();
        if entries.is_empty() {
            return;
        }
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        if let Err(err) = deleted {
            tracing::warn!(error = %AwsError::from(err), "could not delete config-change messages");
        }
    }
}

/// The event, delivered raw or (if raw delivery is off) inside an SNS envelope.
fn parse_event(body: &str) -> Option<ConfigChanged> {
    if let Ok(event) = ConfigChanged::from_json(body) {
        return Some(event);
    }
    let envelope: serde_json::Value = serde_json::from_str(body).ok()?;
    ConfigChanged::from_json(envelope.get("Message")?.as_str()?).ok()
}

/// Reads and applies the item an event names; false when it should be retried.
async fn apply<R: ReadModel>(event: &ConfigChanged, source: &R, configs: &TenantConfigs) -> bool {
    if configs
        .version(&event.tenant_id, event.delivery_type)
        .is_some_and(|held| held >= event.version)
    {
        return true;
    }
    match source.get(&event.tenant_id, event.delivery_type).await {
        Ok(Some(loaded)) => {
            // An unreadable item is logged and counted where it was parsed.
            let version = loaded.as_ref().ok().map(|item| item.version);
            if source::apply_loaded(configs, loaded) && version.is_some() {
                tracing::info!(tenant_id = %event.tenant_id, delivery_type = event.delivery_type.as_str(),
                    version, "applied a config change");
                metrics::counter!("logspoke_worker_config_changes_applied_total").increment(1);
            }
            true
        }
        Ok(None) => true,
        Err(err) => {
            tracing::warn!(tenant_id = %event.tenant_id, error = %err, "could not read a changed config; will retry");
            false
        }
    }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<String, AwsError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    Ok(attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default())
}

/// A queue policy that lets only `topic_arn` send to the queue (SNS → SQS delivery).
pub fn allow_topic(queue_arn: &str, topic_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}
        }]
    })
    .to_string()
}

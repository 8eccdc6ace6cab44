//! Config-change events for this replica.
//!
//! Every replica must see every change, and an SQS queue hands each message to one
//! consumer, so each replica creates its own short-lived queue at start, subscribes it to
//! the config topic, and removes both when it stops. An event only says "this key has a
//! new version": the replica then reads the item itself (consistently) and applies it if
//! it is newer, so duplicated or reordered events are harmless.
//!
//! Regions: the api publishes to one topic, the primary region's; every region's
//! replicas subscribe their own (local) queues to it, SNS delivering across regions, so a
//! change reaches every region's workers, not only the primary's (ADR 4, "Regions"). A
//! replica outside the primary reads its own region's replica of the global read model,
//! which may not have the change yet when the event arrives: [`apply`] re-reads it until
//! it holds the event's version (bounded by [`CATCH_UP`]), so a change is never applied
//! from a stale copy, and leaves the message for a later receive if it never does.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use logspoke_aws::AwsError;
use logspoke_contract::ConfigChanged;
use logspoke_runtime::backoff::Backoff;
use tokio::sync::watch;

use super::source::{self, Loaded, ReadModel};
use super::TenantConfigs;

/// Longest a change event waits in a replica's queue (SQS's minimum retention); a replica
/// that was away longer catches up by its periodic resync.
const RETENTION_SECONDS: &str = "60";

/// How a change event waits for this region's copy of the read model to hold its
/// version: re-read after 50 ms, doubling to at most 1 s, 8 reads in all (about 3.6 s of
/// waiting; a DynamoDB global table replicates in about a second). Past that the message
/// is left on the queue and read again after its visibility timeout, and the periodic
/// resync remains the safety net.
pub const CATCH_UP: Backoff = Backoff {
    base: Duration::from_millis(50),
    max: Duration::from_secs(1),
    attempts: 8,
};

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
    /// The topic may be in another region (the primary's): the subscription is made
    /// there, the queue stays in this replica's region.
    pub async fn create(sdk: &SdkConfig, topic_arn: &str, prefix: &str) -> Result<Self, AwsError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let sns = sns_client_for(sdk, topic_arn);
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

/// An SNS client in the region of `topic_arn` (SNS only subscribes in the topic's own
/// region); this replica's region when the ARN names none.
fn sns_client_for(sdk: &SdkConfig, topic_arn: &str) -> aws_sdk_sns::Client {
    match topic_region(topic_arn) {
        Some(region) if sdk.region().is_none_or(|own| own.as_ref() != region) => {
            let config = aws_sdk_sns::config::Builder::from(sdk)
                .region(aws_sdk_sns::config::Region::new(region.to_owned()))
                .build();
            aws_sdk_sns::Client::from_conf(config)
        }
        _ => aws_sdk_sns::Client::new(sdk),
    }
}

/// The region field of an SNS topic ARN (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`).
fn topic_region(topic_arn: &str) -> Option<&str> {
    let mut fields = topic_arn.split(':');
    let region = fields.nth(3)?;
    (!region.is_empty()).then_some(region)
}

/// Reads and applies the item an event names; false when it should be retried. The
/// item is read until it holds the event's version or a newer one (a deletion is a
/// tombstone at a new version, so an item that is missing or older means this region's
/// replica of the read model is behind), at most [`CATCH_UP`]`.attempts` times.
async fn apply<R: ReadModel>(event: &ConfigChanged, source: &R, configs: &TenantConfigs) -> bool {
    if configs
        .version(&event.tenant_id, event.delivery_type)
        .is_some_and(|held| held >= event.version)
    {
        return true;
    }
    for read in 1..=CATCH_UP.attempts {
        if read > 1 {
            tokio::time::sleep(CATCH_UP.bound(read - 1)).await;
        }
        match source.get(&event.tenant_id, event.delivery_type).await {
            Ok(Some(Ok(item))) if item.version >= event.version => return applied(event, configs, Ok(item)),
            // Logged and counted where it was parsed; its tenant is held until it is fixed.
            Ok(Some(Err(unreadable))) => return applied(event, configs, Err(unreadable)),
            Ok(_) => metrics::counter!("logspoke_worker_config_change_rereads_total").increment(1),
            Err(err) => {
                tracing::warn!(tenant_id = %event.tenant_id, error = %err, "could not read a changed config; will retry");
                return false;
            }
        }
    }
    tracing::warn!(tenant_id = %event.tenant_id, delivery_type = event.delivery_type.as_str(),
        version = event.version, reads = CATCH_UP.attempts,
        "this region's read model does not hold a changed config yet; the change event is retried later");
    metrics::counter!("logspoke_worker_config_changes_behind_total").increment(1);
    false
}

/// Applies what [`apply`] read (a no-op when something as new is held); always true.
fn applied(event: &ConfigChanged, configs: &TenantConfigs, loaded: Loaded) -> bool {
    let version = loaded.as_ref().ok().map(|item| item.version);
    if source::apply_loaded(configs, loaded) && version.is_some() {
        tracing::info!(tenant_id = %event.tenant_id, delivery_type = event.delivery_type.as_str(),
            version, "applied a config change");
        metrics::counter!("logspoke_worker_config_changes_applied_total").increment(1);
    }
    true
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use logspoke_contract::{ChangeKind, DeliveryType, EffectiveState, TenantId};

    use super::super::source::{Loaded, ReadModel};
    use super::super::tests::item;
    use super::*;

    /// A region's replica of the read model that answers reads from a script: each
    /// `get` takes the next answer (the last one repeats), as a replica that catches up
    /// with the primary after some reads would.
    struct LaggingReplica {
        answers: Mutex<VecDeque<Option<i64>>>,
        reads: Mutex<u32>,
    }

    impl LaggingReplica {
        fn new(answers: &[Option<i64>]) -> Self {
            Self {
                answers: Mutex::new(answers.iter().copied().collect()),
                reads: Mutex::new(0),
            }
        }

        fn reads(&self) -> u32 {
            *self.reads.lock().unwrap()
        }
    }

    impl ReadModel for LaggingReplica {
        async fn scan(&self) -> Result<Vec<Loaded>, AwsError> {
            unimplemented!("a change event reads one item")
        }

        async fn tenant(&self, _: &TenantId) -> Result<Vec<Loaded>, AwsError> {
            unimplemented!("a change event reads one item")
        }

        async fn get(&self, _: &TenantId, _: DeliveryType) -> Result<Option<Loaded>, AwsError> {
            *self.reads.lock().unwrap() += 1;
            let mut answers = self.answers.lock().unwrap();
            let answer = if answers.len() > 1 {
                answers.pop_front().flatten()
            } else {
                answers.front().copied().flatten()
            };
            Ok(answer.map(|version| Ok(item("acme", version, EffectiveState::Disabled, &[]))))
        }
    }

    fn changed(version: i64) -> ConfigChanged {
        ConfigChanged {
            schema_version: 1,
            tenant_id: TenantId::parse("acme").unwrap(),
            delivery_type: DeliveryType::Cloudwatch,
            version,
            change: ChangeKind::Upserted,
            occurred_at: "2026-12-07T10:00:00Z".into(),
        }
    }

    fn held(configs: &TenantConfigs) -> Option<i64> {
        configs.version(&TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_is_applied_once_this_regions_read_model_holds_its_version_not_from_a_stale_copy() {
        let configs = TenantConfigs::default();
        configs.apply(item("acme", 1, EffectiveState::Active, &[]));
        // The replica still has version 1 for two reads, then the disable (version 2).
        let replica = LaggingReplica::new(&[Some(1), Some(1), Some(2)]);

        assert!(apply(&changed(2), &replica, &configs).await);

        assert_eq!(replica.reads(), 3);
        assert_eq!(held(&configs), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_config_the_replica_does_not_have_yet_is_read_again_rather_than_taken_as_gone() {
        let configs = TenantConfigs::default();
        let replica = LaggingReplica::new(&[None, Some(1)]);

        assert!(apply(&changed(1), &replica, &configs).await);

        assert_eq!(held(&configs), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_that_never_catches_up_leaves_the_event_for_a_later_receive_within_the_bound() {
        let configs = TenantConfigs::default();
        configs.apply(item("acme", 1, EffectiveState::Active, &[]));
        let replica = LaggingReplica::new(&[Some(1)]);
        let started = tokio::time::Instant::now();

        assert!(
            !apply(&changed(2), &replica, &configs).await,
            "the message must stay on the queue"
        );

        assert_eq!(replica.reads(), CATCH_UP.attempts);
        assert_eq!(held(&configs), Some(1));
        let waited = started.elapsed();
        assert!(waited <= Duration::from_secs(4), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_for_a_version_already_held_reads_nothing() {
        let configs = TenantConfigs::default();
        configs.apply(item("acme", 3, EffectiveState::Active, &[]));
        let replica = LaggingReplica::new(&[Some(1)]);

        assert!(apply(&changed(2), &replica, &configs).await);

        assert_eq!(replica.reads(), 0);
    }

    #[test]
    fn the_subscription_is_made_in_the_topics_region() {
        assert_eq!(
            topic_region("arn:aws:sns:eu-west-1:111111111111:config-changes"),
            Some("eu-west-1")
        );
        assert_eq!(
            topic_region("arn:aws-cn:sns:cn-north-1:111111111111:config-changes"),
            Some("cn-north-1")
        );
        assert_eq!(topic_region("arn:aws:sns::111111111111:x"), None);
        assert_eq!(topic_region("not-an-arn"), None);
    }
}

//! The delivery queue: long-polling receivers, bounded in-flight work, visibility
//! extension while an object is processed, and batched deletes checked per entry.
//!
//! A message is deleted only when every object in it is done. A message that must be
//! retried is made visible again after `retry_delay`; after the queue's
//! `maxReceiveCount` it moves to the dead-letter queue, so nothing loops forever.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use logspoke_aws::AwsError;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::event;
use crate::pipeline::{Deliverer, Outcome};

/// Tuning of the receivers.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Concurrent `ReceiveMessage` loops.
    pub pollers: usize,
    /// Messages processed at once, across pollers (backpressure).
    pub max_in_flight: usize,
    /// Visibility timeout kept on a message while it is processed.
    pub visibility: Duration,
    /// When a failed message becomes visible again.
    pub retry_delay: Duration,
    /// Long-poll wait.
    pub wait: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            pollers: 4,
            max_in_flight: 16,
            visibility: Duration::from_secs(120),
            retry_delay: Duration::from_secs(30),
            wait: Duration::from_secs(20),
        }
    }
}

/// The delivery queue.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// The queue at `url`, with the worker's own credentials.
    pub fn new(sdk: &aws_config::SdkConfig, url: &str) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(sdk),
            url: url.to_owned(),
        }
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, AwsError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await?;
        Ok(output.messages.unwrap_or_default())
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(timeout.as_secs()).unwrap_or(43_200))
            .send()
            .await?;
        Ok(())
    }

    /// Deletes up to ten messages; returns how many SQS refused.
    async fn delete(&self, receipts: &[String]) -> Result<usize, AwsError> {
        let entries = receipts
            .iter()
            .enumerate()
            .filter_map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        let output = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await?;
        for failed in output.failed() {
            tracing::warn!(
                code = failed.code(),
                message = failed.message(),
                "SQS did not delete a message; it will be delivered again"
            );
        }
        Ok(output.failed().len())
    }
}

/// Receives and processes messages until `shutdown`, then lets in-flight work finish.
pub async fn run(
    queue: Queue,
    deliverer: Arc<Deliverer>,
    settings: PollSettings,
    shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
    let (deletes, pending) = mpsc::channel::<String>(settings.max_in_flight.max(10) * 2);
    let deleter = tokio::spawn(delete_in_batches(queue.clone(), pending));
    let mut pollers = JoinSet::new();
    for _ in 0..settings.pollers.max(1) {
        let worker = PollerTask {
            queue: queue.clone(),
            deliverer: deliverer.clone(),
            settings: settings.clone(),
            permits: permits.clone(),
            deletes: deletes.clone(),
        };
        pollers.spawn(worker.run(shutdown.clone()));
    }
    drop(deletes);
    while pollers.join_next().await.is_some() {}
    // In-flight messages hold permits; taking them all means every one has finished.
    let _all = permits
        .acquire_many(u32::try_from(settings.max_in_flight.max(1)).unwrap_or(1))
        .await;
    let _ = deleter.await;
    tracing::info!("delivery queue drained");
}

struct PollerTask {
    queue: Queue,
    deliverer: Arc<Deliverer>,
    settings: PollSettings,
    permits: Arc<Semaphore>,
    deletes: mpsc::Sender<String>,
}

impl PollerTask {
    async fn run(self, shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let Ok(first) = self.permits.clone().acquire_owned().await else {
                return;
            };
            let mut held = vec![first];
            while held.len() < 10 {
                match self.permits.clone().try_acquire_owned() {
                    Ok(permit) => held.push(permit),
                    Err(_) => break,
                }
            }
            // Not cancelled by shutdown: a receive dropped mid-flight would leave its
            // messages invisible until their timeout. What it returns is still processed.
            match self.queue.receive(held.len(), self.settings.wait).await {
                Ok(messages) => self.dispatch(messages, held),
                Err(err) => {
                    tracing::warn!(error = %err, "could not receive from the delivery queue; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn dispatch(&self, messages: Vec<Message>, mut held: Vec<OwnedSemaphorePermit>) {
        metrics::counter!("logspoke_worker_messages_received_total").increment(messages.len() as u64);
        for message in messages {
            let Some(permit) = held.pop() else { break };
            let task = MessageTask {
                queue: self.queue.clone(),
                deliverer: self.deliverer.clone(),
                settings: self.settings.clone(),
                deletes: self.deletes.clone(),
            };
            tokio::spawn(task.run(message, permit));
        }
    }
}

struct MessageTask {
    queue: Queue,
    deliverer: Arc<Deliverer>,
    settings: PollSettings,
    deletes: mpsc::Sender<String>,
}

impl MessageTask {
    async fn run(self, message: Message, _permit: OwnedSemaphorePermit) {
        let Some(receipt) = message.receipt_handle().map(str::to_owned) else {
            return;
        };
        let receives = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map_or("1", String::as_str);
        if receives != "1" {
            // Targets that had succeeded before will receive the object again.
            metrics::counter!("logspoke_worker_redeliveries_total").increment(1);
        }
        let body = message.body().unwrap_or_default();
        let outcome = tokio::select! {
            outcome = process(&self.deliverer, body) => outcome,
            () = self.keep_invisible(&receipt) => Outcome::Retry,
        };
        match outcome {
            Outcome::Done => {
                let _ = self.deletes.send(receipt).await;
            }
            Outcome::Retry => {
                tracing::info!(receives, "leaving a message for a retry");
                if let Err(err) = self
                    .queue
                    .set_visibility(&receipt, self.settings.retry_delay)
                    .await
                {
                    tracing::warn!(error = %err, "could not shorten the visibility of a failed message");
                }
            }
        }
    }

    /// Extends the visibility timeout at half its length, for as long as processing runs.
    async fn keep_invisible(&self, receipt: &str) {
        let period = self.settings.visibility / 2;
        loop {
            tokio::time::sleep(period).await;
            if let Err(err) = self.queue.set_visibility(receipt, self.settings.visibility).await {
                tracing::warn!(error = %err, "could not extend a message's visibility");
            }
        }
    }
}

/// Delivers every object of one message; `Done` when the message can be deleted.
pub async fn process(deliverer: &Deliverer, body: &str) -> Outcome {
    let parsed = event::parse(body);
    let mut outcome = Outcome::Done;
    for object in &parsed.objects {
        if deliverer.deliver(object).await == Outcome::Retry {
            outcome = Outcome::Retry;
        }
    }
    outcome
}

/// Collects receipts and deletes them ten at a time (or after at most 100 ms).
async fn delete_in_batches(queue: Queue, mut pending: mpsc::Receiver<String>) {
    let mut batch = Vec::with_capacity(10);
    while let Some(first) = pending.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        let mut closed = false;
        while batch.len() < 10 {
            match tokio::time::timeout_at(deadline, pending.recv()).await {
                Ok(Some(receipt)) => batch.push(receipt),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        flush(&queue, &mut batch).await;
        if closed {
            return;
        }
    }
}

async fn flush(queue: &Queue, batch: &mut Vec<String>) {
    match queue.delete(batch).await {
        Ok(failed) => {
            metrics::counter!("logspoke_worker_messages_deleted_total")
                .increment((batch.len() - failed) as u64);
            metrics::counter!("logspoke_worker_delete_failures_total").increment(failed as u64);
        }
        Err(err) => {
            tracing::warn!(error = %err, count = batch.len(), "could not delete messages; they will be delivered again");
            metrics::counter!("logspoke_worker_delete_failures_total").increment(batch.len() as u64);
        }
    }
    batch.clear();
}

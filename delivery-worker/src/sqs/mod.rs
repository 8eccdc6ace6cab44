//! The delivery queue: long-polling receivers, bounded in-flight work, visibility
//! extension while an object is processed, and batched deletes checked per entry.
//!
//! A message is deleted only when every object in it is done. A message that must be
//! retried is made visible again after `retry_delay`; after the queue's
//! `maxReceiveCount` it moves to the dead-letter queue, so nothing loops forever. A
//! receiver that cannot reach the queue backs off (jittered, doubling up to
//! [`RECEIVE_BACKOFF`]'s cap) until a receive succeeds again.
//!
//! The loop needs only [`Queue`] of SQS (the real one is [`aws::SqsQueue`]) and a
//! [`Pipeline`] to hand message bodies to, so the message rules are tested in process.

pub mod aws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use logspoke_aws::AwsError;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::ledger::Ledger;
use crate::pipeline::{Deliverer, Outcome, Pipeline};
use logspoke_runtime::backoff::{Backoff, FailureStreak};

/// How long a receiver waits after failed receives: up to 1 s after the first, doubling
/// per further failure up to 30 s; the first successful receive starts over.
pub const RECEIVE_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(30),
    attempts: u32::MAX,
};

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

/// One received message, as the worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What deletes it or changes its visibility.
    pub receipt: String,
    /// The S3 event (bare or in an SNS envelope).
    pub body: String,
    /// How often it was received, this time included (`ApproximateReceiveCount`).
    pub receive_count: u32,
}

/// What the worker needs of the delivery queue.
pub trait Queue: Clone + Send + Sync + 'static {
    /// Up to `max` (at most ten) messages, waiting up to `wait` for the first.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, AwsError>> + Send;

    /// Makes the message invisible for `timeout` from now.
    fn set_visibility(
        &self,
        receipt: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Deletes up to ten messages; returns how many the queue refused.
    fn delete(&self, receipts: &[String]) -> impl Future<Output = Result<usize, AwsError>> + Send;
}

/// Receives and processes messages until `shutdown`, then lets in-flight work finish.
pub async fn run<Q: Queue, D: Deliverer, L: Ledger>(
    queue: Q,
    pipeline: Arc<Pipeline<D, L>>,
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
            pipeline: pipeline.clone(),
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

struct PollerTask<Q, D, L> {
    queue: Q,
    pipeline: Arc<Pipeline<D, L>>,
    settings: PollSettings,
    permits: Arc<Semaphore>,
    deletes: mpsc::Sender<String>,
}

impl<Q: Queue, D: Deliverer, L: Ledger> PollerTask<Q, D, L> {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = FailureStreak::new(RECEIVE_BACKOFF);
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
                Ok(messages) => {
                    failures.succeeded();
                    self.dispatch(messages, held);
                }
                Err(err) => {
                    // Other pollers may use the permits while this one waits.
                    drop(held);
                    let delay = failures.failed();
                    tracing::warn!(
                        error = %err,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "could not receive from the delivery queue; retrying"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        Ok(()) = shutdown.changed() => {}
                    }
                }
            }
        }
    }

    fn dispatch(&self, messages: Vec<Received>, mut held: Vec<OwnedSemaphorePermit>) {
        metrics::counter!("logspoke_worker_messages_received_total").increment(messages.len() as u64);
        for message in messages {
            let Some(permit) = held.pop() else { break };
            let task = MessageTask {
                queue: self.queue.clone(),
                pipeline: self.pipeline.clone(),
                settings: self.settings.clone(),
                deletes: self.deletes.clone(),
            };
            tokio::spawn(task.run(message, permit));
        }
    }
}

struct MessageTask<Q, D, L> {
    queue: Q,
    pipeline: Arc<Pipeline<D, L>>,
    settings: PollSettings,
    deletes: mpsc::Sender<String>,
}

impl<Q: Queue, D: Deliverer, L: Ledger> MessageTask<Q, D, L> {
    async fn run(self, message: Received, _permit: OwnedSemaphorePermit) {
        let receives = message.receive_count;
        if receives != 1 {
            // Targets that had succeeded before will receive the object again.
            metrics::counter!("logspoke_worker_redeliveries_total").increment(1);
        }
        let outcome = tokio::select! {
            outcome = self.pipeline.process(&message.body) => outcome,
            () = self.keep_invisible(&message.receipt) => Outcome::Retry,
        };
        match outcome {
            Outcome::Done => {
                let _ = self.deletes.send(message.receipt).await;
            }
            Outcome::Retry => {
                tracing::info!(receives, "leaving a message for a retry");
                if let Err(err) = self
                    .queue
                    .set_visibility(&message.receipt, self.settings.retry_delay)
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

/// Collects receipts and deletes them ten at a time (or after at most 100 ms).
async fn delete_in_batches<Q: Queue>(queue: Q, mut pending: mpsc::Receiver<String>) {
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

async fn flush<Q: Queue>(queue: &Q, batch: &mut Vec<String>) {
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

#[cfg(test)]
mod tests;

//! The delivery queue: long-polling receivers, bounded in-flight work, visibility
//! extension while an object is processed, and batched deletes checked per entry.
//!
//! A message is deleted only when every object in it is done. A message that must be
//! retried is made visible again after `retry_delay`; after the queue's
//! `maxReceiveCount` it moves to the dead-letter queue, so nothing loops forever. A
//! receiver that cannot reach the queue backs off (jittered, doubling up to
//! [`RECEIVE_BACKOFF`]'s cap) until a receive succeeds again.
//!
//! **Two lanes, so one tenant's backlog never delays another tenant.** A tenant may hold
//! at most its share of the replica's slots ([`PollSettings::tenant_share`], [`share`])
//! from the delivery queue; its further messages are moved, in one `SendMessageBatch`
//! per received batch, to the overflow queue (with `MessageGroupId` = tenant, so an SQS
//! fair queue serves each tenant its share there), and the delivery queue keeps moving:
//! a quiet tenant's object waits behind at most a batch, not behind a backlog. The
//! overflow lane is served with the slots nobody else waits for, without a share, so a
//! tenant alone still uses every slot. A main-lane message waits for its slot in the
//! process (its visibility kept), queued ahead of the overflow lane's next receive.
//! Without an overflow queue there is one lane and no share applies.
//!
//! The loop needs only [`Queue`] of SQS (the real one is [`aws::SqsQueue`]) and a
//! [`Pipeline`] to hand message bodies to, so the message rules are tested in process.

pub mod aws;
pub mod share;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use logspoke_aws::AwsError;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use logspoke_contract::TenantId;

use self::share::{Held, Shares};
use crate::event::{self, StagedObject};
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
    /// Slots one tenant may hold from the delivery queue before its further messages move
    /// to the overflow lane (`LOGSPOKE_WORKER_TENANT_SHARE` of `max_in_flight`).
    pub tenant_share: usize,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            pollers: 4,
            max_in_flight: 16,
            visibility: Duration::from_secs(120),
            retry_delay: Duration::from_secs(30),
            wait: Duration::from_secs(20),
            tenant_share: 4,
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

    /// Sends up to ten messages, each in its message group; returns the indices of those
    /// the queue took.
    fn send(&self, messages: &[Outgoing]) -> impl Future<Output = Result<Vec<usize>, AwsError>> + Send;
}

/// A message to send: its group (the tenant) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `MessageGroupId`: the tenant, so that a fair queue serves each tenant its share.
    pub group: String,
    /// The message body (the S3 event as received).
    pub body: String,
}

/// Receives and processes messages until `shutdown`, then lets in-flight work finish
/// (one lane: no tenant's messages are moved aside).
pub async fn run<Q: Queue, D: Deliverer, L: Ledger>(
    queue: Q,
    pipeline: Arc<Pipeline<D, L>>,
    settings: PollSettings,
    shutdown: watch::Receiver<bool>,
) {
    run_lanes(queue, None, pipeline, settings, shutdown).await;
}

/// Receives and processes the delivery queue's messages, and with an `overflow` queue
/// the messages it moves there, until `shutdown`; then lets in-flight work finish.
pub async fn run_lanes<Q: Queue, D: Deliverer, L: Ledger>(
    queue: Q,
    overflow: Option<Q>,
    pipeline: Arc<Pipeline<D, L>>,
    settings: PollSettings,
    shutdown: watch::Receiver<bool>,
) {
    let slots_total = settings.max_in_flight.max(1);
    let work = Work {
        pipeline,
        slots: Arc::new(Semaphore::new(slots_total)),
        shares: Arc::new(Shares::new(settings.tenant_share)),
        settings: settings.clone(),
    };
    // Main-lane messages this replica holds at once: the slots and one batch waiting.
    let admissions_total = slots_total + 10;
    let admissions = Arc::new(Semaphore::new(admissions_total));
    let (main, main_deleter) = Lane::start(queue, &settings);
    let overflow = overflow.map(|queue| Lane::start(queue, &settings));
    let mut pollers = JoinSet::new();
    for _ in 0..settings.pollers.max(1) {
        let poller = MainPoller {
            lane: main.clone(),
            overflow: overflow.as_ref().map(|(lane, _)| lane.clone()),
            admissions: admissions.clone(),
            work: work.clone(),
        };
        pollers.spawn(poller.run(shutdown.clone()));
    }
    let overflow_deleter = overflow.map(|(lane, deleter)| {
        for _ in 0..settings.pollers.div_ceil(4) {
            let poller = OverflowPoller {
                lane: lane.clone(),
                work: work.clone(),
            };
            pollers.spawn(poller.run(shutdown.clone()));
        }
        deleter
    });
    drop(main);
    while pollers.join_next().await.is_some() {}
    // Waiting messages hold admissions and running ones slots; taking them all means every
    // one has finished.
    let _admitted = admissions
        .acquire_many(u32::try_from(admissions_total).unwrap_or(u32::MAX))
        .await;
    let slots = work.slots.clone();
    drop(work);
    let _all = slots.acquire_many(u32::try_from(slots_total).unwrap_or(1)).await;
    let _ = main_deleter.await;
    if let Some(deleter) = overflow_deleter {
        let _ = deleter.await;
    }
    tracing::info!("delivery queue drained");
}

/// How long the overflow lane's receive waits for a message: short, because it holds
/// slots meanwhile.
const OVERFLOW_WAIT: Duration = Duration::from_secs(1);

/// One queue the replica receives from, and where its processed messages' receipts go to
/// be deleted in batches.
struct Lane<Q> {
    queue: Q,
    deletes: mpsc::Sender<String>,
}

impl<Q: Clone> Clone for Lane<Q> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            deletes: self.deletes.clone(),
        }
    }
}

impl<Q: Queue> Lane<Q> {
    /// The lane of `queue`, with its batch deleter running (it ends once every clone of
    /// the lane is gone and the last receipts are deleted).
    fn start(queue: Q, settings: &PollSettings) -> (Self, tokio::task::JoinHandle<()>) {
        let (deletes, pending) = mpsc::channel::<String>(settings.max_in_flight.max(10) * 2);
        let deleter = tokio::spawn(delete_in_batches(queue.clone(), pending));
        (Self { queue, deletes }, deleter)
    }
}

/// What processing a message needs, shared by both lanes.
struct Work<D, L> {
    pipeline: Arc<Pipeline<D, L>>,
    /// The replica's in-flight slots (`max_in_flight`), shared by both lanes.
    slots: Arc<Semaphore>,
    /// What each tenant holds of them.
    shares: Arc<Shares>,
    settings: PollSettings,
}

impl<D, L> Clone for Work<D, L> {
    fn clone(&self) -> Self {
        Self {
            pipeline: self.pipeline.clone(),
            slots: self.slots.clone(),
            shares: self.shares.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// One message and its objects (its body parsed once: parsing counts what it rejects).
struct Parsed {
    message: Received,
    objects: Vec<StagedObject>,
}

impl Parsed {
    fn of(message: Received) -> Self {
        let objects = event::parse(&message.body).objects;
        Self { message, objects }
    }

    /// The tenant whose share the message counts against (its first object's).
    fn tenant(&self) -> Option<&TenantId> {
        self.objects.first().map(|o| o.layout.tenant_id())
    }
}

/// Receives the delivery queue: a tenant's message within its share is processed here; past
/// its share it is moved to the overflow lane (when there is one).
struct MainPoller<Q, D, L> {
    lane: Lane<Q>,
    overflow: Option<Lane<Q>>,
    admissions: Arc<Semaphore>,
    work: Work<D, L>,
}

impl<Q: Queue, D: Deliverer, L: Ledger> MainPoller<Q, D, L> {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = FailureStreak::new(RECEIVE_BACKOFF);
        while !*shutdown.borrow() {
            let Ok(first) = self.admissions.clone().acquire_owned().await else {
                return;
            };
            let mut admitted = vec![first];
            while admitted.len() < 10 {
                match self.admissions.clone().try_acquire_owned() {
                    Ok(admission) => admitted.push(admission),
                    Err(_) => break,
                }
            }
            // Not cancelled by shutdown: a receive dropped mid-flight would leave its
            // messages invisible until their timeout. What it returns is still processed.
            match self
                .lane
                .queue
                .receive(admitted.len(), self.work.settings.wait)
                .await
            {
                Ok(messages) => {
                    failures.succeeded();
                    self.dispatch(messages, admitted).await;
                }
                Err(err) => {
                    // Other pollers may use the admissions while this one waits.
                    drop(admitted);
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

    /// Starts each message within its tenant's share (waiting for a slot of its own) and
    /// moves the others to the overflow lane in one batch; one the lane did not take is
    /// processed here instead (never returned to wait out its receives unprocessed).
    async fn dispatch(&self, messages: Vec<Received>, mut admitted: Vec<OwnedSemaphorePermit>) {
        metrics::counter!("logspoke_worker_messages_received_total").increment(messages.len() as u64);
        let mut kept = Vec::new();
        let mut moved = Vec::new();
        for parsed in messages.into_iter().map(Parsed::of) {
            let held = match (parsed.tenant(), &self.overflow) {
                (None, _) => None,
                (Some(tenant), None) => Some(self.work.shares.take(tenant)),
                (Some(tenant), Some(_)) => match self.work.shares.try_take(tenant) {
                    Some(held) => Some(held),
                    None => {
                        moved.push(parsed);
                        continue;
                    }
                },
            };
            kept.push((parsed, held));
        }
        if let Some(overflow) = &self.overflow {
            for parsed in divert(&self.lane, &overflow.queue, moved).await {
                let held = parsed.tenant().map(|tenant| self.work.shares.take(tenant));
                kept.push((parsed, held));
            }
        }
        for (parsed, held) in kept {
            let Some(admission) = admitted.pop() else { break };
            let task = MessageTask {
                lane: self.lane.clone(),
                work: self.work.clone(),
            };
            tokio::spawn(task.run(parsed, Slot::Wait(admission), held));
        }
    }
}

/// Moves `messages` from the delivery queue (`main`) to `overflow`, each in its tenant's
/// message group (a fair queue in AWS serves each group its share); returns those the
/// overflow queue did not take.
async fn divert<Q: Queue>(main: &Lane<Q>, overflow: &Q, messages: Vec<Parsed>) -> Vec<Parsed> {
    if messages.is_empty() {
        return messages;
    }
    let outgoing: Vec<Outgoing> = messages
        .iter()
        .map(|parsed| Outgoing {
            group: parsed.tenant().map(ToString::to_string).unwrap_or_default(),
            body: parsed.message.body.clone(),
        })
        .collect();
    let taken = send_to_overflow(overflow, &outgoing).await;
    let mut unsent = Vec::new();
    for (parsed, taken) in messages.into_iter().zip(taken) {
        if taken {
            let _ = main.deletes.send(parsed.message.receipt).await;
        } else {
            unsent.push(parsed);
        }
    }
    unsent
}

/// Sends `outgoing` to the overflow queue, counted; whether each was taken, in order. A
/// failed send takes none: the caller processes them itself, so no message waits out its
/// receives unprocessed (the worker's receivers and the Lambda function alike).
pub async fn send_to_overflow<Q: Queue>(overflow: &Q, outgoing: &[Outgoing]) -> Vec<bool> {
    let sent = match overflow.send(outgoing).await {
        Ok(sent) => sent,
        Err(err) => {
            tracing::warn!(error = %err, count = outgoing.len(), "could not move messages to the overflow lane; processing them here");
            Vec::new()
        }
    };
    metrics::counter!("logspoke_worker_messages_diverted_total").increment(sent.len() as u64);
    (0..outgoing.len()).map(|i| sent.contains(&i)).collect()
}

/// Receives the overflow lane with the slots nobody else waits for: no share applies, so
/// a tenant alone may use every slot.
struct OverflowPoller<Q, D, L> {
    lane: Lane<Q>,
    work: Work<D, L>,
}

impl<Q: Queue, D: Deliverer, L: Ledger> OverflowPoller<Q, D, L> {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = FailureStreak::new(RECEIVE_BACKOFF);
        while !*shutdown.borrow() {
            let Ok(first) = self.work.slots.clone().acquire_owned().await else {
                return;
            };
            let mut held = vec![first];
            while held.len() < 10 {
                match self.work.slots.clone().try_acquire_owned() {
                    Ok(slot) => held.push(slot),
                    Err(_) => break,
                }
            }
            match self.lane.queue.receive(held.len(), OVERFLOW_WAIT).await {
                Ok(messages) => {
                    failures.succeeded();
                    metrics::counter!("logspoke_worker_messages_received_total")
                        .increment(messages.len() as u64);
                    for parsed in messages.into_iter().map(Parsed::of) {
                        let Some(slot) = held.pop() else { break };
                        let counted = parsed.tenant().map(|tenant| self.work.shares.take(tenant));
                        let task = MessageTask {
                            lane: self.lane.clone(),
                            work: self.work.clone(),
                        };
                        tokio::spawn(task.run(parsed, Slot::Held(slot), counted));
                    }
                }
                Err(err) => {
                    drop(held);
                    let delay = failures.failed();
                    tracing::warn!(error = %err, "could not receive from the overflow lane; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        Ok(()) = shutdown.changed() => {}
                    }
                }
            }
        }
    }
}

/// How a message gets its in-flight slot.
enum Slot {
    /// It holds one already (the overflow lane takes slots before receiving).
    Held(OwnedSemaphorePermit),
    /// It waits for one, holding its admission (and its visibility) meanwhile.
    Wait(OwnedSemaphorePermit),
}

struct MessageTask<Q, D, L> {
    lane: Lane<Q>,
    work: Work<D, L>,
}

impl<Q: Queue, D: Deliverer, L: Ledger> MessageTask<Q, D, L> {
    async fn run(self, parsed: Parsed, slot: Slot, _share: Option<Held>) {
        let Parsed { message, objects } = parsed;
        let receives = message.receive_count;
        if receives != 1 {
            // Targets that had succeeded before will receive the object again.
            metrics::counter!("logspoke_worker_redeliveries_total").increment(1);
        }
        let delivering = async {
            let _slot = match slot {
                Slot::Held(slot) => slot,
                Slot::Wait(_admission) => match self.work.slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => return Outcome::Retry,
                },
            };
            self.work.pipeline.deliver_all(&objects).await
        };
        let outcome = tokio::select! {
            outcome = delivering => outcome,
            () = self.keep_invisible(&message.receipt) => Outcome::Retry,
        };
        match outcome {
            Outcome::Done => {
                let _ = self.lane.deletes.send(message.receipt).await;
            }
            Outcome::Retry => {
                tracing::info!(receives, "leaving a message for a retry");
                if let Err(err) = self
                    .lane
                    .queue
                    .set_visibility(&message.receipt, self.work.settings.retry_delay)
                    .await
                {
                    tracing::warn!(error = %err, "could not shorten the visibility of a failed message");
                }
            }
        }
    }

    /// Extends the visibility timeout at half its length, for as long as processing runs.
    async fn keep_invisible(&self, receipt: &str) {
        let period = self.work.settings.visibility / 2;
        loop {
            tokio::time::sleep(period).await;
            if let Err(err) = self
                .lane
                .queue
                .set_visibility(receipt, self.work.settings.visibility)
                .await
            {
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

//! The worker as an AWS Lambda function behind the delivery queue's event source mapping
//! (`logspoke-worker lambda`): the same event parsing, tenant binding, ledger, credential
//! cache, reader and sinks as the long-running poller ([`Pipeline`]), with three
//! differences that the Lambda environment forces:
//!
//! - **Partial batch response.** Each message of the batch is processed as the poller
//!   processes it; the ones the poller would leave for a retry ([`Outcome::Retry`]) are
//!   reported in `batchItemFailures`, every other one (delivered, parked, rejected, not a
//!   staged-object event) is not, so the event source mapping deletes it. A message that
//!   must be retried but carries no message id fails the whole invocation instead (the
//!   ledger keeps the others from being sent twice).
//! - **The deadline.** Work stops [`DEADLINE_MARGIN`] before the function's deadline
//!   (`context.deadline`): what is not finished by then is reported failed, never cut
//!   off mid-write by the runtime. A cut-off CloudWatch delivery resumes after its last
//!   acknowledged batch, as after a crash.
//! - **Fair batches.** With an overflow lane ([`Overflow`], ADR 12), a tenant's messages
//!   past its share of a delivery-queue batch move to the overflow queue, all of them when
//!   it has more than twice its share there (reported done, so the event source mapping
//!   deletes them); the overflow queue's own mapping feeds them back, and nothing from it
//!   moves again.
//! - **Config freshness** without a subscription ([`fresh`]), metrics as EMF log lines
//!   ([`emf`]), and the background work of a replica (health flush, draining parked
//!   objects, replay jobs) run after each batch in the time left.
//!
//! Credentials, SDK clients and the read model live in the execution environment and
//! serve every invocation it handles.

pub mod emf;
pub mod environment;
pub mod fresh;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use logspoke_contract::TenantId;

use self::fresh::Freshness;
use crate::event::{self, StagedObject};
use crate::ledger::Ledger;
use crate::pipeline::{Deliverer, Outcome, Pipeline};
use crate::sqs::{send_to_overflow, Outgoing, Queue};
use crate::tenants::source::ReadModel;

/// Time kept back from the function's deadline to record results and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// A batch that cannot be answered with a partial batch response: a message that must
/// be retried has no id to report it by.
#[derive(Debug, thiserror::Error)]
#[error("a message that must be retried has no message id; failing the whole batch")]
pub struct UnreportableRetry;

/// What one execution environment holds across invocations.
pub struct Function<D, L, R, Q> {
    pipeline: Arc<Pipeline<D, L>>,
    fresh: Freshness<R>,
    margin: Duration,
    queue: Q,
    retry_delay: Duration,
    overflow: Option<Overflow<Q>>,
}

/// The overflow lane as the function sees it (ADR 12): where a batch's messages past their
/// tenant's share go, and how batches that come from it are told apart.
pub struct Overflow<Q> {
    /// The overflow queue.
    pub queue: Q,
    /// Its name (the last part of its URL and of its ARN).
    pub name: String,
    /// Messages of one tenant a batch of the delivery queue keeps; past twice this, none.
    pub share: usize,
}

impl<Q> Overflow<Q> {
    /// True when `record` was received from the overflow queue.
    fn sent(&self, record: &SqsMessage) -> bool {
        record
            .event_source_arn
            .as_deref()
            .and_then(|arn| arn.rsplit(':').next())
            .is_some_and(|name| name == self.name)
    }
}

impl<D: Deliverer, L: Ledger, R: ReadModel, Q: Queue> Function<D, L, R, Q> {
    /// A function delivering through `pipeline`, whose configs `fresh` keeps current. A
    /// message to retry is made visible again on `queue` after `retry_delay`, as the
    /// poller does (else it would wait out the queue's visibility timeout, 6 x the
    /// function's).
    pub fn new(pipeline: Arc<Pipeline<D, L>>, fresh: Freshness<R>, queue: Q, retry_delay: Duration) -> Self {
        Self {
            pipeline,
            fresh,
            margin: DEADLINE_MARGIN,
            queue,
            retry_delay,
            overflow: None,
        }
    }

    /// The same function, moving a delivery-queue batch's messages past their tenant's
    /// share to `overflow` (whose own event source mapping feeds them back).
    #[must_use]
    pub fn with_overflow(mut self, overflow: Overflow<Q>) -> Self {
        self.overflow = Some(overflow);
        self
    }

    /// The pipeline (for the work after a batch).
    pub fn pipeline(&self) -> &Arc<Pipeline<D, L>> {
        &self.pipeline
    }

    /// Handles one batch of the delivery queue that must be answered by `deadline`.
    pub async fn handle(
        &self,
        batch: &SqsEvent,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, UnreportableRetry> {
        let stop_at = deadline.checked_sub(self.margin).unwrap_or(deadline);
        metrics::counter!("logspoke_worker_messages_received_total").increment(batch.records.len() as u64);
        // Each body parsed once (parsing counts and logs what it rejects).
        let objects: Vec<Vec<StagedObject>> = batch
            .records
            .iter()
            .map(|record| event::parse(record.body.as_deref().unwrap_or_default()).objects)
            .collect();
        let mut moving = self.moving(batch, &objects);
        // Moved first: a message the overflow lane did not take is processed here instead.
        let sent = self.move_to_overflow(batch, &objects, &moving).await;
        let mut taken = sent.iter();
        for moves in moving.iter_mut().filter(|m| **m) {
            *moves = taken.next().copied().unwrap_or(false);
        }
        let tenants: Vec<TenantId> = objects
            .iter()
            .zip(&moving)
            .filter(|(_, moves)| !**moves)
            .flat_map(|(objects, _)| objects)
            .map(|object| object.layout.tenant_id().clone())
            .collect();
        let unread = match tokio::time::timeout_at(stop_at.into(), self.fresh.refresh(&tenants)).await {
            Ok(unread) => unread,
            Err(_) => tenants,
        };
        let processed = join_all(
            objects
                .iter()
                .zip(&moving)
                .filter(|(_, moves)| !**moves)
                .map(|(objects, _)| self.process(objects, &unread, stop_at)),
        )
        .await;
        let mut processed = processed.into_iter();
        let outcomes: Vec<Outcome> = moving
            .iter()
            .map(|moves| match moves {
                true => Outcome::Done,
                false => processed.next().unwrap_or(Outcome::Retry),
            })
            .collect();
        let retried: Vec<&SqsMessage> = batch
            .records
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| *outcome == Outcome::Retry)
            .map(|(record, _)| record)
            .collect();
        join_all(retried.iter().map(|record| self.retry_soon(record))).await;
        let mut response = SqsBatchResponse::default();
        for record in retried {
            let id = record.message_id.as_deref().ok_or(UnreportableRetry)?;
            response.add_failure(id);
        }
        Ok(response)
    }

    /// Which records of a delivery-queue batch move to the overflow lane (none without a
    /// lane, none of a batch from the lane). A tenant with at most `share` messages in the
    /// batch keeps them; one with up to twice that keeps `share` and moves the rest (a
    /// pod flush of a few more objects than its share stays mostly here). One with more
    /// has a backlog: all of its messages move. A batch is a sample of the queue's head,
    /// and the event source mapping runs many batches at once, so keeping even its share
    /// of each would give a backlog `share` times the mapping's concurrency while other
    /// tenants' messages wait behind; it is served from the overflow lane instead (a fair
    /// queue in AWS, where each tenant's group gets its share), and a batch of it costs
    /// only the move.
    fn moving(&self, batch: &SqsEvent, objects: &[Vec<StagedObject>]) -> Vec<bool> {
        let Some(overflow) = &self.overflow else {
            return vec![false; objects.len()];
        };
        let tenants: Vec<Option<&TenantId>> = batch
            .records
            .iter()
            .zip(objects)
            .map(|(record, objects)| {
                objects
                    .first()
                    .map(|o| o.layout.tenant_id())
                    .filter(|_| !overflow.sent(record))
            })
            .collect();
        let mut in_batch: HashMap<&TenantId, usize> = HashMap::new();
        for tenant in tenants.iter().flatten() {
            *in_batch.entry(tenant).or_default() += 1;
        }
        let mut kept: HashMap<&TenantId, usize> = HashMap::new();
        tenants
            .iter()
            .map(|tenant| {
                let Some(tenant) = tenant else { return false };
                let count = in_batch.get(tenant).copied().unwrap_or_default();
                if count > 2 * overflow.share {
                    return true;
                }
                let kept = kept.entry(tenant).or_default();
                *kept += 1;
                *kept > overflow.share
            })
            .collect()
    }

    /// Sends the `moving` records to the overflow lane in their tenant's message group;
    /// whether each was taken, in order (a moved message is done here: the event source
    /// mapping deletes it).
    async fn move_to_overflow(
        &self,
        batch: &SqsEvent,
        objects: &[Vec<StagedObject>],
        moving: &[bool],
    ) -> Vec<bool> {
        let Some(overflow) = &self.overflow else {
            return Vec::new();
        };
        let outgoing: Vec<Outgoing> = batch
            .records
            .iter()
            .zip(objects)
            .zip(moving)
            .filter(|(_, moves)| **moves)
            .map(|((record, objects), _)| Outgoing {
                group: objects
                    .first()
                    .map(|o| o.layout.tenant_id().to_string())
                    .unwrap_or_default(),
                body: record.body.clone().unwrap_or_default(),
            })
            .collect();
        if outgoing.is_empty() {
            return Vec::new();
        }
        send_to_overflow(&overflow.queue, &outgoing).await
    }

    /// Makes a message to retry visible again after the retry delay, on the queue it came
    /// from.
    async fn retry_soon(&self, record: &SqsMessage) {
        tracing::info!("leaving a message for a retry");
        let Some(receipt) = record.receipt_handle.as_deref() else {
            return;
        };
        let from_overflow = self.overflow.as_ref().filter(|o| o.sent(record));
        let queue = from_overflow.map_or(&self.queue, |o| &o.queue);
        if let Err(err) = queue.set_visibility(receipt, self.retry_delay).await {
            tracing::warn!(error = %err, "could not shorten the visibility of a failed message");
        }
    }

    /// One message's objects, as the poller processes them, within the deadline.
    async fn process(&self, objects: &[StagedObject], unread: &[TenantId], stop_at: Instant) -> Outcome {
        if objects.iter().any(|o| unread.contains(o.layout.tenant_id())) {
            return Outcome::Retry;
        }
        match tokio::time::timeout_at(stop_at.into(), self.pipeline.deliver_all(objects)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!("the function's deadline came before a message was done; it will be retried");
                metrics::counter!("logspoke_worker_deadline_retries_total").increment(1);
                Outcome::Retry
            }
        }
    }
}

/// The instant of a Lambda deadline given in ms since the epoch (now, if it has passed).
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Writes the counters that grew since the last flush as EMF lines on stdout, where the
/// Lambda service sends them to CloudWatch Logs.
pub fn flush_metrics(flusher: &Mutex<emf::Flusher>, rendered: &str) {
    let lines = flusher
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .lines(rendered, crate::clock::now_ms());
    for line in lines {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_in_the_past_is_now() {
        let before = Instant::now();
        let deadline = deadline_instant(1_000);
        assert!(deadline >= before && deadline <= Instant::now());
        let later = deadline_instant(crate::clock::now_ms() as u64 + 60_000);
        assert!(later > Instant::now() + Duration::from_secs(50));
    }
}

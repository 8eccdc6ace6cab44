//! CloudWatch Logs sink: one staged object streamed through the decoder into a log
//! stream. The lines the target's filter keeps ([`crate::filter`]) are shaped into
//! messages ([`message`]), packed into `PutLogEvents` calls within AWS's limits
//! ([`packer`]) and sent with stream creation, retries and rejection counting
//! ([`service`]); this module drives them for one object and counts what was delivered
//! and what the filter removed. An object whose every line the filter removes sends
//! nothing and is delivered (0 events).
//!
//! Decoding and packing run on a blocking thread and hand full batches to the sending
//! task through a channel [`BATCHES_AHEAD`] deep, so an object holds a bounded number of
//! batches however large it is, and a failed send stops the decoder.

pub mod message;
pub mod packer;
pub mod request;
pub mod service;

use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use aws_sdk_s3::primitives::ByteStream;
use logspoke_contract::{LogStreamTemplate, ObjectKey};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use self::message::Messages;
use self::packer::{Batch, PackStats, Packer, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_MESSAGE_BYTES};
use self::service::{send, LogsApi};
use logspoke_contract::ledger::Cause;

use super::{Delivered, Progress, Resume, Step, TargetError};
use crate::budget::DecodeBudget;
use crate::filter::LineFilter;
use crate::reader::{EventReader, ReadError, ReadStats, DEFAULT_MAX_LINE_BYTES};
use logspoke_runtime::backoff::Backoff;

/// Batches decoded ahead of the one being sent. The decoder packs only while it holds a
/// free slot, so an object holds at most this many batches plus the one being sent (and
/// its request): about 5 MiB (see `crate::budget`).
pub const BATCHES_AHEAD: usize = 1;

/// Default of `LOGSPOKE_WORKER_MAX_DECODE_BYTES`: two long lines at a time (≈ 18 MiB), so
/// one tenant's slow sender cannot stall every other long line; with the other defaults
/// the worst case stays below the 128 MiB target (see `crate::budget`).
pub const DEFAULT_MAX_DECODE_BYTES: usize = 2 * LONG_LINE_COST;

/// What a long line may hold while it is decoded and split: a buffer of the line limit
/// (plus its `\n`) and one event piece in transit.
pub const fn long_line_cost(max_line_bytes: usize) -> usize {
    max_line_bytes + 1 + MAX_MESSAGE_BYTES
}

/// What a long line reserves at the reader's default line limit.
pub const LONG_LINE_COST: usize = long_line_cost(DEFAULT_MAX_LINE_BYTES);

/// How the sink works within its limits: how patiently it retries a throttled call, the
/// worker's decode budget that long lines are paid from, and how far one object may
/// decode. Built once per worker.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Retries of one `PutLogEvents` call.
    pub backoff: Backoff,
    /// What decoding may hold beyond each object's fixed buffers (`crate::budget`).
    pub budget: DecodeBudget,
    /// Decoded bytes one object may have; past them it is rejected as `too_large`.
    pub max_object_bytes: u64,
}

impl Tuning {
    /// `backoff`, with a decode budget of `max_decode_bytes` and no object limit.
    pub fn new(backoff: Backoff, max_decode_bytes: usize) -> Self {
        Self {
            backoff,
            budget: DecodeBudget::new(max_decode_bytes),
            max_object_bytes: u64::MAX,
        }
    }

    /// The same, with one tenant holding at most `share` bytes of the decode budget while
    /// another tenant waits for it.
    #[must_use]
    pub fn with_budget_share(mut self, share: usize) -> Self {
        self.budget = DecodeBudget::with_share(self.budget.total(), share);
        self
    }

    /// The same, rejecting an object that decodes to more than `max_object_bytes`.
    #[must_use]
    pub fn with_max_object_bytes(mut self, max_object_bytes: u64) -> Self {
        self.max_object_bytes = max_object_bytes;
        self
    }
}

/// The log stream an object goes to, and whose it is (the metrics' `tenant_id`).
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The tenant's log group.
    pub group: &'a str,
    /// The stream, rendered from the config's template ([`stream_name`]).
    pub stream: &'a str,
    /// The tenant the events are counted for.
    pub tenant_id: &'a str,
}

/// A staged object as the sink reads it: its body, the time of lines without one, which
/// lines go and the shape of their messages.
pub struct Source {
    /// The staged object's body (gzip NDJSON).
    pub body: ByteStream,
    /// The time of lines without a timestamp (the object's time).
    pub fallback_ms: i64,
    /// Which lines the target receives.
    pub lines: LineFilter,
    /// The shape of their messages.
    pub messages: Messages,
}

impl Source {
    /// Every line of `body`, as its text.
    pub fn raw(body: ByteStream, fallback_ms: i64) -> Self {
        Self {
            body,
            fallback_ms,
            lines: LineFilter::KeepAll,
            messages: Messages::Raw,
        }
    }
}

/// Streams `source` into `to`, sending each batch as soon as it is full and reporting
/// each acknowledged batch to `progress`. The first `resume.batches` batches were
/// acknowledged by an earlier attempt: they are decoded (packing is deterministic for the
/// same object, fallback time, filter and format, which an attempt under the same config
/// version has) but not sent again. A failed send ends the attempt; an unreadable file is
/// permanent unless the reader says a retry may pass.
pub async fn deliver<L: LogsApi, P: Progress>(
    logs: &L,
    to: Destination<'_>,
    source: Source,
    tuning: &Tuning,
    resume: Resume,
    progress: &P,
) -> Result<Delivered, TargetError> {
    let (tx, mut rx) = mpsc::channel::<Batch>(BATCHES_AHEAD);
    let limits = (tuning.budget.for_tenant(to.tenant_id), tuning.max_object_bytes);
    let decoding = tokio::task::spawn_blocking(move || decode_into(source, limits, &tx));
    let mut sent_error = None;
    let mut delivered = Delivered {
        events: resume.events,
        batches: 0,
        ..Delivered::default()
    };
    while let Some(batch) = rx.recv().await {
        delivered.batches += 1;
        if delivered.batches <= resume.batches {
            continue;
        }
        match send(logs, to.group, to.stream, &batch, &tuning.backoff).await {
            Ok(sent) => {
                record_batch(to.tenant_id, &batch, sent.accepted, sent.rejected);
                delivered.events += sent.accepted as u64;
                delivered.rejected_events += sent.rejected as u64;
                delivered.bytes += batch.payload_bytes as u64;
                progress.acked(delivered.batches, delivered.events).await;
            }
            Err(err) => {
                sent_error = Some(TargetError::aws(Step::CloudWatch, &err, None));
                break;
            }
        }
    }
    drop(rx);
    let decoded = decoding
        .await
        .map_err(|e| TargetError::Transient(Cause::AwsUnavailable, format!("decoder task failed: {e}")))?;
    if let Some(err) = sent_error {
        return Err(err);
    }
    let filtered = decoded.map_err(super::read_failed)?;
    Ok(Delivered {
        events_filtered: filtered,
        ..delivered
    })
}

/// The template of configs that do not set one, parsed once.
static DEFAULT_TEMPLATE: LazyLock<Option<LogStreamTemplate>> =
    LazyLock::new(|| LogStreamTemplate::parse(LogStreamTemplate::DEFAULT).ok());

/// The default template for keys staged before the namespace joined the layout, parsed
/// once: their logs go on into the streams they went to before the upgrade.
static LEGACY_DEFAULT_TEMPLATE: LazyLock<Option<LogStreamTemplate>> =
    LazyLock::new(|| LogStreamTemplate::parse(LogStreamTemplate::LEGACY_DEFAULT).ok());

/// The stream an object goes to: the config's template (or the default for the key's
/// layout) rendered for the object's key. A template that renders empty can never work:
/// permanent.
pub fn stream_name(layout: &ObjectKey, template: Option<&LogStreamTemplate>) -> Result<String, TargetError> {
    let default = match layout.namespace() {
        Some(_) => DEFAULT_TEMPLATE.as_ref(),
        None => LEGACY_DEFAULT_TEMPLATE.as_ref(),
    };
    template
        .or(default)
        .and_then(|t| t.render(layout))
        .map(|name| name.to_string())
        .ok_or_else(|| {
            TargetError::Permanent("bad_stream_name", "the stream name template renders empty".into())
        })
}

/// Decodes `source` and sends full batches into `tx`; stops early when the sender is
/// gone; returns the lines the filter removed. It waits for a free slot *before* packing
/// on ([`Slot`]), so no full batch waits in its hands; long lines are paid for from the
/// worker's decode budget (`crate::budget`), the object may decode to at most
/// `max_object_bytes`, and each line's batches are handed over as they fill (a split
/// message's piece by piece) before the next line is read, which ends its reservation.
fn decode_into(
    mut source: Source,
    (budget, max_object_bytes): (DecodeBudget, u64),
    tx: &mpsc::Sender<Batch>,
) -> Result<u64, ReadError> {
    let body = SyncIoBridge::new(source.body.into_async_read());
    let needs_container = source.lines.needs_container() || source.messages.needs_container();
    let mut events = EventReader::new(body, source.fallback_ms)?
        .with_container(needs_container)
        .with_budget(budget, LONG_LINE_COST)
        .with_max_object_bytes(max_object_bytes);
    let mut packer = Packer::new();
    let mut slot = Slot::free(tx);
    let (lines, messages) = (&source.lines, &mut source.messages);
    let filtered = pack_events(&mut events, (lines, messages), &mut packer, |batch| {
        slot.send(batch);
        !slot.is_gone()
    })?;
    if let Some(batch) = packer.finish() {
        slot.send(batch);
    }
    record_decoded(events.stats(), packer.stats(), &source.messages, filtered);
    Ok(filtered)
}

/// Packs the events of `events` that `lines` keeps, as `messages` shapes them, handing
/// each full batch to `emit` until it answers `false` (its receiver is gone); returns the
/// lines `lines` removed. The packer's last batch is left to the caller
/// ([`Packer::finish`]). Public for the decode benchmark.
pub fn pack_events<R: Read>(
    events: &mut EventReader<R>,
    (lines, messages): (&LineFilter, &mut Messages),
    packer: &mut Packer,
    mut emit: impl FnMut(Batch) -> bool,
) -> Result<u64, ReadError> {
    let (mut filtered, mut open) = (0, true);
    while let Some(event) = events.next_event()? {
        if !lines.keeps(&event) {
            filtered += 1;
            continue;
        }
        messages.push(event, packer, &mut |batch| open = open && emit(batch));
        if !open {
            break;
        }
    }
    Ok(filtered)
}

/// The decoder's place in the channel to the sender: it holds a free slot before it packs
/// on, so no full batch waits in its hands.
struct Slot<'a> {
    tx: &'a mpsc::Sender<Batch>,
    permit: Option<mpsc::Permit<'a, Batch>>,
}

impl<'a> Slot<'a> {
    /// Waits (on the decoding thread) until the sender has taken the last batch.
    fn free(tx: &'a mpsc::Sender<Batch>) -> Self {
        let permit = block_on(tx.reserve()).ok();
        Self { tx, permit }
    }

    /// Hands `batch` on and waits for the next free slot; once the sender is gone the
    /// batch is dropped.
    fn send(&mut self, batch: Batch) {
        if let Some(permit) = self.permit.take() {
            permit.send(batch);
            *self = Self::free(self.tx);
        }
    }

    fn is_gone(&self) -> bool {
        self.permit.is_none()
    }
}

fn record_batch(tenant_id: &str, batch: &Batch, accepted: usize, rejected: usize) {
    let labels = [("tenant_id", tenant_id.to_owned())];
    metrics::counter!("logspoke_worker_events_delivered_total", &labels).increment(accepted as u64);
    metrics::counter!("logspoke_worker_bytes_delivered_total", &labels).increment(batch.payload_bytes as u64);
    metrics::counter!("logspoke_worker_events_rejected_total", &labels).increment(rejected as u64);
    metrics::histogram!("logspoke_worker_batch_fill_ratio").record(
        (batch.payload_bytes as f64 / MAX_BATCH_BYTES as f64)
            .max(batch.len() as f64 / MAX_BATCH_EVENTS as f64),
    );
}

fn record_decoded(stats: &ReadStats, packed: &PackStats, messages: &Messages, filtered: u64) {
    super::record_bad_lines(stats);
    metrics::counter!("logspoke_worker_split_events_total")
        .increment(packed.split_events + messages.split_events());
    if filtered > 0 {
        tracing::debug!(
            events_filtered = filtered,
            "the target's filter removed lines of an object"
        );
    }
}

/// Runs `future` to completion on this (non-async) decoding thread, parking between
/// polls: how the decoder waits for a slot for its next batch.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests;

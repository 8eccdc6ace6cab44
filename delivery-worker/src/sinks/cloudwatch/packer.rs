//! Packs events into `PutLogEvents` batches that CloudWatch Logs accepts, as full as the
//! limits allow (fewer calls per tenant means less throttling and cost).
//!
//! The AWS emulator used in tests does not enforce these limits, so the unit tests here
//! are the only guard against batches that real CloudWatch would reject.
//!
//! Decisions:
//! - A batch holds at most [`MAX_BATCH_EVENTS`] events and [`MAX_BATCH_BYTES`] bytes,
//!   counting each message's UTF-8 length plus [`EVENT_OVERHEAD_BYTES`].
//! - The time span (newest − oldest, over the whole batch, since input may be out of
//!   order) is kept strictly below 24 hours ([`MAX_BATCH_SPAN_MS`]): AWS says a batch
//!   "cannot span more than 24 hours", and an exclusive bound stays safe whichever way
//!   AWS rounds.
//! - A message over [`MAX_MESSAGE_BYTES`] is split, not truncated, into consecutive
//!   events with the same timestamp, cut on UTF-8 character boundaries, so nothing is
//!   lost; each such input event is counted in [`PackStats::split_events`]. Each piece
//!   fills a batch, which is handed on before the next piece is copied, so an 8 MiB
//!   message costs the reader's buffer plus one piece, not twice its size.
//! - A batch keeps its messages in one buffer, one after another, and each event as its
//!   time and a range of that buffer: packing costs one copy per message and one
//!   allocation per batch, never one per event. The buffer never grows past
//!   [`MAX_BATCH_BYTES`].
//! - Batches are emitted greedily as soon as the next event would not fit, to a callback
//!   rather than into a list, so the packer never holds more than the one batch, and each batch is stable-sorted by timestamp (equal
//!   timestamps, e.g. split pieces, keep their order). Events are never reordered across
//!   batches: a file whose times jump back and forth by more than 24 h yields small
//!   batches rather than unbounded buffering.
//! - Empty messages are passed through (CloudWatch rejects them); the reader never
//!   produces one.
//! - What is pushed is what is sent and counted: a `json` message format is applied
//!   before packing (`super::message`), which keeps its messages within the per-event
//!   limit itself, as complete JSON objects.

use std::mem;
use std::ops::Range;

use crate::reader::Event;

/// Most events one `PutLogEvents` call may carry.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Most bytes one `PutLogEvents` call may carry, as AWS counts them.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes AWS adds to each event's message length when sizing a batch.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// Longest message one event may carry; longer messages are split.
pub const MAX_MESSAGE_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES;
/// A batch's newest − oldest timestamp must stay strictly below this (24 h).
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// One `PutLogEvents` call's events, sorted by timestamp and within every limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The messages, in the order they were packed.
    text: String,
    /// The events in chronological order.
    entries: Vec<Entry>,
    /// Size as AWS counts it: Σ (message bytes + 26); for metrics and assertions.
    pub payload_bytes: usize,
}

/// One event of a batch: its time and where its message lies in the batch's text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    timestamp_ms: i64,
    message: Range<usize>,
}

impl Batch {
    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Packs `events` that fit one batch into it, for tests of what is done with batches.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn of(events: &[crate::reader::LogEvent]) -> Self {
        let (mut packer, mut full) = (Packer::new(), Vec::new());
        for event in events {
            packer.push(event.as_event(), |batch| full.push(batch));
        }
        assert!(full.is_empty(), "the events need more than one batch");
        packer.finish().unwrap()
    }

    /// Whether it holds none (a packer never emits such a batch).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The events in chronological order, borrowed.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.entries.iter().map(|entry| Event {
            timestamp_ms: entry.timestamp_ms,
            message: self.text.get(entry.message.clone()).unwrap_or_default().into(),
            container: None,
        })
    }
}

/// Counters over everything pushed so far, for per-tenant metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Events pushed.
    pub events_in: u64,
    /// Events emitted in batches (more than `events_in` when messages were split).
    pub events_out: u64,
    /// Pushed events whose message was too long for one event and was split.
    pub split_events: u64,
    /// Batches emitted.
    pub batches: u64,
}

/// Streaming batch builder: [`Packer::push`] events, then [`Packer::finish`].
#[derive(Debug, Default)]
pub struct Packer {
    text: String,
    entries: Vec<Entry>,
    payload_bytes: usize,
    min_timestamp_ms: i64,
    max_timestamp_ms: i64,
    stats: PackStats,
}

/// AWS's size of one event with this message.
pub fn event_bytes(message: &str) -> usize {
    message.len() + EVENT_OVERHEAD_BYTES
}

impl Packer {
    /// An empty packer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event; every batch that became full is handed to `emit` at once (usually
    /// none, one when the batch fills, several when a huge message is split: each before
    /// the next piece is copied).
    pub fn push(&mut self, event: Event<'_>, mut emit: impl FnMut(Batch)) {
        self.stats.events_in += 1;
        if event.message.len() <= MAX_MESSAGE_BYTES {
            self.add(event.timestamp_ms, &event.message, &mut emit);
            return;
        }
        self.stats.split_events += 1;
        for piece in split_on_char_boundaries(&event.message, MAX_MESSAGE_BYTES) {
            self.add(event.timestamp_ms, piece, &mut emit);
        }
    }

    /// Emits the last, partly filled batch, if any; the packer can then be reused.
    pub fn finish(&mut self) -> Option<Batch> {
        self.take_batch()
    }

    /// Counters so far.
    pub fn stats(&self) -> &PackStats {
        &self.stats
    }

    /// Adds one event whose message fits an event.
    fn add(&mut self, timestamp_ms: i64, message: &str, emit: &mut impl FnMut(Batch)) {
        if !self.fits(timestamp_ms, message) {
            if let Some(batch) = self.take_batch() {
                emit(batch);
            }
        }
        if self.entries.is_empty() {
            (self.min_timestamp_ms, self.max_timestamp_ms) = (timestamp_ms, timestamp_ms);
        } else {
            self.min_timestamp_ms = self.min_timestamp_ms.min(timestamp_ms);
            self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
        }
        self.payload_bytes += event_bytes(message);
        self.reserve(message.len());
        let start = self.text.len();
        self.text.push_str(message);
        self.entries.push(Entry {
            timestamp_ms,
            message: start..self.text.len(),
        });
    }

    /// Room for `more` bytes of text, doubling but never past what a batch can hold (the
    /// text of a batch within the limits is below [`MAX_BATCH_BYTES`]).
    fn reserve(&mut self, more: usize) {
        let needed = self.text.len() + more;
        if needed > self.text.capacity() {
            let target = (2 * self.text.capacity()).clamp(needed, MAX_BATCH_BYTES.max(needed));
            self.text.reserve_exact(target - self.text.len());
        }
    }

    /// Whether the current batch can take the event without breaking a limit.
    fn fits(&self, timestamp_ms: i64, message: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let min = self.min_timestamp_ms.min(timestamp_ms);
        let max = self.max_timestamp_ms.max(timestamp_ms);
        self.entries.len() < MAX_BATCH_EVENTS
            && self.payload_bytes + event_bytes(message) <= MAX_BATCH_BYTES
            && max.saturating_sub(min) < MAX_BATCH_SPAN_MS
    }

    /// The batch so far; the next one starts with room for as much as this one held.
    fn take_batch(&mut self) -> Option<Batch> {
        if self.entries.is_empty() {
            return None;
        }
        let room = self.text.len();
        let text = mem::replace(&mut self.text, String::with_capacity(room));
        let capacity = self.entries.len();
        let mut entries = mem::replace(&mut self.entries, Vec::with_capacity(capacity));
        entries.sort_by_key(|entry| entry.timestamp_ms);
        let payload_bytes = mem::take(&mut self.payload_bytes);
        self.stats.batches += 1;
        self.stats.events_out += entries.len() as u64;
        Some(Batch {
            text,
            entries,
            payload_bytes,
        })
    }
}

/// Consecutive pieces of at most `max_bytes` bytes (if `max_bytes` ≥ 4), never cutting
/// a UTF-8 character.
fn split_on_char_boundaries(text: &str, max_bytes: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = max_bytes.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            // `max_bytes` is smaller than this character: emit it whole rather than loop.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

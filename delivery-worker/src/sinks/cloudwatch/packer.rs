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
//!   lost; each such input event is counted in [`PackStats::split_events`]. The pieces are
//!   carved from the message's own buffer (split off its tail, the buffer shrunk after
//!   each), so an 8 MiB message costs 8 MiB plus one piece, not twice its size.
//! - Batches are emitted greedily as soon as the next event would not fit, so memory is
//!   bounded to about one batch, and each batch is stable-sorted by timestamp (equal
//!   timestamps, e.g. split pieces, keep their order). Events are never reordered across
//!   batches: a file whose times jump back and forth by more than 24 h yields small
//!   batches rather than unbounded buffering.
//! - Empty messages are passed through (CloudWatch rejects them); the reader never
//!   produces one.

use std::mem;

use crate::reader::LogEvent;

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
    /// The events in chronological order.
    pub events: Vec<LogEvent>,
    /// Size as AWS counts it: Σ (message bytes + 26); for metrics and assertions.
    pub payload_bytes: usize,
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
    events: Vec<LogEvent>,
    payload_bytes: usize,
    min_timestamp_ms: i64,
    max_timestamp_ms: i64,
    stats: PackStats,
}

/// AWS's size of one event.
pub fn event_bytes(event: &LogEvent) -> usize {
    event.message.len() + EVENT_OVERHEAD_BYTES
}

impl Packer {
    /// An empty packer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event; every batch that became full is appended to `out` (usually none,
    /// one when the batch fills, several when a huge message is split).
    pub fn push(&mut self, event: LogEvent, out: &mut Vec<Batch>) {
        self.stats.events_in += 1;
        if event.message.len() <= MAX_MESSAGE_BYTES {
            self.add(event, out);
            return;
        }
        self.stats.split_events += 1;
        let timestamp_ms = event.timestamp_ms;
        for message in split_in_place(event.message, MAX_MESSAGE_BYTES) {
            self.add(
                LogEvent {
                    timestamp_ms,
                    message,
                },
                out,
            );
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

    fn add(&mut self, event: LogEvent, out: &mut Vec<Batch>) {
        if !self.fits(&event) {
            out.extend(self.take_batch());
        }
        let timestamp_ms = event.timestamp_ms;
        if self.events.is_empty() {
            (self.min_timestamp_ms, self.max_timestamp_ms) = (timestamp_ms, timestamp_ms);
        } else {
            self.min_timestamp_ms = self.min_timestamp_ms.min(timestamp_ms);
            self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
        }
        self.payload_bytes += event_bytes(&event);
        self.events.push(event);
    }

    /// Whether the current batch can take `event` without breaking a limit.
    fn fits(&self, event: &LogEvent) -> bool {
        if self.events.is_empty() {
            return true;
        }
        let min = self.min_timestamp_ms.min(event.timestamp_ms);
        let max = self.max_timestamp_ms.max(event.timestamp_ms);
        self.events.len() < MAX_BATCH_EVENTS
            && self.payload_bytes + event_bytes(event) <= MAX_BATCH_BYTES
            && max.saturating_sub(min) < MAX_BATCH_SPAN_MS
    }

    fn take_batch(&mut self) -> Option<Batch> {
        if self.events.is_empty() {
            return None;
        }
        let capacity = self.events.len();
        let mut events = mem::replace(&mut self.events, Vec::with_capacity(capacity));
        events.sort_by_key(|event| event.timestamp_ms);
        let payload_bytes = mem::take(&mut self.payload_bytes);
        self.stats.batches += 1;
        self.stats.events_out += events.len() as u64;
        Some(Batch {
            events,
            payload_bytes,
        })
    }
}

/// `message` cut as [`split_on_char_boundaries`] cuts it, carved from its own buffer: the
/// pieces are split off the tail (each copied once, into an allocation of its exact size)
/// and the buffer is shrunk in place after each, so the message's bytes are held once,
/// plus one piece while it is copied; the buffer itself becomes the first piece.
fn split_in_place(mut message: String, max_bytes: usize) -> Vec<String> {
    let mut cuts: Vec<usize> = split_on_char_boundaries(&message, max_bytes)
        .scan(0, |end, piece| {
            *end += piece.len();
            Some(*end)
        })
        .collect();
    cuts.pop(); // the message's end
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    while let Some(cut) = cuts.pop() {
        pieces.push(message.split_off(cut));
        message.shrink_to_fit();
    }
    pieces.push(message);
    pieces.reverse();
    pieces
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

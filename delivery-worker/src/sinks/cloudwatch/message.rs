//! The message CloudWatch receives for a line: its text (`raw`), or a JSON object with
//! the text and the fields the config picks (`json`, see [`MessageFormat`]), so that Logs
//! Insights can query by namespace or pod without parsing.
//!
//! Decisions:
//! - A `json` message is `{"message":TEXT,"cluster":…,"namespace":…,"application":…,
//!   "container":…,"pod":…}`: the text first, then the picked fields in
//!   [`MessageField::ALL`] order. A field the line or key does not carry (a line without a
//!   container, a key staged before the namespace joined it) is left out, never empty.
//!   A container longer than [`MAX_CONTAINER_BYTES`] (Kubernetes names have at most 63)
//!   is left out too, so the fields always leave the text room.
//! - Strings are escaped as the request body escapes them ([`escape_within`]): compact
//!   JSON, UTF-8 as it is.
//! - The message is built after filtering, and the packer counts it as sent: its bytes
//!   are the formatted object's.
//! - A line whose formatted message would exceed CloudWatch's per-event limit
//!   ([`MAX_MESSAGE_BYTES`]) becomes several events with the same timestamp, in order:
//!   its text is cut into consecutive parts (on character boundaries, never inside an
//!   escape), each part a complete JSON object with the same fields and within the limit.
//!   No field is added to say so — a part is recognised as a split raw message is, by the
//!   same timestamp and the same fields — and the line is counted as split
//!   ([`Messages::split_events`]).

use std::borrow::Cow;

use logspoke_contract::{MessageField, MessageFormat, ObjectKey};

use super::packer::{Batch, Packer, MAX_MESSAGE_BYTES};
use crate::json::{escape_within, MAX_ESCAPE_BYTES};
use crate::reader::Event;

/// Longest container name a `json` message carries.
pub const MAX_CONTAINER_BYTES: usize = 1024;

/// A message buffer larger than this (left by a long line) is given back after its line.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

/// What a `json` message starts with, before the escaped text.
const OPENING: &str = r#"{"message":""#;

/// Shapes an object's events into messages: one per object and target.
#[derive(Debug, Clone, Default)]
pub enum Messages {
    /// The line's text, as it is.
    #[default]
    Raw,
    /// A JSON object with the text and picked fields.
    Json(Box<JsonMessages>),
}

/// The `json` format for one object: the fields the key gives, written once, and the
/// buffers every message of the object reuses.
#[derive(Debug, Clone, Default)]
pub struct JsonMessages {
    /// `,"cluster":…,"namespace":…,"application":…` as picked.
    before_container: String,
    /// Whether `container` is picked.
    container: bool,
    /// `,"pod":…}` as picked (always ends the object).
    after_container: String,
    /// The current line's fields: `before_container`, its container, `after_container`.
    fields: String,
    /// The message being built.
    message: String,
    split_events: u64,
}

impl Messages {
    /// The messages `format` makes of the events of the object staged as `layout`.
    pub fn new(format: &MessageFormat, layout: &ObjectKey) -> Self {
        match format {
            MessageFormat::Raw => Self::Raw,
            MessageFormat::Json(fields) => Self::Json(Box::new(JsonMessages::new(fields, layout))),
        }
    }

    /// Whether the messages carry each line's `container` (the reader then reads it).
    pub fn needs_container(&self) -> bool {
        matches!(self, Self::Json(json) if json.container)
    }

    /// Packs `event`'s message (or its parts) into `packer`, handing full batches to
    /// `emit`.
    pub fn push(&mut self, event: Event<'_>, packer: &mut Packer, emit: &mut impl FnMut(Batch)) {
        match self {
            Self::Raw => packer.push(event, emit),
            Self::Json(json) => json.push(&event, packer, emit),
        }
    }

    /// Lines whose `json` message had to be split (a raw message's splits are the
    /// packer's).
    pub fn split_events(&self) -> u64 {
        match self {
            Self::Raw => 0,
            Self::Json(json) => json.split_events,
        }
    }
}

impl JsonMessages {
    fn new(fields: &[MessageField], layout: &ObjectKey) -> Self {
        let mut json = Self::default();
        for field in MessageField::ALL.into_iter().filter(|f| fields.contains(f)) {
            let value = match field {
                MessageField::Cluster => Some(layout.cluster_id()),
                MessageField::Namespace => layout.namespace().map(|n| n.as_str()),
                MessageField::Application => Some(layout.application()),
                MessageField::Pod => Some(layout.pod_name()),
                MessageField::Container => {
                    json.container = true;
                    continue;
                }
            };
            let part = if json.container {
                &mut json.after_container
            } else {
                &mut json.before_container
            };
            if let Some(value) = value {
                write_field(part, field, value);
            }
        }
        json.after_container.push('}');
        json
    }

    /// Packs the message(s) of `event`: as many parts as its text needs.
    fn push(&mut self, event: &Event<'_>, packer: &mut Packer, emit: &mut impl FnMut(Batch)) {
        self.write_fields(event.container.as_deref());
        // Fields come from the key (at most 1 KiB) and a bounded container: room is left.
        let room = MAX_MESSAGE_BYTES
            .saturating_sub(OPENING.len() + 1 + self.fields.len())
            .max(MAX_ESCAPE_BYTES);
        let mut rest: &str = &event.message;
        let mut parts = 0;
        loop {
            self.message.clear();
            self.message.push_str(OPENING);
            let taken = escape_within(&mut self.message, rest, room);
            self.message.push('"');
            self.message.push_str(&self.fields);
            rest = rest.get(taken..).unwrap_or_default();
            parts += 1;
            let part = Event {
                timestamp_ms: event.timestamp_ms,
                message: Cow::Borrowed(&self.message),
                container: None,
            };
            packer.push(part, &mut *emit);
            if rest.is_empty() {
                break;
            }
        }
        self.split_events += u64::from(parts > 1);
        if self.message.capacity() > KEPT_BUFFER_BYTES {
            // A long line's part buffer is not kept for the object's common lines.
            self.message = String::new();
        }
    }

    /// This line's fields into `fields`: the key's, with its container if picked.
    fn write_fields(&mut self, container: Option<&str>) {
        self.fields.clear();
        self.fields.push_str(&self.before_container);
        if let Some(container) = container.filter(|c| self.container && c.len() <= MAX_CONTAINER_BYTES) {
            write_field(&mut self.fields, MessageField::Container, container);
        }
        self.fields.push_str(&self.after_container);
    }
}

/// `,"name":"value"` with the value escaped.
fn write_field(out: &mut String, field: MessageField, value: &str) {
    out.push_str(",\"");
    out.push_str(field.as_str());
    out.push_str("\":\"");
    escape_within(out, value, usize::MAX);
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

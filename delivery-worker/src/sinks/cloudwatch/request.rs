//! A `PutLogEvents` request body, encoded once per batch from the batch's text.
//!
//! The SDK's own path copies every message into an `InputLogEvent` per attempt and then
//! escapes it character by character; the batch's text is already one buffer, so the
//! body is written straight from it, runs of plain text copied whole, and every attempt
//! (throttling retries, the retry after creating the stream) sends the same bytes. The
//! body is the awsJson1.1 document the SDK would send: `logGroupName`, `logStreamName`,
//! and `logEvents` of `{"timestamp", "message"}` in the batch's (chronological) order.

use bytes::Bytes;

use super::packer::Batch;
use crate::json::plain_run;

/// One `PutLogEvents` call: where it goes, the batch (for counting what came back) and
/// its encoded body.
#[derive(Debug, Clone)]
pub struct PutRequest<'a> {
    /// The tenant's log group.
    pub group: &'a str,
    /// The stream in it.
    pub stream: &'a str,
    /// The events the body carries.
    pub batch: &'a Batch,
    body: Bytes,
}

impl<'a> PutRequest<'a> {
    /// Encodes `batch` for `group`/`stream`.
    pub fn new(group: &'a str, stream: &'a str, batch: &'a Batch) -> Self {
        Self {
            group,
            stream,
            batch,
            body: encode(group, stream, batch),
        }
    }

    /// The JSON body, cheap to clone for each attempt.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// The request body for `batch`.
pub fn encode(group: &str, stream: &str, batch: &Batch) -> Bytes {
    // Plain text is copied as it is, and the JSON around each message takes at most 42
    // bytes more than the 26 the payload counts (with a 20-digit time); only escapes grow
    // the body beyond this.
    let capacity = batch.payload_bytes + 42 * batch.len() + group.len() + stream.len() + 64;
    let mut body = Vec::with_capacity(capacity);
    body.extend_from_slice(br#"{"logGroupName":"#);
    string(&mut body, group);
    body.extend_from_slice(br#","logStreamName":"#);
    string(&mut body, stream);
    body.extend_from_slice(br#","logEvents":["#);
    for (i, event) in batch.events().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(br#"{"timestamp":"#);
        body.extend_from_slice(itoa(event.timestamp_ms, &mut [0; 20]));
        body.extend_from_slice(br#","message":"#);
        string(&mut body, &event.message);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    Bytes::from(body)
}

/// `text` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, … or
/// `\u00XX`; everything else (all of UTF-8 above U+001F) as it is.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut rest = text.as_bytes();
    loop {
        let run = plain_run(rest);
        out.extend_from_slice(&rest[..run]);
        let Some((&byte, tail)) = rest[run..].split_first() else {
            break;
        };
        match byte {
            b'"' => out.extend_from_slice(br#"\""#),
            b'\\' => out.extend_from_slice(br"\\"),
            b'\n' => out.extend_from_slice(br"\n"),
            b'\r' => out.extend_from_slice(br"\r"),
            b'\t' => out.extend_from_slice(br"\t"),
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(br"\u00");
                out.push(HEX[usize::from(control >> 4)]);
                out.push(HEX[usize::from(control & 0xf)]);
            }
        }
        rest = tail;
    }
    out.push(b'"');
}

/// `value` in decimal, written into `buf`.
fn itoa(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reader::LogEvent;

    fn batch(events: &[LogEvent]) -> Batch {
        Batch::of(events)
    }

    /// The body parsed back, as (group, stream, [(timestamp, message)]).
    fn decoded(body: &[u8]) -> (String, String, Vec<(i64, String)>) {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        let events = json["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["timestamp"].as_i64().unwrap(), text(&e["message"])))
            .collect();
        (text(&json["logGroupName"]), text(&json["logStreamName"]), events)
    }

    #[test]
    fn every_character_a_message_can_hold_survives_the_body() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        let messages = [
            "plain text".to_owned(),
            r#"quotes " and \ backslashes \" \\"#.to_owned(),
            every_control,
            "é ü 日本 😀 \u{7f} \u{2028} \u{fffd}".to_owned(),
            "x".repeat(1000) + "\"" + &"y".repeat(7),
        ];
        let events: Vec<LogEvent> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                timestamp_ms: 1_700_000_000_123 - i as i64 * 1_001,
                message: m.clone(),
            })
            .collect();
        let batch = batch(&events);
        let body = encode("/group/é\"", "stream\\1", &batch);
        let (group, stream, got) = decoded(&body);
        assert_eq!((group.as_str(), stream.as_str()), ("/group/é\"", "stream\\1"));
        let expected: Vec<(i64, String)> = batch
            .events()
            .map(|e| (e.timestamp_ms, e.message.into_owned()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(got.len(), messages.len());
    }

    #[test]
    fn timestamps_are_written_in_decimal() {
        for value in [0, 7, -5, 1_700_000_000_123, i64::MAX, i64::MIN] {
            assert_eq!(itoa(value, &mut [0; 20]), value.to_string().as_bytes());
        }
    }

    #[test]
    fn the_body_is_the_document_the_sdk_would_send() {
        let batch = batch(&[
            LogEvent {
                timestamp_ms: 2,
                message: "b\n".into(),
            },
            LogEvent {
                timestamp_ms: 1,
                message: "a".into(),
            },
        ]);
        assert_eq!(
            &encode("g", "s", &batch)[..],
            br#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"a"},{"timestamp":2,"message":"b\n"}]}"#
        );
    }
}

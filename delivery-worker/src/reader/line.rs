//! One NDJSON line → message and timestamp, borrowing from the line buffer where it can.
//!
//! Only `message` and `timestamp` are materialised; Kubernetes metadata and any other
//! field are skipped by serde without allocating. A string `message` without escapes is
//! borrowed and copied once into the event's `String`. A non-string `message` (object,
//! array, number, bool) is rare, so it takes a second pass that keeps its original JSON
//! text (key order included), minus insignificant whitespace.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::timestamp::Timestamp;
use super::ReadError;

/// A line that cannot become an event; why is not kept (it would need the content).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadLine;

/// What a good line yields.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    pub(super) timestamp_ms: Option<i64>,
    pub(super) message: String,
}

/// The line without its line ending, or `None` for a blank line.
pub(super) fn content(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(line)
    }
}

/// Rejects content that is not NDJSON at all, judged by its first non-blank line, so a
/// binary or foreign-format object fails loudly instead of yielding only bad lines.
pub(super) fn check_ndjson_start(line: &[u8]) -> Result<(), ReadError> {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => Ok(()),
        Some(&other) => Err(ReadError::NotNdjson(other)),
    }
}

/// Parses one non-blank line.
pub(super) fn parse(line: &[u8]) -> Result<Parsed, BadLine> {
    // serde would also accept a JSON array as a struct; a log line must be an object.
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(BadLine);
    }
    let fields: Fields<'_> = serde_json::from_slice(line).map_err(|_| BadLine)?;
    let message = match fields.message {
        Some(Message::Text(text)) => text.into_owned(),
        Some(Message::Structured) => structured_message(line)?,
        None => return Err(BadLine),
    };
    if message.is_empty() {
        return Err(BadLine);
    }
    Ok(Parsed {
        timestamp_ms: fields.timestamp.map(|t| t.0),
        message,
    })
}

/// The fields we use; unknown fields are skipped (serde ignores them by default).
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
}

/// `message` as first seen: text, or a marker that it is other JSON.
enum Message<'a> {
    Text(Cow<'a, str>),
    Structured,
}

impl<'de: 'a, 'a> Deserialize<'de> for Message<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a log message")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Message::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Message::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Message::Text(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Message::Structured)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Message::Structured)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Message::Structured)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Message::Structured)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Message::Structured)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Message::Structured)
    }
}

/// Second pass for a non-string `message`: its JSON text, compacted.
fn structured_message(line: &[u8]) -> Result<String, BadLine> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        message: &'a RawValue,
    }
    let raw: Raw<'_> = serde_json::from_slice(line).map_err(|_| BadLine)?;
    Ok(compact_json(raw.message.get()))
}

/// Removes the whitespace between JSON tokens, leaving string contents untouched.
fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Parsed, BadLine> {
        parse(line.as_bytes())
    }

    #[test]
    fn plain_message_and_metadata_are_read() {
        let line = r#"{"kubernetes":{"pod_name":"p","labels":{"a":"b"}},"message":"hello","timestamp":1000}"#;
        let parsed = parse_str(line).unwrap();
        assert_eq!(
            parsed,
            Parsed {
                timestamp_ms: Some(1_000_000),
                message: "hello".into()
            }
        );
    }

    #[test]
    fn escaped_message_is_unescaped() {
        let parsed = parse_str(r#"{"message":"a \"q\" \u00e9\n","timestamp":1}"#).unwrap();
        assert_eq!(parsed.message, "a \"q\" é\n");
    }

    #[test]
    fn object_message_becomes_compact_json_in_original_key_order() {
        let line = r#"{"message": { "z" : 1, "a" : [ true , null ], "s" : "x  \" y" }, "timestamp": 1}"#;
        let parsed = parse_str(line).unwrap();
        assert_eq!(parsed.message, r#"{"z":1,"a":[true,null],"s":"x  \" y"}"#);
    }

    #[test]
    fn scalar_messages_keep_their_json_text() {
        assert_eq!(
            parse_str(r#"{"message":12.50,"timestamp":1}"#).unwrap().message,
            "12.50"
        );
        assert_eq!(
            parse_str(r#"{"message":false,"timestamp":1}"#).unwrap().message,
            "false"
        );
        assert_eq!(
            parse_str(r#"{"message":[1, 2],"timestamp":1}"#).unwrap().message,
            "[1,2]"
        );
    }

    #[test]
    fn compact_json_handles_escaped_backslash_before_quote() {
        assert_eq!(
            compact_json(r#"{ "a" : "x\\" , "b" : 1 }"#),
            r#"{"a":"x\\","b":1}"#
        );
    }

    #[test]
    fn lines_without_a_usable_message_are_bad() {
        for line in [
            r#"{"timestamp":1}"#,
            r#"{"message":null,"timestamp":1}"#,
            r#"{"message":"","timestamp":1}"#,
            r#"{"message":"a","message":"b"}"#,
            r#"["message"]"#,
            r#"{"message":"unterminated}"#,
            "not json",
        ] {
            assert_eq!(parse_str(line), Err(BadLine), "{line}");
        }
    }

    #[test]
    fn missing_or_null_timestamp_is_none() {
        assert_eq!(parse_str(r#"{"message":"m"}"#).unwrap().timestamp_ms, None);
        assert_eq!(
            parse_str(r#"{"message":"m","timestamp":null}"#)
                .unwrap()
                .timestamp_ms,
            None
        );
    }

    #[test]
    fn unparsable_timestamp_is_bad() {
        for ts in [
            r#""yesterday""#,
            r#""2026-13-01T00:00:00Z""#,
            "true",
            "{}",
            r#""""#,
        ] {
            let line = format!(r#"{{"message":"m","timestamp":{ts}}}"#);
            assert_eq!(parse_str(&line), Err(BadLine), "{ts}");
        }
    }

    #[test]
    fn content_strips_line_endings_and_skips_blank_lines() {
        assert_eq!(content(b"{}\r\n"), Some(&b"{}"[..]));
        assert_eq!(content(b"{}\n"), Some(&b"{}"[..]));
        assert_eq!(content(b"{}"), Some(&b"{}"[..]));
        assert_eq!(content(b" \t\r\n"), None);
        assert_eq!(content(b"\n"), None);
    }
}

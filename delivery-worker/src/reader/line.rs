//! One NDJSON line → message and timestamp, borrowing from the line wherever it can.
//!
//! Only `message` and `timestamp` are materialised, and `container` when the reader is
//! asked for it (a filter or message format looks at it). The fast path ([`super::scan`]) finds
//! them in one pass and checks the rest is JSON without building anything; a message
//! without escapes is then borrowed from the line, one with escapes is unescaped into the
//! reader's scratch buffer, so a common line costs no allocation. Anything the fast path
//! does not accept goes to serde ([`parse_slow`], the reference both are tested against):
//! a non-string `message` (object, array, number, bool) keeps its original JSON text (key
//! order included), minus insignificant whitespace, and every bad line is judged there.
//!
//! A long line is not copied at all ([`parse_in_place`]): the message is unescaped (or
//! compacted) in place to the front of the reader's buffer and borrowed from there. All
//! three functions give the same results.
//!
//! `container` is the top-level `container` string; a line has none when it lacks the
//! field, when the field is not a string, or when it is given twice. It never makes a
//! line bad: a line's judgement is the same whether it is asked for or not.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::scan;
use super::timestamp::{self, Timestamp};
use super::ReadError;

/// A line that cannot become an event; why is not kept (it would need the content).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadLine;

/// What a good line yields.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    pub(super) timestamp_ms: Option<i64>,
    pub(super) message: MessageAt,
    /// Only when asked for.
    pub(super) container: Option<ContainerAt>,
}

/// Where a good line's `container` is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ContainerAt {
    /// These bytes of the line, checked to be UTF-8.
    Line(Range<usize>),
    /// Its own string: one with escapes, or one of a line serde reads.
    Owned(String),
}

/// Where a good line's message is, so that the reader can lend it out once it has
/// judged the line (and skipped the bad ones before it).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum MessageAt {
    /// These bytes of the line, checked to be UTF-8.
    Line(Range<usize>),
    /// The whole scratch buffer, checked to be UTF-8.
    Scratch,
    /// Its own string: lines only serde reads, which are rare.
    Owned(String),
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
    match first_byte(line) {
        Some(b'{') | None => Ok(()),
        Some(other) => Err(ReadError::NotNdjson(other)),
    }
}

/// The line's first non-blank byte. serde would also accept a JSON array as a struct; a
/// log line must be an object, so both serde paths look at this first.
fn first_byte(line: &[u8]) -> Option<u8> {
    line.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Parses one non-blank line (with its `container` when `want_container`); an unescaped
/// message may be left in `scratch`.
pub(super) fn parse(line: &[u8], scratch: &mut Vec<u8>, want_container: bool) -> Result<Parsed, BadLine> {
    let fast = if want_container {
        parse_fast::<true>(line, scratch)
    } else {
        parse_fast::<false>(line, scratch)
    };
    match fast {
        Some(parsed) => Ok(parsed),
        None => parse_slow(line, want_container),
    }
}

/// The fast path (with the container when `CONTAINER`): `None` whenever serde has to
/// decide.
fn parse_fast<const CONTAINER: bool>(line: &[u8], scratch: &mut Vec<u8>) -> Option<Parsed> {
    let fields = scan::scan::<CONTAINER>(line)?;
    let container = match fields.container {
        Some(range) if fields.ascii || std::str::from_utf8(&line[range.clone()]).is_ok() => {
            Some(ContainerAt::Line(range))
        }
        // Not UTF-8: serde's judgement (it has none).
        Some(_) => return None,
        None => None,
    };
    let timestamp_ms = match fields.timestamp {
        Some(raw) => timestamp_value(&line[raw])?,
        None => None,
    };
    let body = &line[fields.message.clone()];
    let (text, message) = if fields.message_escaped {
        scratch.clear();
        scratch.extend_from_slice(body);
        let len = unescape_in_place(scratch, 0..body.len()).ok()?;
        scratch.truncate(len);
        (&scratch[..], MessageAt::Scratch)
    } else {
        (body, MessageAt::Line(fields.message))
    };
    let good = !text.is_empty() && (fields.ascii || std::str::from_utf8(text).is_ok());
    good.then_some(Parsed {
        timestamp_ms,
        message,
        container,
    })
}

/// A `timestamp` value's JSON text as serde reads it (`Some(None)` for `null`); `None`
/// when it is not a timestamp, for serde to judge.
fn timestamp_value(raw: &[u8]) -> Option<Option<i64>> {
    if let Some(text) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) {
        if !text.contains(&b'\\') {
            let text = std::str::from_utf8(text).ok()?;
            return timestamp::parse_str(text).map(Some);
        }
    }
    serde_json::from_slice::<Option<Timestamp>>(raw)
        .ok()
        .map(|t| t.map(|t| t.0))
}

/// Parses one non-blank line with serde: the reference for [`parse`].
pub(super) fn parse_slow(line: &[u8], want_container: bool) -> Result<Parsed, BadLine> {
    if first_byte(line) != Some(b'{') {
        return Err(BadLine);
    }
    let fields: Fields<'_> = serde_json::from_slice(line).map_err(|_| BadLine)?;
    let message = match fields.message {
        Some(Message::Text(text)) => text,
        Some(Message::Structured) => Cow::Owned(structured_message(line)?),
        None => return Err(BadLine),
    };
    if message.is_empty() {
        return Err(BadLine);
    }
    Ok(Parsed {
        timestamp_ms: fields.timestamp.map(|t| t.0),
        message: MessageAt::Owned(message.into_owned()),
        container: want_container.then(|| container_slow(line)).flatten(),
    })
}

/// The `container` of a good line, read by serde: a string, else none (also when the
/// field is given twice, which serde refuses).
fn container_slow(line: &[u8]) -> Option<ContainerAt> {
    #[derive(Deserialize)]
    struct Field<'a> {
        #[serde(borrow, default)]
        container: Option<&'a RawValue>,
    }
    let field: Field<'_> = serde_json::from_slice(line).ok()?;
    serde_json::from_str::<String>(field.container?.get())
        .ok()
        .map(ContainerAt::Owned)
}

/// [`parse`] for a long line, in its own buffer: the message is unescaped (or compacted)
/// to the buffer's front and borrowed from there, so a long line is never held twice.
pub(super) fn parse_in_place(line: &mut [u8], want_container: bool) -> Result<Parsed, BadLine> {
    if first_byte(line) != Some(b'{') {
        return Err(BadLine);
    }
    // Read before the message overwrites the line; owned, as the buffer is reused.
    let container = want_container.then(|| container_slow(line)).flatten();
    let (raw, timestamp_ms) = {
        let fields: RawFields<'_> = serde_json::from_slice(line).map_err(|_| BadLine)?;
        let raw = fields.message.ok_or(BadLine)?.get();
        // serde_json borrows the raw value from `line`: where it starts in the buffer.
        let start = (raw.as_ptr() as usize)
            .checked_sub(line.as_ptr() as usize)
            .ok_or(BadLine)?;
        (start..start + raw.len(), fields.timestamp.map(|t| t.0))
    };
    let len = if raw.len() >= 2 && line.get(raw.start) == Some(&b'"') {
        unescape_in_place(line, raw.start + 1..raw.end - 1)?
    } else {
        compact_in_place(line, raw)
    };
    if len == 0 || std::str::from_utf8(&line[..len]).is_err() {
        return Err(BadLine);
    }
    Ok(Parsed {
        timestamp_ms,
        message: MessageAt::Line(0..len),
        container,
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

/// [`Fields`] with `message` as its raw JSON text, for [`parse_in_place`].
#[derive(Deserialize)]
struct RawFields<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
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
    compact_json(raw.message.get())
}

/// Removes the whitespace between JSON tokens, leaving string contents untouched.
fn compact_json(json: &str) -> Result<String, BadLine> {
    let mut out = json.as_bytes().to_vec();
    let len = compact_in_place(&mut out, 0..json.len());
    out.truncate(len);
    String::from_utf8(out).map_err(|_| BadLine)
}

/// Writes the JSON text `buf[raw]` without the whitespace between its tokens to the front
/// of `buf`; returns its length. String contents are kept; every byte this looks for is
/// ASCII, so multi-byte characters pass whole.
fn compact_in_place(buf: &mut [u8], raw: Range<usize>) -> usize {
    let (mut in_string, mut escaped) = (false, false);
    let mut write = 0;
    for read in raw {
        let byte = buf[read];
        if in_string {
            in_string = escaped || byte != b'"';
            escaped = !escaped && byte == b'\\';
        } else if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else {
            in_string = byte == b'"';
        }
        buf[write] = byte;
        write += 1;
    }
    write
}

/// Unescapes the JSON string body `buf[body]` (its syntax checked by serde_json) to the
/// front of `buf`; returns its length. No escape is shorter than what it stands for, so
/// writing never overtakes reading. Like serde_json for a `str`, lone surrogates are bad.
fn unescape_in_place(buf: &mut [u8], body: Range<usize>) -> Result<usize, BadLine> {
    let (mut read, mut write) = (body.start, 0);
    loop {
        let rest = buf.get(read..body.end).ok_or(BadLine)?;
        let run = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
        buf.copy_within(read..read + run, write);
        (read, write) = (read + run, write + run);
        if read == body.end {
            return Ok(write);
        }
        let (c, escape_len) = unescape(buf.get(read..body.end).ok_or(BadLine)?)?;
        let out = buf.get_mut(write..write + c.len_utf8()).ok_or(BadLine)?;
        c.encode_utf8(out);
        (read, write) = (read + escape_len, write + c.len_utf8());
    }
}

/// The character of the escape `text` starts with, and the escape's length.
fn unescape(text: &[u8]) -> Result<(char, usize), BadLine> {
    let c = match text.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unescape_unicode(text),
        _ => return Err(BadLine),
    };
    Ok((c, 2))
}

/// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`.
fn unescape_unicode(text: &[u8]) -> Result<(char, usize), BadLine> {
    let first = hex4(text.get(2..6))?;
    if !(0xD800..0xDC00).contains(&first) {
        // A trailing surrogate alone is no char: `from_u32` refuses it.
        return char::from_u32(first).map(|c| (c, 6)).ok_or(BadLine);
    }
    if text.get(6..8) != Some(b"\\u") {
        return Err(BadLine);
    }
    let second = hex4(text.get(8..12))?;
    if !(0xDC00..0xE000).contains(&second) {
        return Err(BadLine);
    }
    let code = 0x1_0000 + ((first - 0xD800) << 10) + (second - 0xDC00);
    char::from_u32(code).map(|c| (c, 12)).ok_or(BadLine)
}

fn hex4(digits: Option<&[u8]>) -> Result<u32, BadLine> {
    digits
        .filter(|d| d.len() == 4)
        .ok_or(BadLine)?
        .iter()
        .try_fold(0, |n, d| Ok(n * 16 + char::from(*d).to_digit(16).ok_or(BadLine)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A good line's timestamp, message text and container.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        timestamp_ms: Option<i64>,
        message: String,
        container: Option<String>,
    }

    fn owned(parsed: Parsed, line: &[u8], scratch: &[u8]) -> Owned {
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        let message = match parsed.message {
            MessageAt::Line(range) => text(&line[range]),
            MessageAt::Scratch => text(scratch),
            MessageAt::Owned(message) => message,
        };
        let container = parsed.container.map(|at| match at {
            ContainerAt::Line(range) => text(&line[range]),
            ContainerAt::Owned(container) => container,
        });
        Owned {
            timestamp_ms: parsed.timestamp_ms,
            message,
            container,
        }
    }

    /// [`parse`] with the container, after checking it agrees with serde's
    /// [`parse_slow`], and that without the container it judges the line the same.
    fn parse_str(line: &str) -> Result<Owned, BadLine> {
        let (line, mut scratch) = (line.as_bytes(), Vec::new());
        let parsed = parse(line, &mut scratch, true).map(|p| owned(p, line, &scratch));
        let slow = parse_slow(line, true).map(|p| owned(p, line, &[]));
        assert_eq!(parsed, slow, "{}", String::from_utf8_lossy(line));
        let without = parse(line, &mut scratch, false).map(|p| owned(p, line, &scratch));
        let expected = match &parsed {
            Ok(p) => Ok(Owned {
                container: None,
                ..p.clone()
            }),
            Err(_) => Err(BadLine),
        };
        assert_eq!(without, expected, "{}", String::from_utf8_lossy(line));
        parsed
    }

    fn in_place(mut line: Vec<u8>) -> Result<Owned, BadLine> {
        let parsed = parse_in_place(&mut line, true)?;
        Ok(owned(parsed, &line, &[]))
    }

    #[test]
    fn the_container_is_read_as_serde_reads_it_and_never_makes_a_line_bad() {
        let container = |line: &str| parse_str(line).unwrap().container;
        assert_eq!(
            container(r#"{"container":"app","message":"m"}"#),
            Some("app".into())
        );
        assert_eq!(
            container(r#"{"message":"m","container":"a\"b\u00e9"}"#),
            Some("a\"bé".into())
        );
        assert_eq!(
            container(r#"{"message":"m","container":"日本"}"#),
            Some("日本".into())
        );
        assert_eq!(
            container(r#"{"message":"m","container":""}"#),
            Some(String::new())
        );
        for none in [
            r#"{"message":"m"}"#,
            r#"{"message":"m","container":null}"#,
            r#"{"message":"m","container":7}"#,
            r#"{"message":"m","container":{"name":"app"}}"#,
            r#"{"message":"m","container":"a","container":"b"}"#,
            r#"{"message":{"x":1},"container":["app"]}"#,
        ] {
            assert_eq!(container(none), None, "{none}");
        }
        let long = format!(r#"{{"container":"app","message":"{}"}}"#, "x\\n".repeat(10));
        assert_eq!(in_place(long.into_bytes()).unwrap().container, Some("app".into()));
    }

    #[test]
    fn plain_message_and_metadata_are_read() {
        let line = r#"{"kubernetes":{"pod_name":"p","labels":{"a":"b"}},"message":"hello","timestamp":1000}"#;
        let parsed = parse_str(line).unwrap();
        assert_eq!(
            parsed,
            Owned {
                timestamp_ms: Some(1_000_000),
                message: "hello".into(),
                container: None,
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
            compact_json(r#"{ "a" : "x\\" , "b" : 1 }"#).unwrap(),
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
    fn a_line_given_up_parses_as_a_borrowed_one() {
        let lines = [
            r#"{"kubernetes":{"pod_name":"p"},"message":"hello","timestamp":1000}"#,
            r#"{"message":"a \"q\" \\ \/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 ✓","timestamp":1}"#,
            r#"  { "message" : "x\\" , "timestamp" : null }  "#,
            r#"{"message": { "z" : 1, "a" : [ true , null ], "s" : "x  \" y" }, "timestamp": 1}"#,
            r#"{"message":12.50}"#,
            r#"{"message":[1, 2]}"#,
            r#"{"message":false}"#,
            // Lone or broken surrogates, bad escapes and raw control characters are bad.
            r#"{"message":"a\ud83d"}"#,
            r#"{"message":"a\ud83dx"}"#,
            r#"{"message":"a\ud83d\n"}"#,
            r#"{"message":"a\ud83d\u0041"}"#,
            r#"{"message":"a\ude00b"}"#,
            r#"{"message":"\u12G4"}"#,
            r#"{"message":"\q"}"#,
            "{\"message\":\"tab\tinside\"}",
            r#"{"timestamp":1}"#,
            r#"{"message":null,"timestamp":1}"#,
            r#"{"message":"","timestamp":1}"#,
            r#"{"message":"a","message":"b"}"#,
            r#"["message"]"#,
            r#"{"message":"unterminated}"#,
            r#"{"message":"m","timestamp":"yesterday"}"#,
        ];
        for line in lines {
            let borrowed = parse_str(line);
            assert_eq!(in_place(line.as_bytes().to_vec()), borrowed, "{line}");
            let with_ending = format!("{line}\r\n").into_bytes();
            assert_eq!(in_place(with_ending), borrowed, "{line} with CRLF");
        }
    }

    #[test]
    fn a_line_given_up_becomes_its_message_without_a_copy() {
        let line = format!(r#"{{"message":"{}","timestamp":1}}"#, "é\\n\\\"".repeat(100_000));
        let mut line = line.into_bytes();
        let parsed = parse_in_place(&mut line, false).unwrap();
        let MessageAt::Line(range) = parsed.message else {
            panic!("the message was copied: {:?}", parsed.message);
        };
        assert_eq!(&line[range], "é\n\"".repeat(100_000).as_bytes());
    }

    #[test]
    fn a_common_line_costs_no_allocation() {
        let mut scratch = Vec::new();
        let line = br#"{"kubernetes":{"pod_name":"p"},"message":"plain","timestamp":"2026-01-01T00:00:00Z"}"#;
        let parsed = parse(line, &mut scratch, false).unwrap();
        let start = line.windows(5).position(|w| w == b"plain").unwrap();
        assert_eq!(parsed.message, MessageAt::Line(start..start + 5));
        let escaped = br#"{"message":"say \"hi\"","timestamp":1}"#;
        let parsed = parse(escaped, &mut scratch, false).unwrap();
        assert_eq!(
            (parsed.message, &scratch[..]),
            (MessageAt::Scratch, &b"say \"hi\""[..])
        );
    }

    /// Mutations of well-formed lines, byte by byte: whenever the fast path answers, it
    /// answers as serde does, and it answers for most of the well-formed ones.
    #[test]
    fn the_fast_path_agrees_with_serde_on_mutated_lines() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let seeds = [
            r#"{"kubernetes":{"pod_name":"p","labels":{"a":"b","c":[1,2.5,-3e2,true,false,null]}},"message":"hello world","timestamp":"2026-11-22T10:11:12.123456789Z"}"#,
            r#"{"container":"app","message":"hello","namespace":"shop","timestamp":"2026-11-22T10:11:12.123Z"}"#,
            r#"{"message":"a \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 ✓","timestamp":1700000000123}"#,
            r#" { "file" : "/var/log/x.log" , "message" : "x" , "stream" : "stdout" , "timestamp" : 1.5e9 } "#,
            r#"{"timestamp":"1700000000","message":"é ü 日本","source_type":"kubernetes_logs","empty":{},"list":[]}"#,
            r#"{"message":"m","timestamp":null,"nested":[[[{"deep":[0,-0.0,1E+2]}]]]}"#,
        ];
        let alphabet = b"\"\\{}[],: \t\n\r0123456789-.eEu+abfnrtl\x01\x1f\x7f\x80\xc3\xa9\xff";
        let mut rng = StdRng::seed_from_u64(7);
        let (mut cases, mut well_formed, mut answered) = (0, 0, 0);
        for seed in seeds {
            for _ in 0..4_000 {
                let mut line = seed.as_bytes().to_vec();
                for _ in 0..rng.gen_range(0..3) {
                    let at = rng.gen_range(0..line.len());
                    let byte = alphabet[rng.gen_range(0..alphabet.len())];
                    match rng.gen_range(0..4) {
                        0 => line[at] = byte,
                        1 => line.insert(at, byte),
                        2 => drop(line.remove(at)),
                        _ => line.truncate(at.max(1)),
                    }
                }
                let mut scratch = Vec::new();
                let slow = parse_slow(&line, true).map(|p| owned(p, &line, &[]));
                cases += 1;
                well_formed += usize::from(slow.is_ok());
                if let Some(fast) = parse_fast::<true>(&line, &mut scratch) {
                    answered += 1;
                    let fast = owned(fast, &line, &scratch);
                    assert_eq!(Ok(fast), slow, "{}", String::from_utf8_lossy(&line));
                }
            }
        }
        assert!(
            answered * 10 > well_formed * 9 && well_formed * 4 > cases,
            "the fast path answered {answered} of {well_formed} well-formed lines ({cases} in all)"
        );
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

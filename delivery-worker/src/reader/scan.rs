//! The fast path for one NDJSON line: a single pass that finds the top-level `message`
//! and `timestamp` values (and `container`, only when asked: a filter or message format
//! needs it) and checks the rest of the line is JSON, without building anything for the
//! fields it skips (the Kubernetes metadata is most of a line).
//!
//! It is *sound, not complete*: whenever it answers, serde_json would have answered the
//! same for the line (`super::line::parse_slow`, the reference); whenever a line is
//! anything but the common case it gives up and the caller asks serde. It gives up on:
//! a key with an escape or a non-ASCII byte (serde compares unescaped, UTF-8-checked
//! keys), a repeated `message` or `timestamp` (serde's duplicate-field error), a
//! `message` that is not a string (structured messages take serde's second pass), and —
//! when asked for it — a repeated `container` or one with escapes to undo, any
//! syntax it does not accept, nesting deeper than [`MAX_DEPTH`], and every line that would
//! turn out bad, so that why a line is bad is always serde's judgement.
//!
//! One pass over the whole line first ([`survey`]): a line with any control character
//! is left to serde (compact JSON has none; a raw one inside a string is an error, and
//! whitespace other than spaces is rare), and a line all of ASCII needs no UTF-8 check.
//!
//! What it checks as serde does for skipped values: strings hold only valid escapes (`\uXXXX` with four hex digits; serde does not judge
//! surrogates or UTF-8 in values it skips); numbers follow JSON's grammar; `true`,
//! `false`, `null` are spelled out; whitespace is space, tab, CR and LF; nothing follows
//! the object but whitespace. The differential test in `super::line` holds it to that.

use std::ops::Range;

use crate::json::{quote_or_backslash, survey};

/// Deeper nesting is left to serde (which has its own recursion limit).
const MAX_DEPTH: usize = 64;

/// Where a line's two fields lie, found by [`scan`].
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fields {
    /// The `message` string's body (between the quotes).
    pub(super) message: Range<usize>,
    /// Whether that body holds escapes to undo.
    pub(super) message_escaped: bool,
    /// Whether the whole line is ASCII (so the message needs no UTF-8 check).
    pub(super) ascii: bool,
    /// The `timestamp` value's JSON text, if the line has one.
    pub(super) timestamp: Option<Range<usize>>,
    /// The `container` string's body (no escapes in it), when asked for and the line has
    /// one; a `container` that is not a string is none.
    pub(super) container: Option<Range<usize>>,
}

/// Scans `line` (one JSON object, without its line ending), finding its `container` too
/// when `CONTAINER` (a constant, so that a reader not asked for it runs the loop it ran
/// before there was a container to look for); `None` means "ask serde".
pub(super) fn scan<const CONTAINER: bool>(line: &[u8]) -> Option<Fields> {
    let survey = survey(line);
    if survey.control {
        return None;
    }
    let mut s = Scanner { bytes: line, at: 0 };
    s.whitespace();
    s.eat(b'{')?;
    let (mut message, mut timestamp) = (None, None);
    let (mut container, mut container_seen) = (None, false);
    loop {
        s.whitespace();
        let (key, escaped) = s.string()?;
        let key = &line[key];
        if escaped || !key.is_ascii() {
            return None;
        }
        s.whitespace();
        s.eat(b':')?;
        s.whitespace();
        match key {
            b"message" if message.is_none() && s.peek() == Some(b'"') => message = Some(s.string()?),
            b"message" => return None,
            b"timestamp" if timestamp.is_none() => {
                let start = s.at;
                s.value(1)?;
                timestamp = Some(start..s.at);
            }
            b"timestamp" => return None,
            b"container" if CONTAINER && !container_seen => {
                container_seen = true;
                container = s.container_string()?;
            }
            b"container" if CONTAINER => return None,
            _ => s.value(1)?,
        }
        s.whitespace();
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.whitespace();
    if s.at != line.len() {
        return None;
    }
    let (message, message_escaped) = message?;
    Some(Fields {
        message,
        message_escaped,
        ascii: survey.ascii,
        timestamp,
        container,
    })
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string at the cursor: its body's range and whether it holds escapes.
    fn string(&mut self) -> Option<(Range<usize>, bool)> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            let rest = self.bytes.get(self.at..)?;
            // No control character anywhere (see `scan`): only these two end a run.
            let run = quote_or_backslash(rest)?;
            self.at += run + 1;
            if rest[run] == b'"' {
                return Some((start..self.at - 1, escaped));
            }
            escaped = true;
            self.escape()?;
        }
    }

    /// A `container` value: a string's body when it holds no escape (serde unescapes the
    /// rare one that does), `None` for any other JSON value.
    fn container_string(&mut self) -> Option<Option<Range<usize>>> {
        if self.peek() != Some(b'"') {
            self.value(1)?;
            return Some(None);
        }
        match self.string()? {
            (_, true) => None,
            (body, false) => Some(Some(body)),
        }
    }

    /// The rest of an escape after its backslash.
    fn escape(&mut self) -> Option<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let digits = self.bytes.get(self.at..self.at + 4)?;
                self.at += 4;
                digits.iter().all(u8::is_ascii_hexdigit).then_some(())
            }
            _ => None,
        }
    }

    /// Skips one value of any kind, checking its syntax.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.container(depth, b'}', true),
            b'[' => self.container(depth, b']', false),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// An object (`keyed`) or an array, whose opening bracket is at the cursor.
    fn container(&mut self, depth: usize, close: u8, keyed: bool) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Some(());
        }
        loop {
            if keyed {
                self.string()?;
                self.whitespace();
                self.eat(b':')?;
                self.whitespace();
            }
            self.value(depth + 1)?;
            self.whitespace();
            match self.next()? {
                b',' => self.whitespace(),
                byte if byte == close => return Some(()),
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.bytes.get(self.at..self.at + word.len())?;
        self.at += word.len();
        (found == word).then_some(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_fields_among_nested_metadata() {
        let line = br#"{"kubernetes":{"labels":{"a":"b"},"ids":[1,-2.5e3,true,null]},"message":"hi","timestamp":"2026-01-01T00:00:00Z"}"#;
        let fields = scan::<false>(line).unwrap();
        assert_eq!(&line[fields.message.clone()], b"hi");
        assert!(!fields.message_escaped);
        assert_eq!(&line[fields.timestamp.unwrap()], br#""2026-01-01T00:00:00Z""#);
        assert_eq!(fields.container, None, "not asked for");
    }

    #[test]
    fn finds_the_container_only_when_asked() {
        let line = br#"{"container":"app","message":"hi","timestamp":1}"#;
        assert_eq!(scan::<false>(line).unwrap().container, None);
        let found = scan::<true>(line).unwrap().container.unwrap();
        assert_eq!(&line[found], b"app");
        // Not a string: no container, and the line is still an event.
        let number = br#"{"container":7,"message":"hi"}"#;
        assert_eq!(scan::<true>(number).unwrap().container, None);
        // Repeated keys are serde's to judge, as are escapes to undo, only when asked.
        for line in [
            &br#"{"container":"a","container":"b","message":"m"}"#[..],
            br#"{"container":"a\"b","message":"m"}"#,
        ] {
            assert_eq!(scan::<true>(line), None);
            assert!(scan::<false>(line).is_some());
        }
    }

    #[test]
    fn gives_up_on_what_serde_must_judge() {
        for line in [
            r#"{"message":"a","message":"b"}"#,
            r#"{"timestamp":1,"timestamp":2,"message":"m"}"#,
            r#"{"mess\u0061ge":"m"}"#,
            r#"{"message":{"a":1}}"#,
            r#"{"message":null}"#,
            r#"{"timestamp":1}"#,
            r#"{"message":"m",}"#,
            r#"{"message":"m"} x"#,
            r#"{"a":01,"message":"m"}"#,
            r#"{"a":1.,"message":"m"}"#,
            r#"{"a":tru,"message":"m"}"#,
            r#"{"a":"\x","message":"m"}"#,
            r#"{"a":"\u12g4","message":"m"}"#,
            "{\"a\":\"tab\tinside\",\"message\":\"m\"}",
            r#"{"é":1,"message":"m"}"#,
            r#"["message"]"#,
            "",
        ] {
            assert_eq!(scan::<true>(line.as_bytes()), None, "{line}");
        }
    }
}

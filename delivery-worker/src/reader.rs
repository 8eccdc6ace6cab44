//! Streaming decoder for staged log files: gzip (or plain) NDJSON in, [`Event`]s out.
//!
//! Vector stages each batch of a pod's log lines as a gzip file of JSON lines. Objects can
//! be far larger than the worker's memory budget, so the file is decoded as a stream: a
//! bounded read buffer, one reusable line buffer and one scratch buffer. An [`Event`]
//! borrows its message from the reader until the next call, so a common line costs no
//! allocation at all: its message is lent straight from the read buffer, or from the
//! scratch buffer when it had escapes to undo (see `line`).
//!
//! A *long* line (over [`LONG_LINE_BYTES`], up to the line limit) is held once: before its
//! buffer grows past the read buffer's size the reader reserves its cost from the decode
//! budget, if one is set ([`EventReader::with_budget`], see [`crate::budget`]), and gives
//! it a buffer of the line limit (so it is never reallocated while read); the message is
//! unescaped in place in that buffer and lent from there. The buffer and its reservation
//! last until the next line is read, so the caller must have handed the event on by then.
//!
//! Decisions, so callers know what to expect:
//! - The format is sniffed from the content, not the object name: the gzip magic bytes
//!   `1f 8b` mean gzip (all members of a multi-member file are read); anything else is
//!   read as plain NDJSON. A `.gz` object that is not gzip is therefore accepted when its
//!   content is NDJSON, and rejected as [`ReadError::NotNdjson`] when its first non-blank
//!   byte is not `{` (binary garbage, another compression format).
//! - A broken gzip stream (truncated, corrupt deflate data, bad checksum, trailing junk)
//!   rejects the whole file: events already handed out must then be treated as not
//!   delivered by the caller, who retries or dead-letters the object.
//! - A bad line (not a JSON object, no usable `message`, unparsable `timestamp`, longer
//!   than the line limit) is counted in [`ReadStats::bad_lines`] and skipped.
//! - A line with no `timestamp` (or `null`) is not bad: it gets the caller's fallback
//!   time (the object's time) and is counted in [`ReadStats::missing_timestamp`], because
//!   dropping a log line for lack of a time is worse than a slightly wrong time.
//! - A line's `container` is read only when asked for ([`EventReader::with_container`]:
//!   a filter or a message format looks at it), so a target that needs neither pays
//!   nothing for it; asked for or not, it never changes which lines are bad.
//! - A target that writes lines as they were staged (the S3 copy of a filtered object)
//!   reads them with [`EventReader::next_line_event`]; a long line is then decoded from a
//!   copy so that its staged bytes stay intact ([`EventReader::with_raw_lines`]), which
//!   doubles what such a line holds (its reservation says so).

mod line;
mod scan;
mod timestamp;

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};
use std::mem;

use flate2::read::MultiGzDecoder;

use crate::budget::{DecodeBudget, Reservation};

/// The gzip magic bytes that select gzip decoding.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Read buffer size: large enough that `read_until` rarely straddles a refill.
const READ_BUFFER_BYTES: usize = 128 * 1024;
/// Initial capacity of the reused line buffer; it grows to the longest short line seen.
const INITIAL_LINE_BYTES: usize = 4 * 1024;
/// Lines longer than this are long lines: reserved, read into their own buffer, and
/// moved into their event rather than copied.
pub const LONG_LINE_BYTES: usize = READ_BUFFER_BYTES;
/// Default upper bound for one line, so a file without newlines cannot exhaust memory.
/// Vector itself drops lines over 32 KiB by default; 8 MiB leaves ample headroom and the
/// CloudWatch packer splits anything over the 1 MiB per-event limit.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// One log record as the reader lends it: what CloudWatch's `InputLogEvent` needs, and
/// the container that wrote it when the reader was asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event<'a> {
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: i64,
    /// The log line's text; never empty when produced by the reader.
    pub message: Cow<'a, str>,
    /// The line's `container` ([`EventReader::with_container`]); `None` when not asked
    /// for or the line has none.
    pub container: Option<Cow<'a, str>>,
}

/// An [`Event`] that owns its message, for callers that keep events (tests, tools).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: i64,
    /// The log line's text.
    pub message: String,
}

impl Event<'_> {
    /// A copy that outlives the reader's next call.
    pub fn to_log_event(&self) -> LogEvent {
        LogEvent {
            timestamp_ms: self.timestamp_ms,
            message: self.message.clone().into_owned(),
        }
    }
}

impl LogEvent {
    /// The event, borrowed, as the reader would lend it.
    pub fn as_event(&self) -> Event<'_> {
        Event {
            timestamp_ms: self.timestamp_ms,
            message: Cow::Borrowed(&self.message),
            container: None,
        }
    }
}

/// Counters for one decoded file, for metrics and for deciding what to log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Whether the content was gzip (sniffed from the magic bytes).
    pub gzip: bool,
    /// Decompressed bytes read, newlines included.
    pub bytes_in: u64,
    /// Non-blank lines seen (events + bad lines).
    pub lines: u64,
    /// Events produced.
    pub events: u64,
    /// Lines skipped because they could not be turned into an event.
    pub bad_lines: u64,
    /// 1-based line number of the first bad line, to point an operator at it.
    pub first_bad_line: Option<u64>,
    /// Of the bad lines, those skipped for exceeding the line length limit.
    pub oversized_lines: u64,
    /// Events that had no timestamp and got the fallback time.
    pub missing_timestamp: u64,
}

/// Why a whole file was rejected. Bad single lines are never an error.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The gzip stream ended before its end marker: the object was cut short.
    #[error("the gzip stream is truncated")]
    Truncated,
    /// The gzip stream is damaged (bad header, deflate data or checksum).
    #[error("the gzip stream is corrupt: {0}")]
    Corrupt(String),
    /// The content is neither gzip nor NDJSON (its first non-blank byte is shown).
    #[error("the file is neither gzip nor NDJSON (first byte {0:#04x})")]
    NotNdjson(u8),
    /// The content decodes to more than the object limit
    /// ([`EventReader::with_max_object_bytes`]).
    #[error("the file decodes to more than {0} bytes")]
    TooLarge(u64),
    /// Reading the underlying source failed (e.g. the S3 body broke off): retriable.
    #[error("reading the file failed")]
    Io(#[source] io::Error),
}

impl ReadError {
    /// Whether retrying the same object can help: only source I/O failures are transient.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Io(_))
    }
}

/// Decodes a whole file, handing each event to `on_event`, and returns the counters.
///
/// `fallback_timestamp_ms` is used for lines without a timestamp (normally the object's
/// creation time). For early exit or fallible consumers use [`EventReader`] directly.
pub fn decode<R: Read>(
    reader: R,
    fallback_timestamp_ms: i64,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<ReadStats, ReadError> {
    let mut events = EventReader::new(reader, fallback_timestamp_ms)?;
    while let Some(event) = events.next_event()? {
        on_event(event);
    }
    Ok(events.into_stats())
}

/// The source after sniffing (the sniffed bytes are put back in front of the rest), with
/// the count of decoded bytes it produced and their limit.
struct Source<R> {
    format: Format<R>,
    produced: u64,
    limit: u64,
}

enum Format<R> {
    Plain(Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<Chain<Cursor<Vec<u8>>, R>>>),
}

/// The marker error a [`Source`] fails with past its limit (read back by [`classify`]).
#[derive(Debug, thiserror::Error)]
#[error("the decoded content exceeds its limit")]
struct OverLimit;

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match &mut self.format {
            Format::Plain(inner) => inner.read(buf),
            Format::Gzip(inner) => inner.read(buf),
        }?;
        self.produced = self.produced.saturating_add(read as u64);
        if self.produced > self.limit {
            return Err(io::Error::other(OverLimit));
        }
        Ok(read)
    }
}

/// Pull-based decoder: one event per [`EventReader::next_event`] call, so the caller
/// controls back-pressure and can stop early.
pub struct EventReader<R> {
    input: BufReader<Source<R>>,
    /// Bytes of the last line still at the front of the read buffer: its event borrows
    /// them, so they are consumed only when the next line is read.
    lent: usize,
    line: Vec<u8>,
    scratch: Vec<u8>,
    long: Vec<u8>,
    /// A long line's decoded copy, when its staged bytes are kept ([`Self::with_raw_lines`]).
    long_copy: Vec<u8>,
    want_container: bool,
    keep_raw: bool,
    line_number: u64,
    max_line_bytes: usize,
    budget: Option<(DecodeBudget, usize)>,
    long_line: Option<Reservation>,
    fallback_timestamp_ms: i64,
    start_checked: bool,
    stats: ReadStats,
}

impl<R: Read> EventReader<R> {
    /// Sniffs the format (reads at most two bytes) and prepares decoding.
    pub fn new(mut reader: R, fallback_timestamp_ms: i64) -> Result<Self, ReadError> {
        let mut head = Vec::with_capacity(GZIP_MAGIC.len());
        (&mut reader)
            .take(GZIP_MAGIC.len() as u64)
            .read_to_end(&mut head)
            .map_err(ReadError::Io)?;
        let gzip = head == GZIP_MAGIC;
        let rest = Cursor::new(head).chain(reader);
        let format = if gzip {
            Format::Gzip(Box::new(MultiGzDecoder::new(rest)))
        } else {
            Format::Plain(rest)
        };
        let source = Source {
            format,
            produced: 0,
            limit: u64::MAX,
        };
        Ok(Self {
            input: BufReader::with_capacity(READ_BUFFER_BYTES, source),
            lent: 0,
            line: Vec::with_capacity(INITIAL_LINE_BYTES),
            scratch: Vec::with_capacity(INITIAL_LINE_BYTES),
            long: Vec::new(),
            long_copy: Vec::new(),
            want_container: false,
            keep_raw: false,
            line_number: 0,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            budget: None,
            long_line: None,
            fallback_timestamp_ms,
            start_checked: false,
            stats: ReadStats {
                gzip,
                ..ReadStats::default()
            },
        })
    }

    /// Overrides the per-line limit ([`DEFAULT_MAX_LINE_BYTES`]); longer lines are skipped.
    #[must_use]
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes.max(1);
        self
    }

    /// Rejects the file as [`ReadError::TooLarge`] once it has decoded to more than
    /// `max_object_bytes` (gzip's expansion is unbounded: a small file may inflate to
    /// gigabytes). No limit unless set.
    #[must_use]
    pub fn with_max_object_bytes(mut self, max_object_bytes: u64) -> Self {
        self.input.get_mut().limit = max_object_bytes;
        self
    }

    /// Reads each line's `container` into its event (a filter or message format needs it).
    #[must_use]
    pub fn with_container(mut self, want_container: bool) -> Self {
        self.want_container = want_container;
        self
    }

    /// Keeps each line's staged bytes intact for [`Self::next_line_event`]: a long line is
    /// then decoded from a copy, so it holds twice its size (reserve for that).
    #[must_use]
    pub fn with_raw_lines(mut self) -> Self {
        self.keep_raw = true;
        self
    }

    /// Reserves `bytes_per_long_line` from `budget` before reading each long line, and
    /// holds it until the next line is read (see the module doc).
    #[must_use]
    pub fn with_budget(mut self, budget: DecodeBudget, bytes_per_long_line: usize) -> Self {
        self.budget = Some((budget, bytes_per_long_line));
        self
    }

    /// The next event, `Ok(None)` at the end of the file, or the error rejecting the file.
    /// The event borrows the reader: hand it on before asking for the next one.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ReadError> {
        let Some((parsed, held)) = self.next_good_line()? else {
            return Ok(None);
        };
        let timestamp_ms = self.count_event(parsed.timestamp_ms);
        Ok(Some(self.event(parsed, held, timestamp_ms)))
    }

    /// [`Self::next_event`] with the line's bytes as staged, without its `\n` (a `\r`
    /// before it stays). A long line's bytes are its staged ones only for a reader built
    /// [`Self::with_raw_lines`]; otherwise its message has been decoded over them.
    pub fn next_line_event(&mut self) -> Result<Option<(Event<'_>, &[u8])>, ReadError> {
        let Some((parsed, held)) = self.next_good_line()? else {
            return Ok(None);
        };
        let timestamp_ms = self.count_event(parsed.timestamp_ms);
        let raw = match held {
            Held::ReadBuffer => self
                .input
                .buffer()
                .get(..self.lent.saturating_sub(1))
                .unwrap_or_default(),
            Held::Line => without_newline(&self.line),
            Held::Long => without_newline(&self.long),
        };
        Ok(Some((self.event(parsed, held, timestamp_ms), raw)))
    }

    /// Counts a good line; its time (the fallback when it has none).
    fn count_event(&mut self, timestamp_ms: Option<i64>) -> i64 {
        self.stats.lines += 1;
        self.stats.events += 1;
        timestamp_ms.unwrap_or_else(|| {
            self.stats.missing_timestamp += 1;
            self.fallback_timestamp_ms
        })
    }

    /// The event of a good line held where `held` says, lent from there.
    fn event(&self, parsed: line::Parsed, held: Held, timestamp_ms: i64) -> Event<'_> {
        let line = match held {
            Held::ReadBuffer => self.input.buffer(),
            Held::Line => &self.line[..],
            Held::Long if self.keep_raw => &self.long_copy[..],
            Held::Long => &self.long[..],
        };
        let message = match parsed.message {
            line::MessageAt::Line(range) => text(&line[range]),
            line::MessageAt::Scratch => text(&self.scratch),
            line::MessageAt::Owned(message) => Cow::Owned(message),
        };
        let container = parsed.container.map(|at| match at {
            line::ContainerAt::Line(range) => text(&line[range]),
            line::ContainerAt::Owned(container) => Cow::Owned(container),
        });
        Event {
            timestamp_ms,
            message,
            container,
        }
    }

    /// Skips blank and bad lines up to the next good one; where its line is held.
    fn next_good_line(&mut self) -> Result<Option<(line::Parsed, Held)>, ReadError> {
        while let Some(outcome) = self.next_line()? {
            match outcome {
                LineKind::Blank => continue,
                LineKind::Event(parsed, held) => return Ok(Some((parsed, held))),
                LineKind::Bad => self.count_bad_line(false),
                LineKind::Oversized => self.count_bad_line(true),
            }
        }
        Ok(None)
    }

    /// Counters so far (final once `next_event` returned `Ok(None)`).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Consumes the reader, returning its counters.
    pub fn into_stats(self) -> ReadStats {
        self.stats
    }

    /// Reads and judges the next line; `None` at the end of the input. A line that lies
    /// whole in the read buffer (nearly all of them) is parsed in place, without a copy.
    fn next_line(&mut self) -> Result<Option<LineKind>, ReadError> {
        // The last line's event has been handed on by now: its bytes, its long buffer and
        // its reservation go.
        self.input.consume(mem::take(&mut self.lent));
        release(&mut self.long);
        release(&mut self.long_copy);
        self.long_line = None;
        let (gzip, limit) = (self.stats.gzip, self.input.get_ref().limit);
        let buffered = self.input.fill_buf().map_err(|e| classify(gzip, limit, e))?;
        if buffered.is_empty() {
            return Ok(None);
        }
        let Some(newline) = memchr::memchr(b'\n', buffered) else {
            return self.next_line_copied().map(Some);
        };
        let outcome = match buffered.get(..newline) {
            Some(line) if newline <= self.max_line_bytes => judge(
                line,
                &mut self.scratch,
                &mut self.start_checked,
                (Held::ReadBuffer, self.want_container),
            )?,
            _ => LineKind::Oversized,
        };
        self.lent = newline + 1;
        self.count_line(newline + 1);
        Ok(Some(outcome))
    }

    /// Slow path for a line that straddles the read buffer's end: copy it into the line
    /// buffer (at most the limit; the rest of an oversized line is skipped unread). A long
    /// line's buffer is set aside for its event.
    fn next_line_copied(&mut self) -> Result<LineKind, ReadError> {
        self.line.clear();
        let (read, copied) = self.copy_line()?;
        self.count_line(read);
        match copied {
            Copied::Short => {
                let line = without_newline(&self.line);
                let how = (Held::Line, self.want_container);
                judge(line, &mut self.scratch, &mut self.start_checked, how)
            }
            Copied::Long => {
                self.long = mem::replace(&mut self.line, Vec::with_capacity(INITIAL_LINE_BYTES));
                let decoded = if self.keep_raw {
                    // Decoded from a copy, so the staged bytes stay for the caller.
                    self.long_copy.extend_from_slice(&self.long);
                    &mut self.long_copy
                } else {
                    &mut self.long
                };
                judge_in_place(decoded, &mut self.start_checked, self.want_container)
            }
            Copied::Oversized => {
                self.line = Vec::with_capacity(INITIAL_LINE_BYTES);
                self.long_line = None;
                Ok(LineKind::Oversized)
            }
        }
    }

    /// Copies the current line, its `\n` included, into the line buffer until it ends or
    /// exceeds the limit (whose rest is then skipped); returns the bytes consumed. When
    /// the line turns out long, its reservation is taken and the buffer grown to the
    /// limit at once, before it is copied on.
    fn copy_line(&mut self) -> Result<(usize, Copied), ReadError> {
        let (gzip, limit) = (self.stats.gzip, self.input.get_ref().limit);
        let (mut consumed, mut copied) = (0, Copied::Short);
        loop {
            let buffered = self.input.fill_buf().map_err(|e| classify(gzip, limit, e))?;
            if buffered.is_empty() {
                return Ok((consumed, copied));
            }
            let (take, ends) = match memchr::memchr(b'\n', buffered) {
                Some(newline) => (newline + 1, true),
                None => (buffered.len(), false),
            };
            if self.line.len() + take - usize::from(ends) > self.max_line_bytes {
                self.input.consume(take);
                consumed += take;
                if !ends {
                    consumed += self
                        .input
                        .skip_until(b'\n')
                        .map_err(|e| classify(gzip, limit, e))?;
                }
                return Ok((consumed, Copied::Oversized));
            }
            if matches!(copied, Copied::Short) && self.line.len() + take > LONG_LINE_BYTES {
                copied = Copied::Long;
                if let Some((budget, bytes)) = &self.budget {
                    self.long_line = Some(budget.reserve_blocking(*bytes));
                }
                let limit = self.max_line_bytes.saturating_add(1);
                let _ = self.line.try_reserve_exact(limit.saturating_sub(self.line.len()));
            }
            self.line.extend_from_slice(&buffered[..take]);
            self.input.consume(take);
            consumed += take;
            if ends {
                return Ok((consumed, copied));
            }
        }
    }

    fn count_line(&mut self, bytes: usize) {
        self.stats.bytes_in += bytes as u64;
        self.line_number += 1;
    }

    fn count_bad_line(&mut self, oversized: bool) {
        self.stats.lines += 1;
        self.stats.bad_lines += 1;
        self.stats.oversized_lines += u64::from(oversized);
        self.stats.first_bad_line.get_or_insert(self.line_number);
    }
}

/// Gives a long line's buffer back. It is shrunk to nothing before it is dropped: glibc
/// raises its mmap threshold to the size of any mapped block freed whole, after which
/// every later long-line buffer would come from a per-thread arena and stay resident
/// (`scripts/bench-worker --long-lines` peaked at 217 MiB that way, 109 MiB with one
/// arena); a block shrunk first is returned to the system and leaves the threshold alone.
fn release(buffer: &mut Vec<u8>) {
    if buffer.capacity() > LONG_LINE_BYTES {
        buffer.clear();
        buffer.shrink_to(1);
    }
    *buffer = Vec::new();
}

/// `line` without its trailing `\n`, if it has one.
fn without_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// A message checked to be UTF-8 when its line was judged. It is checked again here (safe
/// code cannot skip that), which cannot fail; if it did, the text would be kept, not lost.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

/// How [`EventReader::copy_line`] left the line buffer.
enum Copied {
    /// Holds a short line, to be parsed in place.
    Short,
    /// Holds a long line, to be moved into its event.
    Long,
    /// The line was over the limit and skipped; the buffer holds a part of it.
    Oversized,
}

/// What one line turned out to be.
enum LineKind {
    Blank,
    Event(line::Parsed, Held),
    Bad,
    Oversized,
}

/// Which buffer holds a good line while its event is lent out.
#[derive(Clone, Copy)]
enum Held {
    /// The front of the read buffer (nearly every line).
    ReadBuffer,
    /// The line buffer: a short line that straddled the read buffer's end.
    Line,
    /// A long line's own buffer.
    Long,
}

/// Judges one line (without its `\n`), held where `held` says, with its `container` when
/// `want_container`. The first non-blank line of the file also decides whether the
/// content is NDJSON at all.
fn judge(
    line: &[u8],
    scratch: &mut Vec<u8>,
    start_checked: &mut bool,
    (held, want_container): (Held, bool),
) -> Result<LineKind, ReadError> {
    let Some(content) = line::content(line) else {
        return Ok(LineKind::Blank);
    };
    check_start(content, start_checked)?;
    Ok(line::parse(content, scratch, want_container)
        .map_or(LineKind::Bad, |parsed| LineKind::Event(parsed, held)))
}

/// [`judge`] for a long line, in its own buffer, where its message is unescaped in place.
fn judge_in_place(
    line: &mut [u8],
    start_checked: &mut bool,
    want_container: bool,
) -> Result<LineKind, ReadError> {
    let Some(content) = line::content(line) else {
        return Ok(LineKind::Blank);
    };
    check_start(content, start_checked)?;
    Ok(line::parse_in_place(line, want_container)
        .map_or(LineKind::Bad, |parsed| LineKind::Event(parsed, Held::Long)))
}

fn check_start(content: &[u8], start_checked: &mut bool) -> Result<(), ReadError> {
    if !*start_checked {
        *start_checked = true;
        line::check_ndjson_start(content)?;
    }
    Ok(())
}

/// Maps a read failure to a file-level error. Past the object `limit` it is too large;
/// inside gzip, an unexpected end means a truncated object and invalid data a corrupt
/// one; anything else is source I/O.
fn classify(gzip: bool, limit: u64, error: io::Error) -> ReadError {
    if error.get_ref().is_some_and(|inner| inner.is::<OverLimit>()) {
        return ReadError::TooLarge(limit);
    }
    if !gzip {
        return ReadError::Io(error);
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => ReadError::Truncated,
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => ReadError::Corrupt(error.to_string()),
        _ => ReadError::Io(error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

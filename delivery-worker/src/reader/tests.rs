use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;

const FALLBACK_MS: i64 = 42;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn collect(input: impl Read) -> Result<(Vec<LogEvent>, ReadStats), ReadError> {
    let mut events = Vec::new();
    let stats = decode(input, FALLBACK_MS, |event| events.push(event.to_log_event()))?;
    Ok((events, stats))
}

/// The next event, owned.
fn next<R: Read>(reader: &mut EventReader<R>) -> Option<LogEvent> {
    reader.next_event().unwrap().map(|e| e.to_log_event())
}

/// Every event left, owned, or the error that rejects the file.
fn drain<R: Read>(reader: &mut EventReader<R>) -> Result<Vec<LogEvent>, ReadError> {
    let mut events = Vec::new();
    while let Some(event) = reader.next_event()? {
        events.push(event.to_log_event());
    }
    Ok(events)
}

fn event(timestamp_ms: i64, message: &str) -> LogEvent {
    LogEvent {
        timestamp_ms,
        message: message.to_owned(),
    }
}

fn line(message: &str, seconds: i64) -> String {
    format!(r#"{{"message":"{message}","timestamp":{seconds},"kubernetes":{{"pod_name":"p"}}}}"#) + "\n"
}

/// Hands out at most one byte per `read`, to hit every buffer-boundary case.
struct OneByteAtATime<R>(R);

impl<R: Read> Read for OneByteAtATime<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(1);
        self.0.read(&mut buf[..len])
    }
}

/// Yields its bytes, then fails like a broken network body.
struct FailingAfter(io::Cursor<Vec<u8>>);

impl Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset")),
            n => Ok(n),
        }
    }
}

#[test]
fn plain_ndjson_is_decoded() {
    let data = line("a", 1) + &line("b", 2);
    let (events, stats) = collect(data.as_bytes()).unwrap();
    assert_eq!(events, vec![event(1000, "a"), event(2000, "b")]);
    assert!(!stats.gzip);
    assert_eq!((stats.events, stats.lines, stats.bad_lines), (2, 2, 0));
    assert_eq!(stats.bytes_in, data.len() as u64);
}

#[test]
fn gzip_ndjson_is_decoded() {
    let data = line("a", 1) + &line("b", 2);
    let (events, stats) = collect(&gzip(data.as_bytes())[..]).unwrap();
    assert_eq!(events, vec![event(1000, "a"), event(2000, "b")]);
    assert!(stats.gzip);
    assert_eq!(stats.bytes_in, data.len() as u64);
}

#[test]
fn every_member_of_a_multi_member_gzip_file_is_read() {
    let mut file = gzip(line("a", 1).as_bytes());
    file.extend(gzip(line("b", 2).as_bytes()));
    file.extend(gzip(b""));
    file.extend(gzip((line("c", 3) + &line("d", 4)).as_bytes()));
    let (events, _) = collect(&file[..]).unwrap();
    let messages: Vec<_> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["a", "b", "c", "d"]);
}

#[test]
fn a_member_boundary_inside_a_line_is_seamless() {
    let mut file = gzip(br#"{"message":"sp"#);
    file.extend(gzip(b"lit\",\"timestamp\":5}\n"));
    assert_eq!(collect(&file[..]).unwrap().0, vec![event(5000, "split")]);
}

#[test]
fn truncated_gzip_rejects_the_file_wherever_it_is_cut() {
    let data: String = (0..200).map(|i| line(&format!("message {i}"), i)).collect();
    let file = gzip(data.as_bytes());
    // From two bytes on: a lone 0x1f cannot be told apart from a non-gzip file.
    for cut in 2..file.len() {
        match collect(&file[..cut]) {
            Err(ReadError::Truncated) => {}
            other => panic!("cut at {cut} of {}: {other:?}", file.len()),
        }
    }
}

#[test]
fn corrupt_deflate_data_rejects_the_file() {
    let data: String = (0..200).map(|i| line(&format!("message {i}"), i)).collect();
    let mut file = gzip(data.as_bytes());
    let middle = file.len() / 2;
    file[middle..middle + 16].copy_from_slice(&[0xff; 16]);
    let error = collect(&file[..]).unwrap_err();
    assert!(
        matches!(error, ReadError::Corrupt(_) | ReadError::Truncated),
        "{error:?}"
    );
    assert!(!error.is_retriable());
}

#[test]
fn garbage_after_the_gzip_magic_is_corrupt() {
    let mut file = vec![0x1f, 0x8b];
    file.extend((0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    assert!(matches!(collect(&file[..]), Err(ReadError::Corrupt(_))));
}

#[test]
fn a_bad_gzip_checksum_is_corrupt() {
    let mut file = gzip(line("a", 1).as_bytes());
    let crc_at = file.len() - 8;
    file[crc_at] ^= 0xff;
    assert!(matches!(collect(&file[..]), Err(ReadError::Corrupt(_))));
}

#[test]
fn trailing_junk_after_a_gzip_member_is_corrupt() {
    let mut file = gzip(line("a", 1).as_bytes());
    file.extend(b"junk that is not a gzip member");
    assert!(matches!(collect(&file[..]), Err(ReadError::Corrupt(_))));
}

#[test]
fn binary_garbage_that_is_not_gzip_is_rejected() {
    let zstd_magic = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x61, 0x00];
    assert!(matches!(
        collect(&zstd_magic[..]),
        Err(ReadError::NotNdjson(0x28))
    ));
    assert!(matches!(
        collect(&b"\n\n  hello\n"[..]),
        Err(ReadError::NotNdjson(b'h'))
    ));
}

#[test]
fn empty_inputs_yield_no_events() {
    for file in [Vec::new(), gzip(b""), b"\n\r\n  \n".to_vec()] {
        let (events, stats) = collect(&file[..]).unwrap();
        assert!(events.is_empty());
        assert_eq!(stats.lines, 0);
    }
}

#[test]
fn a_lone_first_magic_byte_is_not_gzip() {
    assert!(matches!(collect(&[0x1f][..]), Err(ReadError::NotNdjson(0x1f))));
}

#[test]
fn bad_lines_are_counted_and_skipped() {
    let data = [
        line("ok1", 1),
        "not json at all\n".to_owned(),
        r#"{"timestamp":1}"#.to_owned() + "\n",
        r#"{"message":"","timestamp":1}"#.to_owned() + "\n",
        r#"{"message":"m","timestamp":"soon"}"#.to_owned() + "\n",
        "\n".to_owned(),
        line("ok2", 2),
    ]
    .concat();
    let (events, stats) = collect(data.as_bytes()).unwrap();
    assert_eq!(events, vec![event(1000, "ok1"), event(2000, "ok2")]);
    assert_eq!((stats.lines, stats.events, stats.bad_lines), (6, 2, 4));
    assert_eq!(stats.first_bad_line, Some(2));
}

#[test]
fn invalid_utf8_inside_a_line_makes_only_that_line_bad() {
    let mut data = line("ok", 1).into_bytes();
    data.extend(b"{\"message\":\"\xff\xfe\",\"timestamp\":1}\n");
    data.extend(line("ok", 2).into_bytes());
    let (events, stats) = collect(&gzip(&data)[..]).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(stats.bad_lines, 1);
}

#[test]
fn missing_timestamp_uses_the_fallback_and_is_counted() {
    let data = "{\"message\":\"a\"}\n{\"message\":\"b\",\"timestamp\":null}\n".to_owned() + &line("c", 3);
    let (events, stats) = collect(data.as_bytes()).unwrap();
    assert_eq!(
        events,
        vec![event(FALLBACK_MS, "a"), event(FALLBACK_MS, "b"), event(3000, "c")]
    );
    assert_eq!((stats.missing_timestamp, stats.bad_lines), (2, 0));
}

#[test]
fn object_message_becomes_compact_json() {
    let data = "{\"message\": {\"level\": \"info\", \"n\": [1, 2]}, \"timestamp\": 1}\n";
    let (events, _) = collect(data.as_bytes()).unwrap();
    assert_eq!(events, vec![event(1000, r#"{"level":"info","n":[1,2]}"#)]);
}

#[test]
fn every_timestamp_form_is_accepted() {
    let forms = [
        (r#""2026-11-22T10:00:00.123Z""#, 1_795_341_600_123),
        (r#""2026-11-22T11:00:00.123+01:00""#, 1_795_341_600_123),
        ("1795341600", 1_795_341_600_000),
        ("1795341600.123", 1_795_341_600_123),
        ("1795341600123", 1_795_341_600_123),
        (r#""1795341600""#, 1_795_341_600_000),
        (r#""1795341600123""#, 1_795_341_600_123),
        ("1795341600123456789", 1_795_341_600_123),
    ];
    let data: String = forms
        .iter()
        .map(|(ts, _)| format!("{{\"message\":\"m\",\"timestamp\":{ts}}}\n"))
        .collect();
    let (events, stats) = collect(data.as_bytes()).unwrap();
    let got: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    let want: Vec<i64> = forms.iter().map(|(_, ms)| *ms).collect();
    assert_eq!(got, want);
    assert_eq!(stats.bad_lines, 0);
}

#[test]
fn multi_byte_utf8_survives_one_byte_reads() {
    let messages = ["héllo wörld", "日本語のログ", "emoji 🚀🔥", "mixed ü\\u00e9 😀"];
    let data: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| line(m, i as i64))
        .collect();
    let file = gzip(data.as_bytes());
    let (events, _) = collect(OneByteAtATime(&file[..])).unwrap();
    let got: Vec<_> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(got, ["héllo wörld", "日本語のログ", "emoji 🚀🔥", "mixed üé 😀"]);
}

#[test]
fn crlf_line_endings_and_a_missing_final_newline_are_accepted() {
    let data = "{\"message\":\"a\",\"timestamp\":1}\r\n\r\n{\"message\":\"b\",\"timestamp\":2}";
    let (events, stats) = collect(data.as_bytes()).unwrap();
    assert_eq!(events, vec![event(1000, "a"), event(2000, "b")]);
    assert_eq!(stats.bad_lines, 0);
}

#[test]
fn lines_longer_than_a_mebibyte_are_read_whole() {
    let big = "x".repeat(3 * 1024 * 1024);
    let data = line(&big, 1) + &line("after", 2);
    let (events, _) = collect(&gzip(data.as_bytes())[..]).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].message.len(), big.len());
    assert_eq!(events[1].message, "after");
}

#[test]
fn lines_over_the_limit_are_skipped_and_counted() {
    let data = line("short", 1) + &line(&"y".repeat(500), 2) + &line("next", 3);
    let mut reader = EventReader::new(data.as_bytes(), FALLBACK_MS)
        .unwrap()
        .with_max_line_bytes(100);
    let events = drain(&mut reader).unwrap();
    assert_eq!(events, vec![event(1000, "short"), event(3000, "next")]);
    let stats = reader.stats();
    assert_eq!(
        (stats.bad_lines, stats.oversized_lines, stats.first_bad_line),
        (1, 1, Some(2))
    );
    assert_eq!(stats.bytes_in, data.len() as u64);
}

#[test]
fn a_line_exactly_at_the_limit_is_kept() {
    let data = line("exact", 1);
    let limit = data.len() - 1; // the newline does not count
    let mut reader = EventReader::new(data.as_bytes(), 0)
        .unwrap()
        .with_max_line_bytes(limit);
    assert_eq!(next(&mut reader), Some(event(1000, "exact")));
}

#[test]
fn a_failing_source_is_a_retriable_io_error() {
    let file = gzip((line("a", 1) + &line("b", 2)).as_bytes());
    let cut = file[..file.len() - 4].to_vec();
    let source = FailingAfter(io::Cursor::new(cut));
    let mut reader = EventReader::new(source, 0).unwrap();
    let error = drain(&mut reader).unwrap_err();
    assert!(
        matches!(error, ReadError::Io(_)) && error.is_retriable(),
        "{error:?}"
    );
}

#[test]
fn one_byte_reads_give_the_same_events_and_counters_as_buffered_reads() {
    let data = [
        line("first", 1),
        "\r\n".to_owned(),
        line(&"o".repeat(300), 2),
        "garbage\n".to_owned(),
        "{\"message\":\"crlf\",\"timestamp\":3}\r\n".to_owned(),
        line(&"p".repeat(90), 4),
        "{\"message\":\"no final newline\"}".to_owned(),
    ]
    .concat();
    let run = |input: &mut dyn Read| {
        let mut reader = EventReader::new(input, FALLBACK_MS)
            .unwrap()
            .with_max_line_bytes(200);
        let events = drain(&mut reader).unwrap();
        (events, reader.into_stats())
    };
    let buffered = run(&mut data.as_bytes());
    let one_byte = run(&mut OneByteAtATime(data.as_bytes()));
    assert_eq!(buffered, one_byte);
    let (events, stats) = buffered;
    assert_eq!(events.len(), 4);
    assert_eq!((stats.lines, stats.bad_lines, stats.oversized_lines), (6, 2, 1));
    assert_eq!((stats.first_bad_line, stats.missing_timestamp), (Some(3), 1));
    assert_eq!(stats.bytes_in, data.len() as u64);
}

/// A line of about `bytes` whose message has escapes and multi-byte characters.
fn long_line(bytes: usize, seconds: i64) -> (String, String) {
    let piece = r#"\tat é.Orders.step(\"x\") ✓ \ud83d\ude00\n"#;
    let escaped = piece.repeat(bytes / piece.len() + 1);
    let message = "\tat é.Orders.step(\"x\") ✓ 😀\n".repeat(bytes / piece.len() + 1);
    (line(&escaped, seconds), message)
}

#[test]
fn a_long_line_is_held_once_its_message_is_lent_from_its_buffer() {
    let (long, message) = long_line(2 * 1024 * 1024, 1);
    let file = gzip((long + &line("after", 2)).as_bytes());
    let mut reader = EventReader::new(&file[..], 0).unwrap();
    let first = reader.next_event().unwrap().unwrap();
    assert_eq!(first.message, message);
    let lent = matches!(first.message, Cow::Borrowed(_)).then(|| first.message.as_ptr() as usize);
    let long = reader.long.as_ptr() as usize;
    assert_eq!(
        lent,
        Some(long),
        "the message was copied out of its line's buffer"
    );
    assert!(
        reader.line.capacity() <= INITIAL_LINE_BYTES,
        "{}",
        reader.line.capacity()
    );
    assert_eq!(next(&mut reader), Some(event(2000, "after")));
    assert_eq!(next(&mut reader), None);
}

#[test]
fn a_long_line_holds_its_reservation_until_the_next_line_is_read() {
    let budget = DecodeBudget::new(10 << 20);
    let (long, message) = long_line(LONG_LINE_BYTES + 1, 2);
    let data = line("short", 1) + &long + &line("short", 3);
    let mut reader = EventReader::new(data.as_bytes(), 0)
        .unwrap()
        .with_budget(budget.clone(), 3 << 20);
    assert_eq!(next(&mut reader), Some(event(1000, "short")));
    assert_eq!(budget.available(), 10 << 20);
    assert_eq!(next(&mut reader), Some(event(2000, &message)));
    assert_eq!(budget.available(), 7 << 20);
    assert_eq!(next(&mut reader), Some(event(3000, "short")));
    assert_eq!(budget.available(), 10 << 20);
    assert_eq!(next(&mut reader), None);
}

#[test]
fn a_budget_below_one_long_line_still_lets_it_through() {
    let budget = DecodeBudget::new(1 << 20);
    let (long, message) = long_line(2 << 20, 1);
    let mut reader = EventReader::new(long.as_bytes(), 0)
        .unwrap()
        .with_budget(budget.clone(), 9 << 20);
    assert_eq!(next(&mut reader), Some(event(1000, &message)));
    assert_eq!(budget.available(), 0);
    assert_eq!(next(&mut reader), None);
    assert_eq!(budget.available(), 1 << 20);
}

#[test]
fn an_oversized_long_line_is_skipped_and_its_memory_released_at_once() {
    let budget = DecodeBudget::new(10 << 20);
    let limit = 3 * LONG_LINE_BYTES;
    let data = line(&"y".repeat(limit + 1), 1) + &line("next", 2);
    let mut reader = EventReader::new(data.as_bytes(), 0)
        .unwrap()
        .with_max_line_bytes(limit)
        .with_budget(budget.clone(), 1 << 20);
    assert_eq!(next(&mut reader), Some(event(2000, "next")));
    assert_eq!(budget.available(), 10 << 20);
    assert!(reader.line.capacity() <= INITIAL_LINE_BYTES);
    let stats = reader.stats();
    assert_eq!((stats.oversized_lines, stats.bytes_in), (1, data.len() as u64));
}

#[test]
fn one_byte_reads_give_the_same_long_lines_as_buffered_reads() {
    let (long, _) = long_line(LONG_LINE_BYTES + 100, 1);
    let data = [
        line("first", 1),
        long.clone(),
        line(&"z".repeat(4 * LONG_LINE_BYTES), 2),
        "  \n".to_owned(),
        long.trim_end().replace(r#""message":"#, r#""message":{"t":"#) + "}\n",
        long.trim_end().to_owned(),
    ]
    .concat();
    let run = |input: &mut dyn Read| {
        let mut reader = EventReader::new(input, FALLBACK_MS)
            .unwrap()
            .with_max_line_bytes(3 * LONG_LINE_BYTES);
        let events = drain(&mut reader).unwrap();
        (events, reader.into_stats())
    };
    let buffered = run(&mut data.as_bytes());
    assert_eq!(buffered, run(&mut OneByteAtATime(data.as_bytes())));
    let (events, stats) = buffered;
    assert_eq!(events.len(), 4);
    assert!(
        events[2].message.starts_with(r#"{"t":"\tat é"#),
        "{}",
        &events[2].message[..20]
    );
    assert_eq!((stats.lines, stats.oversized_lines), (5, 1));
    assert_eq!(stats.bytes_in, data.len() as u64);
}

#[test]
fn a_file_that_decodes_past_the_object_limit_is_rejected_as_too_large() {
    // A small gzip file that inflates over tenfold: a bomb in miniature.
    let data: String = (0..20_000).map(|n| line("x", n)).collect();
    let file = gzip(data.as_bytes());
    assert!(file.len() * 10 < data.len(), "{} → {}", file.len(), data.len());
    let limit = 64 * 1024;
    let mut events = EventReader::new(&file[..], FALLBACK_MS)
        .unwrap()
        .with_max_object_bytes(limit);
    let err = drain(&mut events).unwrap_err();
    assert!(matches!(err, ReadError::TooLarge(l) if l == limit), "{err:?}");
    assert!(!err.is_retriable());
    // Read no further than the limit and a read buffer past it.
    assert!(events.stats().bytes_in <= limit, "{}", events.stats().bytes_in);
    // A limit of exactly its decoded size lets the whole file through, gzip or not.
    for input in [&file[..], data.as_bytes()] {
        let mut events = EventReader::new(input, FALLBACK_MS)
            .unwrap()
            .with_max_object_bytes(data.len() as u64);
        assert_eq!(drain(&mut events).unwrap().len(), 20_000);
    }
    let mut plain = EventReader::new(data.as_bytes(), FALLBACK_MS)
        .unwrap()
        .with_max_object_bytes(limit);
    assert!(matches!(drain(&mut plain), Err(ReadError::TooLarge(_))));
}

/// Every line's container and staged bytes, read with `reader` built as `build` says.
fn containers_and_raw(
    input: &mut dyn Read,
    build: impl FnOnce(EventReader<&mut dyn Read>) -> EventReader<&mut dyn Read>,
) -> Vec<(Option<String>, String, Vec<u8>)> {
    let mut reader = build(EventReader::new(input, FALLBACK_MS).unwrap());
    let mut lines = Vec::new();
    while let Some((event, raw)) = reader.next_line_event().unwrap() {
        let container = event.container.map(|c| c.into_owned());
        lines.push((container, event.message.into_owned(), raw.to_vec()));
    }
    lines
}

#[test]
fn the_container_is_read_only_when_asked_for_wherever_the_line_is_held() {
    let long = format!(
        r#"{{"container":"big","message":"{}"}}"#,
        "é\\n".repeat(LONG_LINE_BYTES)
    );
    let data = [
        r#"{"container":"app","message":"a","timestamp":1}"#,
        r#"{"message":"no container"}"#,
        r#"{"container":"es\"caped","message":"b"}"#,
        &long,
    ]
    .join("\n");
    let asked = |input: &mut dyn Read| containers_and_raw(input, |r| r.with_container(true));
    let buffered = asked(&mut data.as_bytes());
    assert_eq!(buffered, asked(&mut OneByteAtATime(data.as_bytes())));
    let containers: Vec<Option<&str>> = buffered.iter().map(|(c, _, _)| c.as_deref()).collect();
    assert_eq!(containers, [Some("app"), None, Some("es\"caped"), Some("big")]);
    let not_asked = containers_and_raw(&mut data.as_bytes(), |r| r);
    assert!(not_asked.iter().all(|(c, _, _)| c.is_none()));
    let messages = |lines: &[(Option<String>, String, Vec<u8>)]| -> Vec<String> {
        lines.iter().map(|(_, m, _)| m.clone()).collect()
    };
    assert_eq!(messages(&not_asked), messages(&buffered));
}

#[test]
fn raw_lines_are_the_staged_bytes_also_for_long_lines() {
    let long = format!(
        r#"{{"message":"{}","timestamp":1}}"#,
        "\\\"é\\n".repeat(LONG_LINE_BYTES)
    );
    let staged = [
        r#"{ "message" : "spaced" }"#.to_owned() + "\r",
        long.clone(),
        "not json".to_owned(),
        String::new(),
        r#"{"message":"last, without a newline"}"#.to_owned(),
    ];
    let data = staged.join("\n");
    let run = |input: &mut dyn Read| containers_and_raw(input, |r| r.with_raw_lines());
    let buffered = run(&mut data.as_bytes());
    assert_eq!(buffered, run(&mut OneByteAtATime(data.as_bytes())));
    let raw: Vec<&[u8]> = buffered.iter().map(|(_, _, raw)| &raw[..]).collect();
    let expected: Vec<&[u8]> = [0, 1, 4].iter().map(|&i| staged[i].as_bytes()).collect();
    assert_eq!(raw, expected);
    assert_eq!(
        buffered[1].1,
        "\"é\n".repeat(LONG_LINE_BYTES),
        "the message is decoded all the same"
    );
    // Once read on, a long line's buffers are given back.
    let mut reader = EventReader::new(data.as_bytes(), 0).unwrap().with_raw_lines();
    while reader.next_line_event().unwrap().is_some() {}
    assert_eq!((reader.long.capacity(), reader.long_copy.capacity()), (0, 0));
}

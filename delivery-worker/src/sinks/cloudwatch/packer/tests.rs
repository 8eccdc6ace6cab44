use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::reader::LogEvent;

const HOUR_MS: i64 = 60 * 60 * 1000;

fn event(timestamp_ms: i64, message: impl Into<String>) -> LogEvent {
    LogEvent {
        timestamp_ms,
        message: message.into(),
    }
}

/// A batch's events, owned, for comparing.
#[derive(Debug, PartialEq)]
struct Packed {
    events: Vec<LogEvent>,
    payload_bytes: usize,
}

fn packed(batch: &Batch) -> Packed {
    Packed {
        events: batch.events().map(|e| e.to_log_event()).collect(),
        payload_bytes: batch.payload_bytes,
    }
}

/// Packs everything and returns the batches as the packer made them.
fn pack_batches(events: impl IntoIterator<Item = LogEvent>) -> (Vec<Batch>, PackStats) {
    let mut packer = Packer::new();
    let mut batches = Vec::new();
    for event in events {
        packer.push(event.as_event(), |b| batches.push(b));
    }
    batches.extend(packer.finish());
    (batches, packer.stats().clone())
}

/// Packs everything, checks every batch against AWS's limits, and returns the batches.
fn pack(events: impl IntoIterator<Item = LogEvent>) -> (Vec<Packed>, PackStats) {
    let (batches, stats) = pack_batches(events);
    let batches: Vec<Packed> = batches.iter().map(packed).collect();
    for batch in &batches {
        assert_within_limits(batch);
    }
    (batches, stats)
}

fn assert_within_limits(batch: &Packed) {
    let events = &batch.events;
    assert!(
        !events.is_empty() && events.len() <= MAX_BATCH_EVENTS,
        "{} events",
        events.len()
    );
    assert_eq!(
        batch.payload_bytes,
        events.iter().map(|e| event_bytes(&e.message)).sum::<usize>()
    );
    assert!(
        batch.payload_bytes <= MAX_BATCH_BYTES,
        "{} bytes",
        batch.payload_bytes
    );
    assert!(events.iter().all(|e| e.message.len() <= MAX_MESSAGE_BYTES));
    assert!(
        events.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms),
        "not sorted"
    );
    let span = events[events.len() - 1].timestamp_ms - events[0].timestamp_ms;
    assert!(span < MAX_BATCH_SPAN_MS, "span {span} ms");
}

fn sizes(batches: &[Packed]) -> Vec<usize> {
    batches.iter().map(|b| b.events.len()).collect()
}

#[test]
fn one_byte_messages_fill_batches_to_the_event_limit() {
    let (batches, stats) = pack((0..38_899).map(|i| event(i, "x")));
    assert_eq!(sizes(&batches), [10_000, 10_000, 10_000, 8_899]);
    assert_eq!(
        stats,
        PackStats {
            events_in: 38_899,
            events_out: 38_899,
            split_events: 0,
            batches: 4
        }
    );
}

#[test]
fn events_of_the_maximum_message_size_go_one_per_batch() {
    let max = "m".repeat(MAX_MESSAGE_BYTES);
    let (batches, stats) = pack((0..3).map(|i| event(i, max.clone())));
    assert_eq!(sizes(&batches), [1, 1, 1]);
    assert!(batches.iter().all(|b| b.payload_bytes == MAX_BATCH_BYTES));
    assert_eq!(stats.split_events, 0);
}

#[test]
fn two_halves_fit_exactly_at_the_byte_limit() {
    let half = MAX_BATCH_BYTES / 2 - EVENT_OVERHEAD_BYTES;
    let (batches, _) = pack([event(1, "a".repeat(half)), event(2, "b".repeat(half))]);
    assert_eq!(sizes(&batches), [2]);
    assert_eq!(batches[0].payload_bytes, MAX_BATCH_BYTES);
}

#[test]
fn one_byte_over_the_limit_starts_a_new_batch() {
    let half = MAX_BATCH_BYTES / 2 - EVENT_OVERHEAD_BYTES;
    let (batches, _) = pack([event(1, "a".repeat(half)), event(2, "b".repeat(half + 1))]);
    assert_eq!(sizes(&batches), [1, 1]);
}

#[test]
fn a_huge_message_is_split_on_char_boundaries_without_loss() {
    // 8-byte pattern of 1-, 3- and 4-byte characters: 1,048,550 % 8 = 6 lands mid-char.
    let original = "a€😀".repeat(3 * 1024 * 1024 / 8 + 1);
    let (batches, stats) = pack([event(7, "before"), event(7, original.clone()), event(7, "after")]);
    let pieces: Vec<&LogEvent> = batches.iter().flat_map(|b| &b.events).collect();
    assert_eq!(pieces.first().unwrap().message, "before");
    assert_eq!(pieces.last().unwrap().message, "after");
    let middle = &pieces[1..pieces.len() - 1];
    assert!(middle.len() >= 3, "{} pieces", middle.len());
    assert!(middle
        .iter()
        .all(|e| e.timestamp_ms == 7 && e.message.len() <= MAX_MESSAGE_BYTES));
    assert_eq!(
        middle.iter().map(|e| e.message.as_str()).collect::<String>(),
        original
    );
    assert_eq!(stats.split_events, 1);
    assert_eq!(stats.events_out, stats.events_in + middle.len() as u64 - 1);
}

#[test]
fn split_pieces_use_the_full_event_size() {
    let original = "z".repeat(3 * 1024 * 1024);
    let (batches, _) = pack([event(0, original)]);
    let lens: Vec<usize> = batches
        .iter()
        .flat_map(|b| &b.events)
        .map(|e| e.message.len())
        .collect();
    assert_eq!(
        lens,
        [
            MAX_MESSAGE_BYTES,
            MAX_MESSAGE_BYTES,
            MAX_MESSAGE_BYTES,
            3_145_728 - 3 * MAX_MESSAGE_BYTES
        ]
    );
}

#[test]
fn splitting_never_emits_an_empty_piece_even_for_tiny_limits() {
    let pieces: Vec<&str> = split_on_char_boundaries("a😀b", 2).collect();
    assert_eq!(pieces, ["a", "😀", "b"]);
}

#[test]
fn events_spanning_30_hours_are_split_at_24_hours() {
    let (batches, _) = pack((0..=30).map(|h| event(h * HOUR_MS, format!("hour {h}"))));
    assert_eq!(sizes(&batches), [24, 7]);
    assert_eq!(batches[1].events[0].timestamp_ms, 24 * HOUR_MS);
}

#[test]
fn the_24_hour_bound_is_exclusive() {
    let (batches, _) = pack([event(0, "a"), event(MAX_BATCH_SPAN_MS - 1, "b")]);
    assert_eq!(sizes(&batches), [2]);
    let (batches, _) = pack([event(0, "a"), event(MAX_BATCH_SPAN_MS, "b")]);
    assert_eq!(sizes(&batches), [1, 1]);
}

#[test]
fn the_span_counts_the_earliest_event_not_the_first() {
    let times = [10 * HOUR_MS, 0, 23 * HOUR_MS, 25 * HOUR_MS];
    let (batches, _) = pack(times.map(|t| event(t, "x")));
    assert_eq!(sizes(&batches), [3, 1]);
    assert_eq!(
        batches[0]
            .events
            .iter()
            .map(|e| e.timestamp_ms)
            .collect::<Vec<_>>(),
        [0, 10 * HOUR_MS, 23 * HOUR_MS]
    );
}

#[test]
fn out_of_order_events_are_sorted_stably_within_a_batch() {
    let input = [
        event(3, "c"),
        event(1, "a1"),
        event(2, "b"),
        event(1, "a2"),
        event(0, "z"),
    ];
    let (batches, _) = pack(input);
    let got: Vec<&str> = batches[0].events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(got, ["z", "a1", "a2", "b", "c"]);
}

#[test]
fn no_input_yields_no_batch() {
    let (batches, stats) = pack([]);
    assert!(batches.is_empty());
    assert_eq!(stats, PackStats::default());
}

#[test]
fn finish_leaves_the_packer_reusable() {
    let mut packer = Packer::new();
    let mut out = Vec::new();
    packer.push(event(1, "a").as_event(), |b| out.push(b));
    assert_eq!(packed(&packer.finish().unwrap()).events, [event(1, "a")]);
    assert!(packer.finish().is_none());
    packer.push(event(100 * HOUR_MS, "b").as_event(), |b| out.push(b));
    assert_eq!(packer.finish().unwrap().payload_bytes, 1 + EVENT_OVERHEAD_BYTES);
    assert!(out.is_empty());
}

#[test]
fn batches_use_at_least_95_percent_of_the_byte_limit_when_the_data_allows() {
    let mut rng = StdRng::seed_from_u64(1);
    let events: Vec<_> = (0..5_000)
        .map(|i| event(i, "x".repeat(rng.gen_range(1_000..=3_000))))
        .collect();
    let (batches, _) = pack(events);
    let full = &batches[..batches.len() - 1];
    assert!(full.len() >= 5);
    for batch in full {
        assert!(
            batch.payload_bytes * 100 >= MAX_BATCH_BYTES * 95,
            "{} bytes",
            batch.payload_bytes
        );
    }
}

/// Random text of 1-, 2-, 3- and 4-byte characters that messages are sliced from.
fn random_pool(rng: &mut StdRng) -> String {
    let chars = ['a', 'é', '€', '😀'];
    (0..1_000_000)
        .map(|_| chars[rng.gen_range(0..chars.len())])
        .collect()
}

/// A random event: mostly small, some large, a few over the per-event limit; times
/// mostly ordered with jitter and occasional jumps of days in either direction.
fn random_event(rng: &mut StdRng, pool: &str, clock: &mut i64) -> LogEvent {
    *clock += match rng.gen_range(0..100) {
        0 => rng.gen_range(-3 * MAX_BATCH_SPAN_MS..3 * MAX_BATCH_SPAN_MS),
        1..=10 => rng.gen_range(-HOUR_MS..HOUR_MS),
        _ => rng.gen_range(0..60_000),
    };
    let len = match rng.gen_range(0..10_000) {
        0..=14 => rng.gen_range(MAX_MESSAGE_BYTES - 10..2 * MAX_MESSAGE_BYTES + 10),
        15..=114 => rng.gen_range(10_000..200_000),
        _ => rng.gen_range(1..400),
    };
    let mut start = rng.gen_range(0..pool.len() - len);
    while !pool.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = start + len;
    while !pool.is_char_boundary(end) {
        end += 1;
    }
    LogEvent {
        timestamp_ms: *clock,
        message: pool[start..end].to_owned(),
    }
}

#[test]
fn random_input_is_packed_within_limits_and_without_loss() {
    for seed in 0..6 {
        let mut rng = StdRng::seed_from_u64(seed);
        let pool = random_pool(&mut rng);
        let mut clock = 1_795_341_600_000;
        let count = rng.gen_range(1..12_000);
        let input: Vec<LogEvent> = (0..count)
            .map(|_| random_event(&mut rng, &pool, &mut clock))
            .collect();
        let expected = expected_by_timestamp(&input);
        let (batches, stats) = pack(input);
        assert_eq!(
            stats.events_out,
            batches.iter().map(|b| b.events.len() as u64).sum::<u64>()
        );
        assert_eq!(
            by_timestamp(batches.iter().flat_map(|b| &b.events)),
            expected,
            "seed {seed}"
        );
    }
}

/// Messages per timestamp in output order. Per timestamp, the packer keeps input order
/// (stable sort within a batch, batches emitted in order), so this pins down both the
/// multiset of events and where splits happened.
fn by_timestamp<'a>(events: impl IntoIterator<Item = &'a LogEvent>) -> BTreeMap<i64, Vec<String>> {
    let mut map: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for event in events {
        map.entry(event.timestamp_ms)
            .or_default()
            .push(event.message.clone());
    }
    map
}

/// What [`by_timestamp`] must give for `input`: oversized messages replaced by pieces.
fn expected_by_timestamp(input: &[LogEvent]) -> BTreeMap<i64, Vec<String>> {
    let mut map: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for event in input {
        let pieces = split_on_char_boundaries(&event.message, MAX_MESSAGE_BYTES).map(str::to_owned);
        map.entry(event.timestamp_ms).or_default().extend(pieces);
    }
    map
}

#[test]
fn kilobyte_messages_fill_batches_to_the_byte_limit() {
    // 1,022 × (1,000 + 26) = 1,048,572 fits; one more would not.
    let (batches, _) = pack((0..1_023).map(|i| event(i, "a".repeat(1_000))));
    assert_eq!(sizes(&batches), [1_022, 1]);
    // 1,001 × (1,021 + 26) = 1,048,047 fits; 1,002 would be 1,049,094.
    let (batches, _) = pack((0..2_000).map(|i| event(i, "b".repeat(1_021))));
    assert_eq!(sizes(&batches), [1_001, 999]);
}

#[test]
fn a_two_mebibyte_message_becomes_three_events_in_three_calls() {
    let message = "z".repeat(2 * 1024 * 1024);
    let (batches, stats) = pack([event(7, message.clone())]);
    assert_eq!(sizes(&batches), [1, 1, 1]);
    assert_eq!(stats.split_events, 1);
    let joined: String = batches
        .iter()
        .flat_map(|b| b.events.iter())
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(joined, message);
}

#[test]
fn multi_byte_text_is_counted_in_bytes_not_characters() {
    // "é" is 2 bytes: 500 of them are 1,000 bytes, so the 1,000-byte case above applies.
    let (batches, _) = pack((0..1_023).map(|i| event(i, "é".repeat(500))));
    assert_eq!(sizes(&batches), [1_022, 1]);
    assert_eq!(batches[0].payload_bytes, 1_022 * 1_026);
}

#[test]
fn a_batch_holds_its_messages_in_one_buffer_never_larger_than_a_batch() {
    // 3 MiB of 1-, 3- and 4-byte characters between small events: four pieces.
    let message = "a€😀".repeat(3 * 1024 * 1024 / 8);
    let mut input = vec![event(0, "before")];
    input.push(event(1, message.clone()));
    input.extend((2..20_000).map(|i| event(i, "x".repeat(i as usize % 300 + 1))));
    let (batches, _) = pack_batches(input);
    for batch in &batches {
        assert!(
            batch.text.capacity() <= MAX_BATCH_BYTES,
            "{}",
            batch.text.capacity()
        );
        // Every message lies in the batch's text, one after another, in packing order.
        let mut ranges: Vec<_> = batch.entries.iter().map(|e| e.message.clone()).collect();
        ranges.sort_by_key(|r| r.start);
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(ranges.last().unwrap().end, batch.text.len());
    }
    let pieces: Vec<String> = batches[..5]
        .iter()
        .flat_map(|b| b.events())
        .filter(|e| e.timestamp_ms == 1)
        .map(|e| e.message.into_owned())
        .collect();
    assert_eq!(pieces.len(), 4);
    assert_eq!(pieces.concat(), message);
}

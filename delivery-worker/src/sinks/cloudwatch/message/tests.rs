use serde_json::{json, Value};

use super::*;
use crate::sinks::cloudwatch::packer::{EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES};

const KEY: &str = "acme/c1/shop/checkout/checkout-7d9f/1700000000-u.json.gz";

fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap()
}

fn all_fields() -> Messages {
    Messages::new(&MessageFormat::Json(MessageField::ALL.to_vec()), &key(KEY))
}

fn event<'a>(timestamp_ms: i64, container: Option<&'a str>, message: &'a str) -> Event<'a> {
    Event {
        timestamp_ms,
        message: Cow::Borrowed(message),
        container: container.map(Cow::Borrowed),
    }
}

/// Packs `events` through `messages`; every batch, checked against CloudWatch's limits.
fn pack(messages: &mut Messages, events: Vec<Event<'_>>) -> Vec<Batch> {
    let (mut packer, mut batches) = (Packer::new(), Vec::new());
    let mut emit = |batch| batches.push(batch);
    for event in events {
        messages.push(event, &mut packer, &mut emit);
    }
    batches.extend(packer.finish());
    for batch in &batches {
        let bytes: usize = batch
            .events()
            .map(|e| e.message.len() + EVENT_OVERHEAD_BYTES)
            .sum();
        assert_eq!(
            batch.payload_bytes, bytes,
            "the formatted bytes are the ones counted"
        );
        assert!(
            batch.payload_bytes <= MAX_BATCH_BYTES,
            "{} bytes",
            batch.payload_bytes
        );
        assert!(batch.events().all(|e| e.message.len() <= MAX_MESSAGE_BYTES));
    }
    batches
}

/// Every message sent, in order.
fn messages_of(batches: &[Batch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.events().map(|e| e.message.into_owned()).collect::<Vec<_>>())
        .collect()
}

fn parsed(message: &str) -> Value {
    serde_json::from_str(message).unwrap()
}

#[test]
fn a_json_message_carries_the_text_first_then_the_picked_fields_in_one_order() {
    let batches = pack(&mut all_fields(), vec![event(1, Some("app"), "hello")]);
    assert_eq!(
        messages_of(&batches),
        [
            r#"{"message":"hello","cluster":"c1","namespace":"shop","application":"checkout","container":"app","pod":"checkout-7d9f"}"#
        ]
    );
    let picked = MessageFormat::parse("json", Some(&["pod".into(), "container".into()])).unwrap();
    let batches = pack(
        &mut Messages::new(&picked, &key(KEY)),
        vec![event(1, Some("app"), "hi")],
    );
    assert_eq!(
        messages_of(&batches),
        [r#"{"message":"hi","container":"app","pod":"checkout-7d9f"}"#]
    );
}

#[test]
fn quotes_newlines_control_characters_and_unicode_are_escaped_and_read_back() {
    let text = "say \"hi\" \\ C:\\path\nnext\tline \u{1} é 日本 😀 \u{2028}";
    let container = "we\"ird\n";
    let batches = pack(&mut all_fields(), vec![event(1, Some(container), text)]);
    let sent = messages_of(&batches);
    assert!(
        sent[0].contains(r#"say \"hi\" \\ C:\\path\nnext\tline \u0001 é 日本 😀"#),
        "{}",
        sent[0]
    );
    let value = parsed(&sent[0]);
    assert_eq!(value["message"], text);
    assert_eq!(value["container"], container);
}

#[test]
fn a_field_the_line_or_key_lacks_is_left_out_not_empty() {
    let legacy = key("acme/c1/checkout/checkout-7d9f/1700000000-u.json.gz");
    let mut messages = Messages::new(&MessageFormat::Json(MessageField::ALL.to_vec()), &legacy);
    let batches = pack(&mut messages, vec![event(1, None, "no container")]);
    assert_eq!(
        messages_of(&batches),
        [r#"{"message":"no container","cluster":"c1","application":"checkout","pod":"checkout-7d9f"}"#]
    );
    let huge = "c".repeat(MAX_CONTAINER_BYTES + 1);
    let batches = pack(&mut all_fields(), vec![event(1, Some(&huge), "x")]);
    assert_eq!(parsed(&messages_of(&batches)[0]).get("container"), None);
}

#[test]
fn raw_messages_are_the_text_as_it_is() {
    let mut raw = Messages::new(&MessageFormat::Raw, &key(KEY));
    assert!(!raw.needs_container() && all_fields().needs_container());
    let batches = pack(&mut raw, vec![event(1, Some("app"), "plain \"text\"")]);
    assert_eq!(messages_of(&batches), ["plain \"text\""]);
}

/// Bytes a message with `text` (no escapes) and the fields of `all_fields` for container
/// `app` takes beyond the text.
fn json_overhead() -> usize {
    let batches = pack(&mut all_fields(), vec![event(1, Some("app"), "")]);
    messages_of(&batches)[0].len()
}

#[test]
fn a_json_message_exactly_at_the_per_event_limit_is_one_event_filling_a_batch() {
    let text = "m".repeat(MAX_MESSAGE_BYTES - json_overhead());
    let batches = pack(
        &mut all_fields(),
        vec![event(1, Some("app"), &text), event(2, Some("app"), "next")],
    );
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].len(), 1);
    assert_eq!(batches[0].payload_bytes, MAX_BATCH_BYTES);
    assert_eq!(parsed(&messages_of(&batches[..1])[0])["message"], text.as_str());
    assert_eq!(all_fields().split_events(), 0);
}

#[test]
fn one_byte_over_the_per_event_limit_splits_the_text_into_two_complete_objects() {
    let text = "m".repeat(MAX_MESSAGE_BYTES - json_overhead() + 1);
    let mut messages = all_fields();
    let batches = pack(&mut messages, vec![event(7, Some("app"), &text)]);
    let sent = messages_of(&batches);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].len(), MAX_MESSAGE_BYTES);
    let values: Vec<Value> = sent.iter().map(|m| parsed(m)).collect();
    let joined: String = values.iter().map(|v| v["message"].as_str().unwrap()).collect();
    assert_eq!(joined, text);
    for value in &values {
        assert_eq!(
            (value["pod"].as_str(), value["container"].as_str()),
            (Some("checkout-7d9f"), Some("app"))
        );
        assert_eq!(value.as_object().unwrap().len(), 6, "no field added: {value}");
    }
    assert!(batches
        .iter()
        .flat_map(|b| b.events())
        .all(|e| e.timestamp_ms == 7));
    assert_eq!(messages.split_events(), 1);
}

#[test]
fn a_huge_line_with_escapes_splits_into_parts_that_each_fit_and_join_to_its_text() {
    // Escapes grow the text (`\n` is 2 bytes, U+0001 is 6), multi-byte characters must
    // not be cut: 3 MiB of both.
    let text = "a\n😀\u{1}\"é".repeat(3 * 1024 * 1024 / 14);
    let mut messages = all_fields();
    let batches = pack(
        &mut messages,
        vec![event(1, Some("app"), "before"), event(1, Some("app"), &text)],
    );
    let sent = messages_of(&batches);
    assert!(sent.len() >= 4, "{} parts", sent.len());
    let values: Vec<Value> = sent.iter().map(|m| parsed(m)).collect();
    assert_eq!(values[0]["message"], "before");
    let joined: String = values[1..]
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(joined, text);
    assert!(values.iter().all(|v| v["namespace"] == "shop"));
    assert_eq!(messages.split_events(), 1);
}

#[test]
fn json_messages_fill_batches_to_the_byte_limit_counting_the_formatted_bytes() {
    // Formatted messages of 1,000 bytes: 1,022 × (1,000 + 26) = 1,048,572 fit in a batch.
    let text = "t".repeat(1_000 - json_overhead());
    let events = (0..1_023).map(|i| event(i, Some("app"), &text)).collect();
    let batches = pack(&mut all_fields(), events);
    assert_eq!(batches.iter().map(Batch::len).collect::<Vec<_>>(), [1_022, 1]);
    assert_eq!(batches[0].payload_bytes, 1_022 * 1_026);
    let value = parsed(&messages_of(&batches)[0]);
    assert_eq!(
        value,
        json!({"message": text, "cluster": "c1", "namespace": "shop", "application": "checkout", "container": "app", "pod": "checkout-7d9f"})
    );
}

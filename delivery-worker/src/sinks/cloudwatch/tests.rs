//! One object through decoder, packer and sender against an in-process CloudWatch (the
//! real client is exercised against the emulator in the integration tests).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use logspoke_aws::AwsError;

use super::service::Rejected;
use super::*;

/// Accepts every batch (or refuses each with `refuse`) and records the events it saw.
#[derive(Default)]
struct Recording {
    refuse: Option<&'static str>,
    puts: Mutex<Vec<Vec<String>>>,
}

impl LogsApi for Recording {
    async fn put(&self, request: &super::request::PutRequest<'_>) -> Result<Rejected, AwsError> {
        let messages = request.batch.events().map(|e| e.message.into_owned()).collect();
        self.puts.lock().unwrap().push(messages);
        match self.refuse {
            Some(code) => Err(AwsError::service(code, 400, "scripted")),
            None => Ok(Rejected::default()),
        }
    }

    async fn create_stream(&self, _: &str, _: &str) -> Result<(), AwsError> {
        Ok(())
    }
}

const START_MS: i64 = 1_795_341_600_000;

fn gzip(count: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..count {
        let line = serde_json::json!({"message": format!("event {i:05}"), "timestamp": START_MS + i as i64});
        writeln!(gz, "{line}").unwrap();
    }
    gz.finish().unwrap()
}

const TO: Destination<'static> = Destination {
    group: "/logs",
    stream: "c1/app/pod",
    tenant_id: "acme",
};

/// Remembers what was acknowledged, as the ledger's progress record does.
#[derive(Default)]
struct Acks(Mutex<Vec<(u64, u64)>>);

impl Progress for Acks {
    async fn acked(&self, batches: u64, events: u64) {
        self.0.lock().unwrap().push((batches, events));
    }
}

fn quick() -> Tuning {
    let backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
        attempts: 3,
    };
    Tuning::new(backoff, DEFAULT_MAX_DECODE_BYTES)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_an_object_is_sent_in_batches_within_the_event_limit() {
    let logs = Recording::default();
    let body = ByteStream::from(gzip(25_000));
    let acks = Acks::default();
    let delivered = deliver(
        &logs,
        TO,
        Source::raw(body, START_MS),
        &quick(),
        Resume::default(),
        &acks,
    )
    .await
    .unwrap();
    assert_eq!((delivered.batches, delivered.events), (3, 25_000));
    assert_eq!(*acks.0.lock().unwrap(), [(1, 10_000), (2, 20_000), (3, 25_000)]);
    let puts = logs.puts.lock().unwrap();
    assert!(puts.iter().all(|batch| batch.len() <= MAX_BATCH_EVENTS));
    assert_eq!(puts.len(), 3);
    let sent: Vec<&String> = puts.iter().flatten().collect();
    assert_eq!(sent.len(), 25_000);
    assert_eq!(sent[0], "event 00000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_stops_the_object_and_leaves_it_for_a_retry() {
    let logs = Recording {
        refuse: Some("AccessDeniedException"),
        ..Recording::default()
    };
    let body = ByteStream::from(gzip(25_000));
    let acks = Acks::default();
    let err = deliver(
        &logs,
        TO,
        Source::raw(body, START_MS),
        &quick(),
        Resume::default(),
        &acks,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, TargetError::Customer(Cause::PermissionDenied, text) if text.starts_with("logs:PutLogEvents")),
        "{err:?}"
    );
    assert!(acks.0.lock().unwrap().is_empty());
    assert_eq!(logs.puts.lock().unwrap().len(), 1, "the decoder must stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_rejected_for_good() {
    let mut bytes = gzip(2_000);
    bytes.truncate(bytes.len() / 2);
    let err = deliver(
        &Recording::default(),
        TO,
        Source::raw(ByteStream::from(bytes), START_MS),
        &quick(),
        Resume::default(),
        &Acks::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, TargetError::Permanent("unreadable_file", _)),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_decoding_past_the_object_limit_is_rejected_as_too_large() {
    let logs = Recording::default();
    let tuning = quick().with_max_object_bytes(100_000);
    let err = deliver(
        &logs,
        TO,
        Source::raw(ByteStream::from(gzip(25_000)), START_MS),
        &tuning,
        Resume::default(),
        &Acks::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TargetError::Permanent("too_large", _)), "{err:?}");
    // Decoding stopped at the limit: the 25,000 events (about 1.5 MB) never all went out.
    let sent: usize = logs.puts.lock().unwrap().iter().map(Vec::len).sum();
    assert!(sent < 25_000, "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_attempt_sends_only_the_batches_not_yet_acknowledged() {
    let logs = Recording::default();
    let resume = Resume {
        batches: 2,
        events: 20_000,
    };
    let acks = Acks::default();
    let delivered = deliver(
        &logs,
        TO,
        Source::raw(ByteStream::from(gzip(25_000)), START_MS),
        &quick(),
        resume,
        &acks,
    )
    .await
    .unwrap();
    let puts = logs.puts.lock().unwrap();
    assert_eq!(puts.len(), 1, "only the third batch goes out again");
    assert_eq!(puts[0].len(), 5_000);
    assert_eq!(puts[0][0], "event 20000");
    assert_eq!((delivered.batches, delivered.events), (3, 25_000));
    assert_eq!(*acks.0.lock().unwrap(), [(3, 25_000)]);
}

/// A file of `count` lines written by containers `app` and `sidecar` in turn, half of
/// them `DEBUG`.
fn gzip_with_containers(count: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..count {
        let container = if i % 2 == 0 { "app" } else { "sidecar" };
        let level = if i % 4 < 2 { "DEBUG" } else { "INFO" };
        let line = serde_json::json!({"container": container, "message": format!("{level} event {i:05}"),
            "namespace": "shop", "timestamp": START_MS + i as i64});
        writeln!(gz, "{line}").unwrap();
    }
    gz.finish().unwrap()
}

fn filter(spec: serde_json::Value) -> LineFilter {
    let filter: logspoke_contract::Filter = serde_json::from_value(spec).unwrap();
    LineFilter::for_object(&filter, &ObjectKey::parse(KEY).unwrap())
}

const KEY: &str = "acme/c1/shop/checkout/pod-7/1700000000-u.json.gz";

fn shaped(bytes: Vec<u8>, lines: LineFilter, messages: Messages) -> Source {
    Source {
        body: ByteStream::from(bytes),
        fallback_ms: START_MS,
        lines,
        messages,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_sends_only_the_lines_it_keeps_and_counts_the_others() {
    let logs = Recording::default();
    let lines = filter(
        serde_json::json!({"include": [{"field": "container", "equals": "app"}],
        "exclude": [{"field": "message", "regex": "^DEBUG"}]}),
    );
    let source = shaped(gzip_with_containers(1_000), lines, Messages::Raw);
    let delivered = deliver(&logs, TO, source, &quick(), Resume::default(), &Acks::default())
        .await
        .unwrap();
    // Of every four lines: app DEBUG, sidecar DEBUG, app INFO, sidecar INFO.
    assert_eq!((delivered.events, delivered.events_filtered), (250, 750));
    let puts = logs.puts.lock().unwrap();
    let sent: Vec<&String> = puts.iter().flatten().collect();
    assert_eq!(sent.len(), 250);
    assert!(sent.iter().all(|m| m.starts_with("INFO")), "{:?}", sent[0]);
    assert_eq!(sent[0], "INFO event 00002");
    assert_eq!(
        delivered.bytes,
        sent.iter().map(|m| m.len() as u64 + 26).sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_whose_every_line_is_filtered_sends_nothing_and_is_delivered() {
    let logs = Recording::default();
    let acks = Acks::default();
    let lines = filter(serde_json::json!({"exclude": [{"field": "message", "contains": "event"}]}));
    let source = shaped(gzip_with_containers(300), lines, Messages::Raw);
    let delivered = deliver(&logs, TO, source, &quick(), Resume::default(), &acks)
        .await
        .unwrap();
    assert_eq!(
        delivered,
        Delivered {
            events_filtered: 300,
            ..Delivered::default()
        }
    );
    assert!(logs.puts.lock().unwrap().is_empty());
    assert!(acks.0.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_messages_carry_the_kept_lines_with_their_fields() {
    let logs = Recording::default();
    let format = logspoke_contract::MessageFormat::parse("json", None).unwrap();
    let messages = Messages::new(&format, &ObjectKey::parse(KEY).unwrap());
    let lines = filter(serde_json::json!({"include": [{"field": "container", "equals": "sidecar"}]}));
    let delivered = deliver(
        &logs,
        TO,
        shaped(gzip_with_containers(4), lines, messages),
        &quick(),
        Resume::default(),
        &Acks::default(),
    )
    .await
    .unwrap();
    assert_eq!((delivered.events, delivered.events_filtered), (2, 2));
    let puts = logs.puts.lock().unwrap();
    assert_eq!(
        puts[0],
        [
            r#"{"message":"DEBUG event 00001","cluster":"c1","namespace":"shop","application":"checkout","container":"sidecar","pod":"pod-7"}"#,
            r#"{"message":"INFO event 00003","cluster":"c1","namespace":"shop","application":"checkout","container":"sidecar","pod":"pod-7"}"#,
        ]
    );
}

#[test]
fn streams_are_named_by_the_template_or_the_default() {
    let layout = ObjectKey::parse("acme/c1/shop/checkout/pod-7/1700000000-u.json.gz").unwrap();
    assert_eq!(stream_name(&layout, None).unwrap(), "c1/shop/checkout/pod-7");
    let custom = LogStreamTemplate::parse("{tenant_id}-{namespace}-{application}").unwrap();
    assert_eq!(stream_name(&layout, Some(&custom)).unwrap(), "acme-shop-checkout");
}

/// A pod chooses its application label: one in `sandbox` calling itself `payments`
/// must not write into the streams of `prod`'s `payments`.
#[test]
fn a_pod_cannot_write_into_another_namespaces_default_stream() {
    let prod = ObjectKey::parse("acme/c1/prod/payments/payments-1/1700000000-u.json.gz").unwrap();
    let sandbox = ObjectKey::parse("acme/c1/sandbox/payments/payments-1/1700000000-u.json.gz").unwrap();
    let prod_stream = stream_name(&prod, None).unwrap();
    assert_eq!(prod_stream, "c1/prod/payments/payments-1");
    assert_ne!(stream_name(&sandbox, None).unwrap(), prod_stream);
}

/// Objects staged by collectors of the previous release (and parked or replayed ones)
/// go on into the streams they went to before, which no namespaced object's default
/// stream can be (those have one more '/'-separated part).
#[test]
fn keys_without_a_namespace_keep_the_streams_they_had() {
    let layout = ObjectKey::parse("acme/c1/checkout/pod-7/1700000000-u.json.gz").unwrap();
    assert_eq!(stream_name(&layout, None).unwrap(), "c1/checkout/pod-7");
    let custom = LogStreamTemplate::parse("{tenant_id}-{application}").unwrap();
    assert_eq!(stream_name(&layout, Some(&custom)).unwrap(), "acme-checkout");
}

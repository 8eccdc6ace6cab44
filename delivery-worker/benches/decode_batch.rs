//! The worker's hot path on one core: gzip NDJSON → events → packed batches (`pack`), and
//! on to the `PutLogEvents` request bodies the sink sends (`pack+encode`). Target
//! (DESIGN.md §8): ≥ 2,000,000 events/s per core for `pack` on the `slim` lines.
//!
//! Two line shapes, both with ~200-byte messages: `slim` carries a few Kubernetes fields,
//! `vector` the full metadata Vector's `kubernetes_logs` source attaches (~900-byte lines).
//! A third, `collector`, is the line the collector stages today (`container`, `message`,
//! `namespace`, `timestamp`); on it `pack` is measured as for the others, and `shaped`
//! runs the sink's own loop (`pack_events`) with a config's line shaping: a message
//! filter (`exclude` lines starting with `DEBUG`, a fifth of them) and `json` messages
//! with every field (so the reader also reads each line's `container`).
//! The setup prints the compressed and decompressed size per event so MB/s can be derived
//! from the reported events/s.

// Benchmark setup is not an input path: a failure should abort loudly.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flate2::write::GzEncoder;
use flate2::Compression;
use logspoke_contract::{Filter, MessageFormat, ObjectKey};
use logspoke_delivery_worker::filter::LineFilter;
use logspoke_delivery_worker::reader::{self, EventReader};
use logspoke_delivery_worker::sinks::cloudwatch::message::Messages;
use logspoke_delivery_worker::sinks::cloudwatch::packer::{Batch, Packer};
use logspoke_delivery_worker::sinks::cloudwatch::{pack_events, request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EVENTS: usize = 100_000;
const START_MS: i64 = 1_795_341_600_123;

const SLIM_METADATA: &str = r#""kubernetes":{"pod_name":"orders-7d9f8c6b5-x2x7q","pod_namespace":"shop","container_name":"orders","pod_uid":"0d5f5a0e-8a2b-4a8e-9d53-3c7f0c9b9a11"}"#;
const VECTOR_METADATA: &str = concat!(
    r#""file":"/var/log/pods/shop_orders-7d9f8c6b5-x2x7q_0d5f5a0e-8a2b-4a8e-9d53-3c7f0c9b9a11/orders/0.log","#,
    r#""kubernetes":{"container_id":"containerd://6f1c0b8e0f9a4c2d8e7b5a3f1d9c7e5b3a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d","#,
    r#""container_image":"registry.example.com/shop/orders:1.42.0","container_name":"orders","#,
    r#""namespace_labels":{"kubernetes.io/metadata.name":"shop","team":"checkout"},"#,
    r#""node_labels":{"kubernetes.io/arch":"amd64","kubernetes.io/hostname":"ip-10-0-1-23.ec2.internal","topology.kubernetes.io/zone":"eu-west-1a"},"#,
    r#""pod_ip":"10.0.1.57","pod_labels":{"app":"orders","pod-template-hash":"7d9f8c6b5","rosa_export_logs":"true","customer_id":"acme","cluster_id":"prod-eu-1"},"#,
    r#""pod_name":"orders-7d9f8c6b5-x2x7q","pod_namespace":"shop","pod_node_name":"ip-10-0-1-23.ec2.internal","pod_uid":"0d5f5a0e-8a2b-4a8e-9d53-3c7f0c9b9a11"},"#,
    r#""source_type":"kubernetes_logs","stream":"stdout""#
);

/// A ~200-byte application log message with varying ids and numbers.
fn message(rng: &mut StdRng, i: usize) -> String {
    let levels = ["INFO ", "INFO ", "INFO ", "DEBUG", "WARN "];
    format!(
        "{} [http-nio-8080-exec-{}] c.example.orders.OrderService - Processed order {:016x} for \
         customer {} in {} ms (items={}, total={}.{:02} EUR) trace_id={:032x} seq={i}",
        levels[rng.gen_range(0..levels.len())],
        rng.gen_range(1..64),
        rng.gen::<u64>(),
        rng.gen_range(10_000..99_999),
        rng.gen_range(1..900),
        rng.gen_range(1..20),
        rng.gen_range(1..5_000),
        rng.gen_range(0..100),
        rng.gen::<u128>(),
    )
}

/// An RFC 3339 timestamp with nanoseconds, as Vector writes it.
fn rfc3339(ms: i64) -> String {
    let seconds_of_day = ms.rem_euclid(86_400_000) / 1000;
    let (h, m, s) = (
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
    );
    format!("2026-11-22T{h:02}:{m:02}:{s:02}.{:03}456789Z", ms % 1000)
}

/// The staged object: `EVENTS` lines with the given metadata (none: the collector's
/// line), gzip-compressed.
fn staged_file(metadata: &str) -> (Vec<u8>, usize) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut ndjson = Vec::new();
    for i in 0..EVENTS {
        let ms = START_MS + (i as i64) * 7 % 86_000_000;
        if metadata.is_empty() {
            let line = serde_json::json!({ "container": "orders", "message": message(&mut rng, i),
                "namespace": "shop", "timestamp": rfc3339(ms) });
            writeln!(ndjson, "{line}").unwrap();
            continue;
        }
        let line = serde_json::json!({ "message": message(&mut rng, i), "timestamp": rfc3339(ms) });
        let line = line.to_string();
        // Put the metadata first, as Vector's alphabetical key order does for `file`/`kubernetes`.
        writeln!(ndjson, "{{{metadata},{}", &line[1..]).unwrap();
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    encoder.write_all(&ndjson).unwrap();
    (encoder.finish().unwrap(), ndjson.len())
}

/// The floor under decoding: inflating the file, nothing else.
fn inflate(file: &[u8]) -> u64 {
    std::io::copy(&mut flate2::read::MultiGzDecoder::new(file), &mut std::io::sink()).unwrap()
}

/// The measured path: decode, pack and, with `encode`, write each batch's request body as
/// the sink sends it; returns the events (and body bytes) so nothing is optimised away.
fn decode_pack(file: &[u8], encode: bool) -> usize {
    let mut packer = Packer::new();
    let mut sent = 0;
    let mut send = |batch: &Batch| {
        sent += batch.len();
        if encode {
            sent += request::encode("/rosa/acme/orders", "orders-7d9f8c6b5-x2x7q", batch).len();
        }
    };
    let stats = reader::decode(file, START_MS, |event| packer.push(event, |batch| send(&batch))).unwrap();
    assert_eq!(stats.events as usize, EVENTS);
    if let Some(batch) = packer.finish() {
        send(&batch);
    }
    sent
}

/// A config's line shaping for the collector's object: drop `DEBUG` lines, `json`
/// messages with every field.
fn shaping() -> (LineFilter, Messages) {
    let layout =
        ObjectKey::parse("acme/prod-eu-1/shop/orders/orders-7d9f8c6b5-x2x7q/1795341600-u.json.gz").unwrap();
    let filter: Filter =
        serde_json::from_str(r#"{"exclude": [{"field": "message", "regex": "^DEBUG"}]}"#).unwrap();
    let format = MessageFormat::parse("json", None).unwrap();
    (
        LineFilter::for_object(&filter, &layout),
        Messages::new(&format, &layout),
    )
}

/// The sink's loop with `shaping`: decode, filter, shape, pack; returns the events sent.
fn decode_shape_pack(file: &[u8], (lines, mut messages): (LineFilter, Messages)) -> usize {
    let needs_container = lines.needs_container() || messages.needs_container();
    let mut events = EventReader::new(file, START_MS)
        .unwrap()
        .with_container(needs_container);
    let (mut packer, mut sent) = (Packer::new(), 0);
    let filtered = pack_events(&mut events, (&lines, &mut messages), &mut packer, |batch| {
        sent += batch.len();
        true
    })
    .unwrap();
    sent += packer.finish().map_or(0, |batch| batch.len());
    assert_eq!(sent + filtered as usize, EVENTS);
    sent
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_pack");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, metadata) in [
        ("slim", SLIM_METADATA),
        ("vector", VECTOR_METADATA),
        ("collector", ""),
    ] {
        let (file, plain_bytes) = staged_file(metadata);
        eprintln!(
            "{name}: {EVENTS} events, {} B/event decompressed, {} B/event gzip ({} KiB file)",
            plain_bytes / EVENTS,
            file.len() / EVENTS,
            file.len() / 1024
        );
        group.bench_with_input(BenchmarkId::new("inflate", name), &file, |b, file| {
            b.iter(|| inflate(file));
        });
        group.bench_with_input(BenchmarkId::new("pack", name), &file, |b, file| {
            b.iter(|| decode_pack(file, false));
        });
        group.bench_with_input(BenchmarkId::new("pack+encode", name), &file, |b, file| {
            b.iter(|| decode_pack(file, true));
        });
        if metadata.is_empty() {
            let shaped = shaping();
            group.bench_with_input(BenchmarkId::new("shaped", name), &file, |b, file| {
                b.iter(|| decode_shape_pack(file, shaped.clone()));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

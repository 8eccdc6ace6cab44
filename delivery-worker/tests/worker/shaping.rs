//! Line shaping end to end: a config's filter and message format, as the worker applies
//! them to the lines the collector stages (`container`, `message`, `namespace`,
//! `timestamp`), read back from the customer's CloudWatch Logs and bucket.

use std::io::Read;
use std::time::{Duration, Instant};

use logspoke_contract::{ConfigItem, DeliveryType, Filter, MessageField, MessageFormat, TenantId};
use serde_json::{json, Value};

use crate::world::{tenant, Customer, World};

/// A line as the collector stages it.
fn collector_line(timestamp_ms: i64, container: Option<&str>, message: &str) -> String {
    let timestamp = chrono::DateTime::from_timestamp_millis(timestamp_ms).unwrap();
    let mut line = json!({
        "message": message,
        "namespace": "shop",
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if let Some(container) = container {
        line["container"] = json!(container);
    }
    line.to_string()
}

/// `customer`'s item of `tenant`'s `kind` target, with `filter` and `format`.
fn shaped_item(
    customer: &Customer,
    tenant: &TenantId,
    kind: DeliveryType,
    filter: Value,
    format: MessageFormat,
) -> ConfigItem {
    let mut item = customer.item(tenant, kind, 1);
    let config = item.config.as_mut().unwrap();
    config.filter = serde_json::from_value::<Filter>(filter).unwrap();
    config.message_format = format;
    item
}

#[tokio::test]
async fn a_filter_that_drops_half_the_lines_delivers_exactly_the_other_half_and_counts_the_rest() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let only_app = json!({"include": [{"field": "container", "equals": "app"}]});
    let item = shaped_item(
        &acme,
        &tenant,
        DeliveryType::Cloudwatch,
        only_app,
        MessageFormat::Raw,
    );
    world.put_item(&item).await;
    let worker = world.start_worker().await;

    let now = chrono::Utc::now().timestamp_millis();
    let lines: Vec<String> = (0..200)
        .map(|i| {
            let container = if i % 2 == 0 { "app" } else { "sidecar" };
            collector_line(now + i, Some(container), &format!("{container} line {i:03}"))
        })
        .collect();
    world
        .stage(
            &format!("{tenant}/c1/shop/checkout/pod-a/1700000000-u1.json.gz"),
            &lines,
        )
        .await;

    let stream = "c1/shop/checkout/pod-a";
    acme.wait_for_events(stream, 100, Duration::from_secs(60)).await;
    assert!(
        world.wait_drained(Duration::from_secs(20)).await,
        "the message was not deleted"
    );
    let counters = world
        .wait_for_counters(&tenant, DeliveryType::Cloudwatch, Duration::from_secs(20), |c| {
            c.objects == 1
        })
        .await;
    let events = acme.events(stream).await;
    let expected: Vec<String> = (0..200).step_by(2).map(|i| format!("app line {i:03}")).collect();
    let mut sent: Vec<String> = events.into_iter().map(|(_, m)| m).collect();
    sent.sort();
    assert_eq!(sent, expected);
    assert_eq!(
        (counters.events, counters.events_filtered),
        (100, 100),
        "{counters:?}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_json_message_carries_the_chosen_fields() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let format = MessageFormat::Json(vec![
        MessageField::Namespace,
        MessageField::Container,
        MessageField::Pod,
    ]);
    let item = shaped_item(&acme, &tenant, DeliveryType::Cloudwatch, json!({}), format);
    world.put_item(&item).await;
    let worker = world.start_worker().await;

    let now = chrono::Utc::now().timestamp_millis();
    let text = "payment \"declined\"\n\tcode=é42";
    let lines = [
        collector_line(now, Some("app"), text),
        collector_line(now + 1, None, "no container"),
    ];
    world
        .stage(
            &format!("{tenant}/c1/shop/checkout/pod-a/1700000000-u1.json.gz"),
            &lines,
        )
        .await;

    let events = acme
        .wait_for_events("c1/shop/checkout/pod-a", 2, Duration::from_secs(60))
        .await;
    let messages: Vec<Value> = events
        .iter()
        .map(|(_, m)| serde_json::from_str(m).unwrap_or_else(|e| panic!("{e}: {m}")))
        .collect();
    assert_eq!(
        messages,
        [
            json!({"message": text, "namespace": "shop", "container": "app", "pod": "pod-a"}),
            json!({"message": "no container", "namespace": "shop", "pod": "pod-a"}),
        ]
    );
    let first = &events[0].1;
    assert!(
        first.starts_with(r#"{"message":"#) && first.ends_with(r#""pod":"pod-a"}"#),
        "{first}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn an_s3_target_with_a_filter_receives_only_the_kept_lines() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let filter = json!({"exclude": [
        {"field": "message", "regex": "^DEBUG"},
        {"field": "namespace", "equals": "noisy"},
    ]});
    let item = shaped_item(&acme, &tenant, DeliveryType::S3, filter, MessageFormat::Raw);
    world.put_item(&item).await;
    let worker = world.start_worker().await;

    let now = chrono::Utc::now().timestamp_millis();
    let lines: Vec<String> = (0..100)
        .map(|i| {
            let level = if i % 4 == 0 { "DEBUG" } else { "INFO" };
            collector_line(now + i, Some("app"), &format!("{level} line {i:03} é \"q\""))
        })
        .collect();
    let kept = format!("{tenant}/c1/shop/checkout/pod-a/1700000000-u1.json.gz");
    world.stage(&kept, &lines).await;
    // Another namespace, excluded whole: nothing is written for it.
    let dropped = format!("{tenant}/c1/noisy/checkout/pod-b/1700000000-u2.json.gz");
    world.stage(&dropped, &lines[..10]).await;

    let copy = wait_for_object(&acme, &format!("k8s/{kept}"), Duration::from_secs(60)).await;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&copy[..])
        .read_to_string(&mut text)
        .unwrap();
    let expected: String = lines
        .iter()
        .filter(|l| !l.contains("DEBUG"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(text, expected, "the kept lines, byte for byte as staged");
    let counters = world
        .wait_for_counters(&tenant, DeliveryType::S3, Duration::from_secs(20), |c| {
            c.objects == 2
        })
        .await;
    assert_eq!(
        (counters.objects, counters.events_filtered),
        (2, 25 + 10),
        "{counters:?}"
    );
    assert_eq!(acme.objects().await, vec![format!("k8s/{kept}")]);
    worker.stop().await;
}

/// A Hive-layout target: each copy lands under its cluster, namespace and the date and
/// hour of its first event (not the staged file's time), byte for byte as staged.
#[tokio::test]
async fn a_hive_layout_object_lands_under_its_first_events_date_and_hour() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let mut item = acme.item(&tenant, DeliveryType::S3, 1);
    item.config.as_mut().unwrap().key_layout = logspoke_contract::KeyLayout::Hive;
    world.put_item(&item).await;
    let worker = world.start_worker().await;

    // First event 2026-12-06T23:59:59.900Z, the file staged (named) an hour later.
    let first = 1_796_601_599_900;
    let lines: Vec<String> = (0..3)
        .map(|i| collector_line(first + i * 100, Some("app"), &format!("line {i}")))
        .collect();
    let staged = format!("{tenant}/c1/shop/checkout/pod-a/1796605200-u1.json.gz");
    world.stage(&staged, &lines).await;
    let legacy = format!("{tenant}/c1/checkout/pod-b/1796605200-u2.json.gz");
    world.stage(&legacy, &lines[..1]).await;

    let hive = "k8s/cluster=c1/namespace=shop/dt=2026-12-06/hour=23/1796605200-u1.json.gz";
    let copy = wait_for_object(&acme, hive, Duration::from_secs(60)).await;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&copy[..])
        .read_to_string(&mut text)
        .unwrap();
    let expected: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(text, expected, "byte for byte as staged");
    let unknown =
        "k8s/cluster=c1/namespace=__HIVE_DEFAULT_PARTITION__/dt=2026-12-06/hour=23/1796605200-u2.json.gz";
    wait_for_object(&acme, unknown, Duration::from_secs(60)).await;
    let mut objects = acme.objects().await;
    objects.sort();
    assert_eq!(objects, vec![unknown.to_owned(), hive.to_owned()]);
    worker.stop().await;
}

/// The bytes of `key` in the customer's bucket once it is there.
async fn wait_for_object(customer: &Customer, key: &str, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    while !customer.objects().await.iter().any(|k| k == key) {
        assert!(Instant::now() < deadline, "{key} never arrived");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    customer.object(key).await
}

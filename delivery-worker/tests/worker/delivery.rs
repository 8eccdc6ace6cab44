//! Delivery end to end: staged file → queue → worker → the tenant's CloudWatch Logs and
//! S3, and the failure paths that must neither lose data nor loop.

use std::time::{Duration, Instant};

use logspoke_contract::ledger::Cause;
use logspoke_contract::replay::{ReplayMode, ReplayState};
use logspoke_contract::{DeliveryType, DesiredLogs, EffectiveState, ExternalId};

use crate::world::{
    acme_with_cloudwatch, line, metric, noisy_and_quiet, tenant, Customer, TwoTenants, World,
};

const HOUR_MS: i64 = 3_600_000;

#[tokio::test]
async fn a_file_reaches_cloudwatch_in_order_and_s3_and_its_message_is_deleted() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    world.put_item(&acme.item(&tenant, DeliveryType::S3, 2)).await;
    let worker = world.start_worker().await;

    // 12,000 events over 30 hours, written out of order, with multi-byte text and every
    // character the request body has to escape.
    const TAIL: &str = "— grüße ✓ \"q\" \\ tab\tnl\n\u{1}";
    let start = chrono::Utc::now().timestamp_millis() - 30 * HOUR_MS;
    let mut lines: Vec<String> = (0..12_000i64)
        .map(|i| line(start + i * 9_000, &format!("event {i:05} {TAIL}")))
        .collect();
    lines.swap(0, 11_999);
    lines.push("this line is not JSON".into());
    let key = format!("{tenant}/cluster-1/shop/checkout/pod-a/1700000000-u1.json.gz");
    world.stage(&key, &lines).await;

    let events = acme
        .wait_for_events("cluster-1/shop/checkout/pod-a", 12_000, Duration::from_secs(60))
        .await;
    assert_eq!(events.len(), 12_000);
    assert!(events.iter().all(|(_, m)| m.ends_with(TAIL)), "{:?}", events[0]);
    let mut sorted = events.clone();
    sorted.sort_by_key(|(ts, _)| *ts);
    assert_eq!(sorted.first().unwrap().1, format!("event 00000 {TAIL}"));
    assert!(
        world.wait_drained(Duration::from_secs(10)).await,
        "the message was not deleted"
    );
    assert_eq!(acme.objects().await, vec![format!("k8s/{key}")]);
    // Both targets were fed from one read of the staged object, the copy byte for byte.
    assert_eq!(acme.object(&format!("k8s/{key}")).await, world.staged(&key).await);
    assert_eq!(metric("logspoke_worker_aws_calls_total{api=\"GetObject\""), 1.0);
    // 12,000 events over 30 h need at least three calls (10,000 per call, 24 h per call).
    assert!(metric("logspoke_worker_put_log_events_calls_total") >= 3.0);
    assert_eq!(metric("logspoke_worker_bad_lines_total"), 1.0);
    worker.stop().await;
}

#[tokio::test]
async fn one_assume_role_serves_many_objects_of_a_tenant() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..6 {
        let key = format!("{tenant}/c1/app/pod-{i}/1700000000-{i}.json.gz");
        world.stage(&key, &[line(now, &format!("hello {i}"))]).await;
    }
    for i in 0..6 {
        let events = acme
            .wait_for_events(&format!("c1/app/pod-{i}"), 1, Duration::from_secs(30))
            .await;
        assert_eq!(events.len(), 1, "pod-{i}");
    }
    let assumed = metric(&format!(
        "logspoke_worker_assume_role_total{{tenant_id=\"{tenant}\"}}"
    ));
    assert_eq!(assumed, 1.0);
    worker.stop().await;
}

#[tokio::test]
async fn bad_keys_unknown_tenants_and_test_events_are_deleted_not_retried() {
    let world = World::create().await;
    let worker = world.start_worker().await;
    world.notify("acme//app/pod/f.json.gz").await;
    world.notify("not-a-layout.json.gz").await;
    world
        .notify(&format!("{}/c1/app/pod/1-u.json.gz", tenant()))
        .await;
    world
        .send_raw(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"staging"}"#)
        .await;
    world.send_raw("definitely not an event").await;
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert_eq!(metric("logspoke_worker_rejected_total{reason=\"bad_key\"}"), 2.0);
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"unknown_tenant\"}"),
        1.0
    );
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"bad_message\"}"),
        1.0
    );
    worker.stop().await;
}

#[tokio::test]
async fn objects_from_a_cluster_the_tenant_did_not_register_are_rejected_and_never_delivered() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();
    // A pod in another cluster (or one that forged the tenant's label) stages under
    // the tenant's prefix.
    world
        .stage(
            &format!("{tenant}/intruder/app/pod/1-forged.json.gz"),
            &[line(now, "forged")],
        )
        .await;
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"unregistered_cluster\"}"),
        1.0
    );
    // The registered cluster still delivers, and only its event is in the group.
    world
        .stage(
            &format!("{tenant}/c1/app/pod/1-real.json.gz"),
            &[line(now, "real")],
        )
        .await;
    let events = acme
        .wait_for_events("c1/app/pod", 1, Duration::from_secs(30))
        .await;
    assert_eq!(events.len(), 1);
    assert!(acme.events("intruder/app/pod").await.is_empty());
    worker.stop().await;
}

#[tokio::test]
async fn an_unreadable_config_item_holds_the_tenants_objects_instead_of_dropping_them() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let mut attributes = acme.item(&tenant, DeliveryType::Cloudwatch, 1).to_attributes();
    attributes.insert("role_arn".into(), logspoke_contract::Attr::S("not an arn".into()));
    world.put_attributes(&attributes).await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();
    world
        .stage(
            &format!("{tenant}/c1/app/pod/1-held.json.gz"),
            &[line(now, "held")],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric("logspoke_worker_objects_held_total{reason=\"unreadable_config\"}") < 1.0 {
        assert!(Instant::now() < deadline, "the object was not held");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"unknown_tenant\"}"),
        0.0
    );
    assert_eq!(world.queued().await, 1, "the message must stay queued");
    assert!(metric("logspoke_worker_invalid_config_items_total") >= 1.0);
    worker.stop().await;
}

#[tokio::test]
async fn a_tenant_with_a_broken_role_has_its_object_parked_and_others_still_receive_theirs() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let globex = Customer::create("333333333333").await;
    let (good, broken) = (tenant(), tenant());
    world
        .put_item(&acme.item(&good, DeliveryType::Cloudwatch, 1))
        .await;
    let mut wrong = globex.item(&broken, DeliveryType::Cloudwatch, 2);
    wrong.config.as_mut().unwrap().external_id = Some(ExternalId::generate());
    world.put_item(&wrong).await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();
    world
        .stage(
            &format!("{broken}/c1/app/pod/1-a.json.gz"),
            &[line(now, "for globex")],
        )
        .await;
    world
        .stage(
            &format!("{good}/c1/app/pod/1-b.json.gz"),
            &[line(now, "for acme")],
        )
        .await;

    let delivered = acme
        .wait_for_events("c1/app/pod", 1, Duration::from_secs(30))
        .await;
    assert_eq!(delivered.len(), 1);
    let parked = world
        .wait_for_health(&broken, DeliveryType::Cloudwatch, Duration::from_secs(20), |h| {
            h.parked_objects == 1
        })
        .await
        .expect("no health item for the broken target");
    assert_eq!(parked.parked_cause, Some(Cause::RoleNotAssumable));
    assert!(
        world.wait_drained(Duration::from_secs(10)).await,
        "parked, not retried"
    );
    assert!(globex.events("c1/app/pod").await.is_empty());
    assert!(
        metric(&format!(
            "logspoke_worker_delivery_failures_total{{tenant_id=\"{broken}\""
        )) >= 1.0
    );

    // The customer fixes the config (here: the right ExternalId, a new version): the
    // parked object drains.
    world
        .publish(&globex.item(&broken, DeliveryType::Cloudwatch, 3))
        .await;
    let delivered = globex
        .wait_for_events("c1/app/pod", 1, Duration::from_secs(30))
        .await;
    assert_eq!(delivered.len(), 1);
    worker.stop().await;
}

/// A pod chooses its application label but not its namespace: `sandbox`'s `payments`
/// neither passes a `prod/payments` allow-list nor reaches `prod`'s streams, and an
/// object staged before the namespace joined the key (its namespace unknown) does not
/// pass it either.
#[tokio::test]
async fn a_pod_cannot_pass_for_another_namespaces_application() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let mut item = acme.item(&tenant, DeliveryType::Cloudwatch, 2);
    item.config.as_mut().unwrap().desired_logs = DesiredLogs::parse(&["prod/payments".into()]).unwrap();
    world.put_item(&item).await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();

    let staged = [
        ("sandbox/payments", "forged"),
        ("payments", "namespace unknown"),
        ("prod/payments", "real"),
    ];
    for (n, (path, message)) in staged.into_iter().enumerate() {
        let key = format!("{tenant}/c1/{path}/payments-1/1-{n}.json.gz");
        world.stage(&key, &[line(now, message)]).await;
    }
    let events = acme
        .wait_for_events("c1/prod/payments/payments-1", 1, Duration::from_secs(30))
        .await;
    assert_eq!(
        events.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
        ["real"]
    );
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert!(acme.events("c1/sandbox/payments/payments-1").await.is_empty());
    assert!(acme.events("c1/payments/payments-1").await.is_empty());
    assert_eq!(acme.events("c1/prod/payments/payments-1").await.len(), 1);
    worker.stop().await;
}

/// Publishes `item` and waits until the running worker counts `applied` changes: at most 2 s.
async fn publish_within_two_seconds(world: &World, item: &logspoke_contract::ConfigItem, applied: f64) {
    let published = Instant::now();
    world.publish(item).await;
    while metric("logspoke_worker_config_changes_applied_total") < applied {
        assert!(
            published.elapsed() < Duration::from_secs(2),
            "change not applied within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn config_changes_reach_a_running_worker_within_two_seconds() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let tenant = tenant();
    let mut item = acme.item(&tenant, DeliveryType::Cloudwatch, 1);
    item.config.as_mut().unwrap().desired_logs = DesiredLogs::parse(&["billing".into()]).unwrap();
    world.put_item(&item).await;
    let worker = world.start_worker().await;
    let now = chrono::Utc::now().timestamp_millis();

    // Filtered out by desired_logs: deleted without delivery.
    world
        .stage(
            &format!("{tenant}/c1/checkout/pod/1-a.json.gz"),
            &[line(now, "skipped")],
        )
        .await;
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert!(acme.events("c1/checkout/pod").await.is_empty());

    // Widen the filter: the change event must reach the worker within 2 s.
    let mut widened = acme.item(&tenant, DeliveryType::Cloudwatch, 2);
    widened.config.as_mut().unwrap().desired_logs = DesiredLogs::default();
    publish_within_two_seconds(&world, &widened, 1.0).await;
    world
        .stage(
            &format!("{tenant}/c1/checkout/pod/1-b.json.gz"),
            &[line(now, "delivered")],
        )
        .await;
    let events = acme
        .wait_for_events("c1/checkout/pod", 1, Duration::from_secs(30))
        .await;
    assert_eq!(
        events.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
        ["delivered"]
    );

    // Disabling stops delivery.
    let mut disabled = acme.item(&tenant, DeliveryType::Cloudwatch, 3);
    disabled.config.as_mut().unwrap().state = EffectiveState::Disabled;
    publish_within_two_seconds(&world, &disabled, 2.0).await;
    world
        .stage(
            &format!("{tenant}/c1/checkout/pod/1-c.json.gz"),
            &[line(now, "not delivered")],
        )
        .await;
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert_eq!(acme.events("c1/checkout/pod").await.len(), 1);
    worker.stop().await;
}

#[tokio::test]
async fn a_truncated_file_is_rejected_with_a_reason_and_not_retried() {
    let (world, _acme, tenant) = acme_with_cloudwatch().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..2_000 {
        std::io::Write::write_all(
            &mut gz,
            format!("{}\n", line(1_795_341_600_000 + i, "x")).as_bytes(),
        )
        .unwrap();
    }
    let mut bytes = gz.finish().unwrap();
    bytes.truncate(bytes.len() / 2);
    let key = format!("{tenant}/c1/app/pod/1-cut.json.gz");
    crate::world::s3(&world.provider)
        .put_object()
        .bucket(&world.staging_bucket)
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let worker = world.start_worker().await;
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"unreadable_file\"}"),
        1.0
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_quiet_tenants_object_overtakes_another_tenants_backlog_through_the_overflow_lane() {
    let TwoTenants {
        world,
        noisy: (acme, noisy),
        quiet: (globex, quiet),
    } = noisy_and_quiet().await;
    // The emulator's queue is strictly FIFO: 60 objects of one tenant, then one of another.
    let now = chrono::Utc::now().timestamp_millis();
    for n in 0..60 {
        let lines: Vec<String> = (0..50)
            .map(|i| line(now + i, &format!("noisy {n} {i}")))
            .collect();
        world
            .stage(&format!("{noisy}/c1/app/p{n:02}/1-n.json.gz"), &lines)
            .await;
    }
    world
        .stage(&format!("{quiet}/c1/app/pod/1-q.json.gz"), &[line(now, "quiet")])
        .await;
    let worker = world
        .start_worker_with(|config| {
            config.overflow_queue_url = Some(world.overflow_queue_url.clone());
            config.poll.max_in_flight = 2;
            config.poll.tenant_share = 1;
        })
        .await;
    let delivered = globex
        .wait_for_events("c1/app/pod", 1, Duration::from_secs(30))
        .await;
    assert_eq!(delivered.len(), 1);
    // When the quiet object arrived, most of the backlog had not: it had been moved aside.
    let noisy_done = metric(&format!(
        "logspoke_worker_objects_delivered_total{{tenant_id=\"{noisy}\""
    ));
    assert!(
        noisy_done < 50.0,
        "{noisy_done} of 60 backlog objects arrived first"
    );
    assert!(metric("logspoke_worker_messages_diverted_total") >= 1.0);
    // And the backlog still arrives, every object once.
    for n in 0..60 {
        let events = acme
            .wait_for_events(&format!("c1/app/p{n:02}"), 50, Duration::from_secs(60))
            .await;
        assert_eq!(events.len(), 50, "object {n}");
    }
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    worker.stop().await;
}

#[tokio::test]
async fn a_gzip_bomb_is_rejected_as_too_large_and_the_next_object_still_arrives() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    // 8 MiB of one repeated line gzips to some 40 KiB; the worker may decode 1 MiB.
    let worker = world
        .start_worker_with(|config| config.bounds.max_object_bytes = 1 << 20)
        .await;
    let now = chrono::Utc::now().timestamp_millis();
    let bomb: Vec<String> = (0..100_000).map(|_| line(now, &"x".repeat(64))).collect();
    world
        .stage(&format!("{tenant}/c1/app/bomb/1-bomb.json.gz"), &bomb)
        .await;
    let fine: Vec<String> = (0..20).map(|i| line(now + i, &format!("fine {i}"))).collect();
    world
        .stage(&format!("{tenant}/c1/app/fine/2-fine.json.gz"), &fine)
        .await;
    let events = acme
        .wait_for_events("c1/app/fine", 20, Duration::from_secs(30))
        .await;
    assert_eq!(events.len(), 20);
    assert!(
        world.wait_drained(Duration::from_secs(20)).await,
        "the bomb's message stayed"
    );
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"too_large\"}"),
        1.0
    );
    // Cut off at the limit: at most the first MiB of it went out.
    let sent = acme.events("c1/app/bomb").await.len();
    assert!(sent < 100_000 / 8, "{sent} events of the bomb were delivered");
    worker.stop().await;
}

#[tokio::test]
async fn a_worker_killed_mid_object_loses_no_events() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let start = chrono::Utc::now().timestamp_millis() - HOUR_MS;
    let lines: Vec<String> = (0..200_000i64)
        .map(|i| line(start + i, &format!("event {i:07}")))
        .collect();
    let short = |config: &mut logspoke_delivery_worker::config::WorkerConfig| {
        config.poll.visibility = Duration::from_secs(4);
    };
    let first = world.start_worker_with(short).await;
    world
        .stage(&format!("{tenant}/c1/app/pod/1-big.json.gz"), &lines)
        .await;
    // Kill it as soon as the first batch went out: mid-object.
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric("logspoke_worker_put_log_events_calls_total") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the worker never started on the object"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    first.kill().await;
    let delivered = metric("logspoke_worker_events_delivered_total");
    assert!(
        delivered < 200_000.0,
        "the worker finished before it was killed ({delivered} events)"
    );

    let second = world.start_worker_with(short).await;
    assert!(world.wait_drained(Duration::from_secs(60)).await);
    let events = acme.events("c1/app/pod").await;
    let unique: std::collections::BTreeSet<&str> = events.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(unique.len(), 200_000, "events were lost");
    // The second worker resumed after the last batch the ledger recorded as acknowledged:
    // at most the batch in flight when the first one died (≤ 10,000 events) came twice.
    let duplicates = events.len() - 200_000;
    eprintln!("killed mid-object: {duplicates} duplicate events of 200000");
    assert!(
        duplicates <= 10_000,
        "{duplicates} duplicates: more than one batch"
    );
    assert!(metric("logspoke_worker_redeliveries_total") >= 1.0);
    second.stop().await;
}

/// `count` lines of file `file`, one millisecond apart, all files in one hour.
fn file_lines(start_ms: i64, file: usize, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let n = file * count + i;
            line(start_ms + n as i64, &format!("file {file:02} line {i:03}"))
        })
        .collect()
}

#[tokio::test]
async fn a_target_that_fails_alone_gets_the_object_later_and_the_other_receives_it_once() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    world.put_item(&acme.item(&tenant, DeliveryType::S3, 1)).await;
    // The customer deletes their bucket: S3 refuses, CloudWatch still works.
    crate::world::s3(&acme.sdk)
        .delete_bucket()
        .bucket(&acme.bucket)
        .send()
        .await
        .unwrap();
    let worker = world.start_worker().await;
    let start = chrono::Utc::now().timestamp_millis() - HOUR_MS;
    let key = format!("{tenant}/c1/app/pod/1-partial.json.gz");
    world.stage(&key, &file_lines(start, 0, 500)).await;
    assert!(
        acme.wait_for_events("c1/app/pod", 500, Duration::from_secs(20))
            .await
            .len()
            >= 500
    );
    let failing = world
        .wait_for_health(&tenant, DeliveryType::S3, Duration::from_secs(20), |h| {
            h.parked_objects == 1
        })
        .await
        .expect("no health item for the S3 target");
    assert_eq!(failing.parked_cause, Some(Cause::BucketMissing));
    assert!(
        world.wait_drained(Duration::from_secs(20)).await,
        "the message was not deleted"
    );

    // The bucket is back: the worker's probe drains the parked object.
    logspoke_test_support::create_bucket(&acme.sdk, &acme.bucket).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while acme.objects().await.is_empty() {
        assert!(Instant::now() < deadline, "the parked object never reached S3");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(acme.objects().await, [format!("k8s/{key}")]);
    let healthy = world
        .wait_for_health(&tenant, DeliveryType::S3, Duration::from_secs(10), |h| {
            h.parked_objects == 0
        })
        .await
        .unwrap();
    assert_eq!(healthy.parked_objects, 0);
    // CloudWatch had the object: nothing was sent to it twice.
    let events = acme.events("c1/app/pod").await;
    eprintln!(
        "partial failure: {} duplicate CloudWatch events",
        events.len() - 500
    );
    assert_eq!(events.len(), 500);
    worker.stop().await;
}

#[tokio::test]
async fn a_deleted_log_group_parks_the_files_and_each_event_arrives_once_in_order_when_it_is_back() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&acme.sdk);
    logs.delete_log_group()
        .log_group_name(&acme.log_group)
        .send()
        .await
        .unwrap();
    let worker = world.start_worker().await;
    let start = chrono::Utc::now().timestamp_millis() - HOUR_MS;
    for file in 0..20 {
        let key = format!("{tenant}/c1/app/pod/{}-{file:02}.json.gz", 1_795_341_600 + file);
        world.stage(&key, &file_lines(start, file as usize, 50)).await;
    }
    let failing = world
        .wait_for_health(&tenant, DeliveryType::Cloudwatch, Duration::from_secs(40), |h| {
            h.parked_objects == 20
        })
        .await
        .expect("no health item");
    assert_eq!(failing.parked_objects, 20, "{failing:?}");
    assert_eq!(failing.parked_cause, Some(Cause::LogGroupMissing));
    let state = failing.state(EffectiveState::Active, chrono::Utc::now().timestamp_millis());
    assert_eq!(state, logspoke_contract::ledger::HealthState::Failing);
    // Parked, not retried: every message is gone from the queue, none can reach a DLQ.
    assert!(world.wait_drained(Duration::from_secs(20)).await);

    logs.create_log_group()
        .log_group_name(&acme.log_group)
        .send()
        .await
        .unwrap();
    let events = acme
        .wait_for_events("c1/app/pod", 1_000, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events_after = acme.events("c1/app/pod").await;
    assert_eq!(events.len(), 1_000, "every event once");
    assert_eq!(events_after.len(), 1_000, "no event twice");
    let messages: Vec<&str> = events.iter().map(|(_, m)| m.as_str()).collect();
    let expected: Vec<String> = (0..20)
        .flat_map(|f| (0..50).map(move |i| format!("file {f:02} line {i:03}")))
        .collect();
    assert_eq!(messages, expected, "in order");
    let drained = world
        .wait_for_health(&tenant, DeliveryType::Cloudwatch, Duration::from_secs(10), |h| {
            h.parked_objects == 0 && h.consecutive_failures == 0
        })
        .await
        .unwrap();
    assert!(drained.last_delivered_at_ms.is_some());
    assert_eq!(
        drained.parked_cause, None,
        "nothing is parked: the next object parked names its own cause"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_replay_job_backfills_the_window_once_and_a_second_one_finds_nothing_missing() {
    let (world, acme, tenant) = acme_with_cloudwatch().await;
    let mut disabled = acme.item(&tenant, DeliveryType::Cloudwatch, 2);
    disabled.config.as_mut().unwrap().state = EffectiveState::Disabled;
    world.put_item(&disabled).await;
    let worker = world.start_worker().await;
    let now_s = chrono::Utc::now().timestamp();
    let start = (now_s - 1800) * 1000;
    for file in 0..5 {
        let key = format!(
            "{tenant}/c1/app/pod/{}-{file:02}.json.gz",
            now_s - 1800 + file * 60
        );
        world.stage(&key, &file_lines(start, file as usize, 20)).await;
    }
    assert!(world.wait_drained(Duration::from_secs(20)).await);
    assert!(
        acme.events("c1/app/pod").await.is_empty(),
        "skipped while disabled"
    );
    world
        .publish(&acme.item(&tenant, DeliveryType::Cloudwatch, 3))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let window = (now_s - 3600) * 1000..(now_s + 60) * 1000;
    let first = world.replay(&tenant, ReplayMode::Missing, window.clone()).await;
    assert_eq!(first.state, ReplayState::Done, "{first:?}");
    assert_eq!(
        (first.objects_total, first.objects_done, first.objects_skipped),
        (5, 5, 0)
    );
    let events = acme.events("c1/app/pod").await;
    let expected: Vec<String> = (0..5)
        .flat_map(|f| (0..20).map(move |i| format!("file {f:02} line {i:03}")))
        .collect();
    assert_eq!(
        events.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        expected
    );

    let second = world.replay(&tenant, ReplayMode::Missing, window.clone()).await;
    assert_eq!((second.objects_done, second.objects_skipped), (5, 5));
    assert_eq!(acme.events("c1/app/pod").await.len(), 100, "nothing sent twice");

    let all = world.replay(&tenant, ReplayMode::All, window).await;
    assert_eq!((all.state, all.objects_skipped), (ReplayState::Done, 0));
    assert_eq!(
        acme.wait_for_events("c1/app/pod", 200, Duration::from_secs(10))
            .await
            .len(),
        200
    );
    worker.stop().await;
}

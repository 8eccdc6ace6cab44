//! The Lambda handler in process against the emulator: real AWS calls, the function as a
//! cold start builds it, batches as the event source mapping sends them.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use logspoke_contract::{DeliveryType, EffectiveState, ExternalId};
use logspoke_delivery_worker::lambda::environment::{lambda_function, LambdaFunction};

use crate::world::{
    acme_with_cloudwatch, line, metric, noisy_and_quiet, tenant, Customer, TwoTenants, World,
};

/// A batch of the delivery queue with these bodies, message ids `m0`, `m1`, ….
fn batch(bodies: &[String]) -> SqsEvent {
    let receipts: Vec<String> = (0..bodies.len()).map(|i| format!("r{i}")).collect();
    batch_with(bodies, &receipts)
}

/// [`batch`] with these receipt handles.
fn batch_with(bodies: &[String], receipts: &[String]) -> SqsEvent {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .zip(receipts)
        .enumerate()
        .map(|(i, (body, receipt))| {
            serde_json::json!({
                "messageId": format!("m{i}"), "receiptHandle": receipt, "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "awsRegion": "eu-west-1",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn failed(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

async fn function(world: &World) -> LambdaFunction {
    // The metrics recorder, as the entrypoint installs it first.
    logspoke_delivery_worker::telemetry::metrics_handle();
    lambda_function(&world.worker_config(), &world.provider)
        .await
        .unwrap()
}

fn in_a_minute() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn a_batch_reports_exactly_the_messages_the_poller_would_retry_and_delivers_the_rest_once() {
    let world = World::create().await;
    let acme = Customer::create("222222222222").await;
    let globex = Customer::create("333333333333").await;
    let (good, broken, held) = (tenant(), tenant(), tenant());
    world
        .put_item(&acme.item(&good, DeliveryType::Cloudwatch, 1))
        .await;
    let mut wrong = globex.item(&broken, DeliveryType::Cloudwatch, 1);
    wrong.config.as_mut().unwrap().external_id = Some(ExternalId::generate());
    world.put_item(&wrong).await;
    let mut unreadable = acme.item(&held, DeliveryType::Cloudwatch, 1).to_attributes();
    unreadable.insert("role_arn".into(), logspoke_contract::Attr::S("not an arn".into()));
    world.put_attributes(&unreadable).await;

    let now = chrono::Utc::now().timestamp_millis();
    let mut bodies = vec![world.event_body(&format!("{}/c1/app/pod/1-nobody.json.gz", tenant()))];
    let poison = format!("{good}/c1/app/poison/1-p.json.gz");
    world
        .stage_raw(&poison, b"this is not a gzip file".to_vec())
        .await;
    bodies.push(world.event_body(&poison));
    let denied = format!("{broken}/c1/app/pod/1-d.json.gz");
    world.stage(&denied, &[line(now, "for globex")]).await;
    bodies.push(world.event_body(&denied));
    let kept = format!("{held}/c1/app/pod/1-h.json.gz");
    world.stage(&kept, &[line(now, "held back")]).await;
    // This one as the queue delivered it: its retry must come back soon.
    let (held_receipt, held_body) = world
        .receive_for(&kept, Duration::from_secs(10))
        .await
        .expect("the staging bucket did not announce the object");
    bodies.push(held_body);
    for pod in 0..6 {
        let key = format!("{good}/c1/app/pod-{pod}/1-g.json.gz");
        let lines: Vec<String> = (0..100)
            .map(|i| line(now + i, &format!("pod {pod} event {i}")))
            .collect();
        world.stage(&key, &lines).await;
        bodies.push(world.event_body(&key));
    }
    assert_eq!(bodies.len(), 10);
    let mut receipts: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    receipts[3] = held_receipt;
    let event = batch_with(&bodies, &receipts);

    let function = function(&world).await;
    let response = function.handle(&event, in_a_minute()).await.unwrap();
    // Unknown tenant, poison file (rejected) and denied role (parked) are done with;
    // only the tenant whose config cannot be read is held back for a retry.
    assert_eq!(failed(&response), ["m3"]);
    // Visible again after the retry delay (1 s here), not the queue's visibility timeout.
    assert!(
        world.receive_for(&kept, Duration::from_secs(5)).await.is_some(),
        "the held message did not come back for a retry"
    );
    for pod in 0..6 {
        let events = acme.events(&format!("c1/app/pod-{pod}")).await;
        assert_eq!(events.len(), 100, "pod-{pod}");
    }
    assert!(globex.events("c1/app/pod").await.is_empty());
    let parked = world
        .wait_for_health(&broken, DeliveryType::Cloudwatch, Duration::from_secs(10), |h| {
            h.parked_objects == 1
        })
        .await;
    assert!(parked.is_some(), "the denied target's object was not parked");

    // The same batch again (the mapping redelivers it): nothing is sent twice.
    let again = function.handle(&event, in_a_minute()).await.unwrap();
    assert_eq!(failed(&again), ["m3"]);
    for pod in 0..6 {
        let events = acme.events(&format!("c1/app/pod-{pod}")).await;
        assert_eq!(events.len(), 100, "pod-{pod} after the redelivery");
    }
}

#[tokio::test]
async fn what_the_deadline_leaves_unfinished_is_reported_failed_and_delivered_by_the_retry() {
    let (world, acme, good) = acme_with_cloudwatch().await;
    let now = chrono::Utc::now().timestamp_millis();
    let key = format!("{good}/c1/app/pod/1-late.json.gz");
    world.stage(&key, &[line(now, "late")]).await;
    let event = batch(&[world.event_body(&key)]);
    let function = function(&world).await;

    // No time left: nothing is attempted, the message is reported.
    let response = function.handle(&event, Instant::now()).await.unwrap();
    assert_eq!(failed(&response), ["m0"]);
    let retried = function.handle(&event, in_a_minute()).await.unwrap();
    assert!(failed(&retried).is_empty());
    assert_eq!(acme.events("c1/app/pod").await.len(), 1);
}

#[tokio::test]
async fn a_config_change_takes_effect_within_two_seconds_without_a_subscription() {
    let (world, acme, good) = acme_with_cloudwatch().await;
    let function = function(&world).await;
    let now = chrono::Utc::now().timestamp_millis();
    let first = format!("{good}/c1/app/pod/1-before.json.gz");
    world.stage(&first, &[line(now, "before")]).await;
    let response = function
        .handle(&batch(&[world.event_body(&first)]), in_a_minute())
        .await;
    assert!(failed(&response.unwrap()).is_empty());
    assert_eq!(acme.events("c1/app/pod").await.len(), 1);

    // The tenant disables the config; the read model has it, no event reaches us.
    let mut disabled = acme.item(&good, DeliveryType::Cloudwatch, 2);
    disabled.config.as_mut().unwrap().state = EffectiveState::Disabled;
    world.put_item(&disabled).await;
    let changed = Instant::now();
    let second = format!("{good}/c1/app/pod/1-after.json.gz");
    world.stage(&second, &[line(now, "after")]).await;
    tokio::time::sleep(Duration::from_millis(1200).saturating_sub(changed.elapsed())).await;
    let response = function
        .handle(&batch(&[world.event_body(&second)]), in_a_minute())
        .await;
    assert!(failed(&response.unwrap()).is_empty());
    assert_eq!(
        acme.events("c1/app/pod").await.len(),
        1,
        "delivered through a disabled config"
    );
}

#[tokio::test]
async fn a_message_that_is_no_event_is_deleted_and_counted_once() {
    let (world, _acme, _tenant) = acme_with_cloudwatch().await;
    let function = function(&world).await;
    let response = function
        .handle(&batch(&["definitely not an event".to_owned()]), in_a_minute())
        .await;
    assert!(failed(&response.unwrap()).is_empty());
    assert_eq!(
        metric("logspoke_worker_rejected_total{reason=\"bad_message\""),
        1.0
    );
}

#[tokio::test]
async fn a_batch_moves_every_message_of_a_tenant_past_its_share_to_the_overflow_lane() {
    let TwoTenants {
        world,
        noisy: (acme, noisy),
        quiet: (globex, quiet),
    } = noisy_and_quiet().await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut bodies = Vec::new();
    for pod in 0..6 {
        let key = format!("{noisy}/c1/app/pod-{pod}/1-n.json.gz");
        world.stage(&key, &[line(now, &format!("noisy {pod}"))]).await;
        bodies.push(world.event_body(&key));
    }
    let key = format!("{quiet}/c1/app/pod/1-q.json.gz");
    world.stage(&key, &[line(now, "quiet")]).await;
    bodies.push(world.event_body(&key));

    let mut config = world.worker_config();
    config.overflow_queue_url = Some(world.overflow_queue_url.clone());
    config.poll.tenant_share = 2;
    logspoke_delivery_worker::telemetry::metrics_handle();
    let function = lambda_function(&config, &world.provider).await.unwrap();
    let response = function.handle(&batch(&bodies), in_a_minute()).await.unwrap();
    // Nothing to retry: the quiet tenant's object was delivered; the noisy tenant, with
    // more than its share (two) of the batch, has a backlog: all six moved to the overflow
    // lane, so a batch of a backlog costs the function only the move.
    assert_eq!(failed(&response), Vec::<String>::new());
    assert_eq!(globex.events("c1/app/pod").await.len(), 1);
    let mut arrived = 0;
    for pod in 0..6 {
        arrived += usize::from(!acme.events(&format!("c1/app/pod-{pod}")).await.is_empty());
    }
    assert_eq!(arrived, 0);
    assert_eq!(world.depth(&world.overflow_queue_url).await, 6);
    // A batch of the overflow lane is delivered, none of it moved again.
    let mut moved = Vec::new();
    while moved.len() < 6 {
        let messages = aws_sdk_sqs::Client::new(&world.provider)
            .receive_message()
            .queue_url(&world.overflow_queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        moved.extend(
            messages
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
    }
    let mut from_overflow = batch(&moved);
    for record in &mut from_overflow.records {
        let name = world.overflow_queue_url.rsplit('/').next().unwrap();
        record.event_source_arn = Some(format!("arn:aws:sqs:eu-west-1:111111111111:{name}"));
    }
    let response = function.handle(&from_overflow, in_a_minute()).await.unwrap();
    assert_eq!(failed(&response), Vec::<String>::new());
    let mut arrived = 0;
    for pod in 0..6 {
        arrived += usize::from(!acme.events(&format!("c1/app/pod-{pod}")).await.is_empty());
    }
    assert_eq!(arrived, 6);
}

//! The ledger rules of the pipeline with an in-memory ledger and a scripted deliverer:
//! nothing re-sent to a target that has it, customer-side failures parked and drained in
//! order, progress resumed only under the same config version.

use std::sync::Arc;
use std::time::Duration;

use logspoke_contract::ledger::{Cause, ObjectState, Target};
use logspoke_contract::{
    BucketName, BucketPrefix, ClusterId, ConfigItem, DeliveryTarget, DeliveryType, DesiredLogs,
    EffectiveState, ExternalId, LiveConfig, LogGroupName, ObjectKey, Region, RoleArn, TenantId,
};

use super::drain::Drain;
use super::fake::FakeDeliverer;
use super::*;
use crate::ledger::in_memory::InMemoryLedger;

const TENANT: &str = "acme";

fn item(kind: DeliveryType, version: i64, state: EffectiveState) -> ConfigItem {
    let target = match kind {
        DeliveryType::Cloudwatch => DeliveryTarget::CloudWatch {
            log_group_name: LogGroupName::parse("/logs").unwrap(),
            log_stream_template: None,
        },
        DeliveryType::S3 => DeliveryTarget::S3 {
            bucket_name: BucketName::parse("tenant-logs").unwrap(),
            bucket_prefix: BucketPrefix::parse("").unwrap(),
        },
    };
    ConfigItem {
        tenant_id: TenantId::parse(TENANT).unwrap(),
        delivery_type: kind,
        version,
        delivery_version: version,
        config: Some(LiveConfig {
            state,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/Delivery").unwrap(),
            external_id: Some(ExternalId::generate()),
            desired_logs: DesiredLogs::default(),
            target,
            clusters: [ClusterId::parse("c1").unwrap()].into_iter().collect(),
            filter: logspoke_contract::Filter::default(),
            message_format: logspoke_contract::MessageFormat::default(),
            key_layout: logspoke_contract::KeyLayout::default(),
            storage_class: None,
            kms_key_arn: None,
        }),
        updated_at: "2026-11-22T10:00:00.000Z".into(),
    }
}

fn both_active() -> Arc<TenantConfigs> {
    let configs = TenantConfigs::default();
    configs.apply(item(DeliveryType::Cloudwatch, 1, EffectiveState::Active));
    configs.apply(item(DeliveryType::S3, 1, EffectiveState::Active));
    Arc::new(configs)
}

type TestPipeline = Pipeline<Arc<FakeDeliverer>, InMemoryLedger>;

fn pipeline(configs: Arc<TenantConfigs>, deliverer: &Arc<FakeDeliverer>) -> TestPipeline {
    Pipeline::new(
        configs,
        deliverer.clone(),
        InMemoryLedger::default(),
        Arc::default(),
        Retention::default(),
    )
}

fn object(n: u32) -> StagedObject {
    // Staged ten days ago (inside the default retention), one second apart.
    let staged_s = 1_795_341_600 + i64::from(n);
    let key = format!("{TENANT}/c1/ns/app/pod/{staged_s}-{n:03}.json.gz");
    StagedObject {
        bucket: "staging".into(),
        layout: ObjectKey::parse(&key).unwrap(),
        key,
        event_time_ms: Some(staged_s * 1000 + 250),
    }
}

fn target(kind: DeliveryType) -> Target {
    Target::new(TenantId::parse(TENANT).unwrap(), kind)
}

fn bucket_missing() -> Result<Delivered, TargetError> {
    Err(TargetError::Customer(Cause::BucketMissing, "NoSuchBucket".into()))
}

/// What the CloudWatch sink answers when the customer's account throttles it past the
/// sink's quick retries.
fn throttled() -> Result<Delivered, TargetError> {
    Err(TargetError::Customer(
        Cause::Throttled,
        "logs:PutLogEvents: ThrottlingException".into(),
    ))
}

fn outage() -> Result<Delivered, TargetError> {
    Err(TargetError::Transient(
        Cause::AwsUnavailable,
        "ServiceUnavailable".into(),
    ))
}

#[tokio::test]
async fn a_redelivered_message_re_sends_only_to_the_target_that_failed() {
    let deliverer = Arc::new(FakeDeliverer::default().then(TENANT, DeliveryType::S3, vec![outage()]));
    let pipeline = pipeline(both_active(), &deliverer);
    let object = object(1);
    assert_eq!(pipeline.deliver(&object).await, Outcome::Retry);
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::Cloudwatch).len(),
        1,
        "CloudWatch had it"
    );
    assert_eq!(deliverer.keys(TENANT, DeliveryType::S3).len(), 2);
    // A third delivery of the same message sends nothing at all.
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    assert_eq!(deliverer.calls.lock().unwrap().len(), 3);
    let record = pipeline
        .ledger()
        .record_of(&target(DeliveryType::S3), &object.key)
        .unwrap();
    assert!(
        matches!(record.state, ObjectState::Delivered { .. }),
        "{record:?}"
    );
    // One batched read per object, one write per target (CloudWatch's progress write
    // covers its one batch, then the final record).
    let calls = pipeline.ledger().calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| **c == "lookup").count(), 3);
}

#[tokio::test]
async fn an_object_with_two_targets_is_read_once_for_both() {
    let deliverer = Arc::new(FakeDeliverer::default().then(TENANT, DeliveryType::S3, vec![outage()]));
    let pipeline = pipeline(both_active(), &deliverer);
    let object = object(1);
    assert_eq!(pipeline.deliver(&object).await, Outcome::Retry);
    assert_eq!(
        deliverer.calls.lock().unwrap().len(),
        2,
        "both targets were sent to"
    );
    assert_eq!(
        *deliverer.reads.lock().unwrap(),
        std::slice::from_ref(&object.key)
    );
    // The retry reads it again, for the one target that still needs it.
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    assert_eq!(deliverer.reads.lock().unwrap().len(), 2);
    assert_eq!(deliverer.keys(TENANT, DeliveryType::S3).len(), 2);
}

#[tokio::test]
async fn a_customer_side_failure_parks_the_object_and_the_other_target_still_gets_it() {
    let deliverer = Arc::new(FakeDeliverer::default().always(TENANT, DeliveryType::S3, bucket_missing()));
    let pipeline = pipeline(both_active(), &deliverer);
    assert_eq!(
        pipeline.deliver(&object(1)).await,
        Outcome::Done,
        "parked, not retried"
    );
    let parked = pipeline
        .ledger()
        .parked(&target(DeliveryType::S3), 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].cause, Cause::BucketMissing);
    assert_eq!(deliverer.keys(TENANT, DeliveryType::Cloudwatch).len(), 1);

    // Later objects queue behind the parked one without a call to the failing target.
    for n in 2..=4 {
        assert_eq!(pipeline.deliver(&object(n)).await, Outcome::Done);
    }
    assert_eq!(deliverer.keys(TENANT, DeliveryType::S3).len(), 1);
    assert_eq!(deliverer.keys(TENANT, DeliveryType::Cloudwatch).len(), 4);
    let parked = pipeline
        .ledger()
        .parked(&target(DeliveryType::S3), 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 4);
}

#[tokio::test]
async fn parked_objects_drain_in_staged_order_once_the_target_works_again() {
    let deliverer = Arc::new(FakeDeliverer::default().then(
        TENANT,
        DeliveryType::S3,
        vec![bucket_missing(), bucket_missing()],
    ));
    let pipeline = pipeline(both_active(), &deliverer);
    for n in [3, 1, 2] {
        pipeline.deliver(&object(n)).await;
    }
    let s3 = target(DeliveryType::S3);
    let (version, config) = pipeline.configs.config(&s3.tenant_id, DeliveryType::S3).unwrap();
    // The probe still fails: everything stays parked.
    assert_eq!(
        pipeline.drain(&s3, version, &config).await,
        Drain::Blocked(Cause::BucketMissing)
    );
    assert_eq!(pipeline.ledger().parked(&s3, 10).await.unwrap().len(), 3);
    // The bucket is back: all three go out, oldest staged first, and nothing is left.
    assert_eq!(pipeline.drain(&s3, version, &config).await, Drain::Drained(3));
    let sent = deliverer.keys(TENANT, DeliveryType::S3);
    let drained = &sent[sent.len() - 3..];
    assert_eq!(drained, [object(1).key, object(2).key, object(3).key]);
    assert!(pipeline.ledger().parked(&s3, 10).await.unwrap().is_empty());
    // A redelivery of one of them now finds it delivered.
    let before = deliverer.calls.lock().unwrap().len();
    assert_eq!(pipeline.deliver(&object(2)).await, Outcome::Done);
    assert_eq!(deliverer.calls.lock().unwrap().len(), before);
}

#[tokio::test]
async fn an_unverified_config_parks_its_objects_until_it_is_active() {
    let configs = TenantConfigs::default();
    configs.apply(item(DeliveryType::S3, 1, EffectiveState::PendingVerification));
    let configs = Arc::new(configs);
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(configs.clone(), &deliverer);
    assert_eq!(pipeline.deliver(&object(1)).await, Outcome::Done);
    assert!(deliverer.calls.lock().unwrap().is_empty());
    let s3 = target(DeliveryType::S3);
    let parked = pipeline.ledger().parked(&s3, 10).await.unwrap();
    assert_eq!(parked[0].cause, Cause::AwaitingVerification);

    configs.apply(item(DeliveryType::S3, 2, EffectiveState::Active));
    let drainer = super::drain::Drainer::new("me".into(), Duration::from_secs(60), Duration::from_secs(900));
    drainer.tick(&pipeline).await;
    assert_eq!(deliverer.keys(TENANT, DeliveryType::S3), [object(1).key]);
    assert!(pipeline.ledger().parked(&s3, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_parked_object_past_the_staging_retention_is_reported_expired() {
    let deliverer = Arc::new(FakeDeliverer::default().then(TENANT, DeliveryType::S3, vec![bucket_missing()]));
    let mut pipeline = pipeline(both_active(), &deliverer);
    pipeline.deliver(&object(1)).await;
    pipeline.retention = Retention {
        staging: Duration::from_secs(60),
    };
    let s3 = target(DeliveryType::S3);
    let (version, config) = pipeline.configs.config(&s3.tenant_id, DeliveryType::S3).unwrap();
    assert_eq!(pipeline.drain(&s3, version, &config).await, Drain::Drained(1));
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::S3).len(),
        1,
        "never sent again"
    );
    let record = pipeline.ledger().record_of(&s3, &object(1).key).unwrap();
    assert_eq!(
        record.state,
        ObjectState::Rejected {
            reason: "expired".into()
        }
    );
}

#[test]
fn progress_resumes_only_under_the_same_config_version() {
    let record = ObjectRecord {
        target: target(DeliveryType::Cloudwatch),
        object_key: object(1).key,
        config_version: 4,
        state: ObjectState::InProgress {
            batches: 3,
            events: 30_000,
        },
        updated_at_ms: 0,
        expires_at: 0,
    };
    assert_eq!(
        resume_from(Some(&record), 4),
        Resume {
            batches: 3,
            events: 30_000
        }
    );
    assert_eq!(resume_from(Some(&record), 5), Resume::default());
    assert_eq!(resume_from(None, 4), Resume::default());
}

#[tokio::test]
async fn a_failed_attempt_resumes_after_the_acknowledged_batches() {
    // An earlier attempt had two batches acknowledged: the next one starts after them.
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(both_active(), &deliverer);
    let object = object(1);
    let cw = target(DeliveryType::Cloudwatch);
    let in_progress = ObjectRecord {
        target: cw.clone(),
        object_key: object.key.clone(),
        config_version: 1,
        state: ObjectState::InProgress {
            batches: 2,
            events: 20_000,
        },
        updated_at_ms: now_ms(),
        expires_at: 0,
    };
    pipeline.ledger().record(&in_progress).await.unwrap();
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    let calls = deliverer.calls.lock().unwrap().clone();
    let resumed = calls
        .iter()
        .find(|(_, kind, _, _)| *kind == DeliveryType::Cloudwatch)
        .unwrap()
        .3;
    assert_eq!(
        resumed,
        Resume {
            batches: 2,
            events: 20_000
        }
    );
}

/// A deliverer that acknowledges the first batch of each target, then never answers
/// again: a destination throttling without end, or an object that takes forever.
struct Stalling;

impl Deliverer for Stalling {
    async fn deliver<P: Progress>(
        &self,
        _: &StagedObject,
        attempts: &[Attempt<'_, P>],
    ) -> Vec<Result<Delivered, TargetError>> {
        for attempt in attempts {
            attempt.progress.acked(1, 10_000).await;
        }
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_attempt_past_its_time_budget_is_stopped_and_retried_after_what_it_acknowledged() {
    let pipeline = Pipeline::new(
        both_active(),
        Stalling,
        InMemoryLedger::default(),
        Arc::default(),
        Retention::default(),
    )
    .with_attempt_budget(Duration::from_millis(50));
    let object = object(1);
    let done = tokio::time::timeout(Duration::from_secs(30), pipeline.deliver(&object)).await;
    assert_eq!(done, Ok(Outcome::Retry), "the attempt must end at its budget");
    let cw = target(DeliveryType::Cloudwatch);
    let record = pipeline.ledger().record_of(&cw, &object.key).unwrap();
    assert_eq!(
        record.state,
        ObjectState::InProgress {
            batches: 1,
            events: 10_000
        },
        "what it acknowledged stays recorded, so the retry resumes after it"
    );
    let health = pipeline.health();
    health.flush(pipeline.ledger()).await;
    let reports = pipeline.ledger().reports.lock().unwrap().clone();
    let (error, _) = reports[0].failed.clone().unwrap();
    assert!(error.message.contains("time budget"), "{}", error.message);
}

#[tokio::test]
async fn a_throttled_object_is_parked_not_retried_and_drains_once_the_account_accepts() {
    // The customer's account keeps throttling CloudWatch through the sink's quick retries.
    let deliverer = Arc::new(FakeDeliverer::default().then(
        TENANT,
        DeliveryType::Cloudwatch,
        vec![throttled(), throttled(), throttled()],
    ));
    let pipeline = pipeline(both_active(), &deliverer);
    assert_eq!(
        pipeline.deliver(&object(1)).await,
        Outcome::Done,
        "the message is deleted: the object waits parked, never in the provider's DLQ"
    );
    // The next object still tries (live traffic goes on at the rate the account accepts,
    // not one object at a time through the drain) and parks when throttled too.
    assert_eq!(pipeline.deliver(&object(2)).await, Outcome::Done);
    let cw = target(DeliveryType::Cloudwatch);
    let parked = pipeline.ledger().parked(&cw, 10).await.unwrap();
    assert_eq!(parked.len(), 2);
    assert!(parked.iter().all(|p| p.cause == Cause::Throttled));
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::Cloudwatch),
        [object(1).key, object(2).key]
    );
    let (version, config) = pipeline
        .configs
        .config(&cw.tenant_id, DeliveryType::Cloudwatch)
        .unwrap();
    // Still throttled at the first probe: it stays parked.
    assert_eq!(
        pipeline.drain(&cw, version, &config).await,
        Drain::Blocked(Cause::Throttled)
    );
    // The account accepts again: both arrive, in order.
    assert_eq!(pipeline.drain(&cw, version, &config).await, Drain::Drained(2));
    let sent = deliverer.keys(TENANT, DeliveryType::Cloudwatch);
    assert_eq!(sent[sent.len() - 2..], [object(1).key, object(2).key]);
}

/// The CloudWatch destination of the test tenant's configs.
fn logs_destination() -> crate::sinks::adaptive::Destination {
    let configs = both_active();
    let (_, config) = configs
        .config(
            &target(DeliveryType::Cloudwatch).tenant_id,
            DeliveryType::Cloudwatch,
        )
        .unwrap();
    crate::sinks::adaptive::Destination::of(&config)
}

#[tokio::test]
async fn a_destination_at_its_adaptive_limit_is_not_called_and_the_object_parks_at_once() {
    // One throttled delivery halves the account's limit from 2 to 1.
    let deliverer =
        Arc::new(FakeDeliverer::default().then(TENANT, DeliveryType::Cloudwatch, vec![throttled()]));
    let pipeline = pipeline(both_active(), &deliverer).with_destination_ceiling(2);
    assert_eq!(pipeline.deliver(&object(1)).await, Outcome::Done);
    assert_eq!(pipeline.destination_limits().limit(&logs_destination()), 1.0);
    // Another delivery is in flight to the account: the next object does not wait in its
    // slot nor add to the throttling; it parks as throttled without a call.
    let in_flight = pipeline
        .destination_limits()
        .try_acquire(&logs_destination())
        .unwrap();
    assert_eq!(pipeline.deliver(&object(2)).await, Outcome::Done);
    assert_eq!(deliverer.keys(TENANT, DeliveryType::Cloudwatch), [object(1).key]);
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::S3).len(),
        2,
        "the bucket is another destination"
    );
    let cw = target(DeliveryType::Cloudwatch);
    let parked = pipeline.ledger().parked(&cw, 10).await.unwrap();
    assert_eq!(
        parked.iter().map(|p| p.cause).collect::<Vec<_>>(),
        [Cause::Throttled; 2]
    );
    // The drain is held to the same limit: blocked while the other delivery holds it,
    // then both arrive in order.
    let (version, config) = pipeline
        .configs
        .config(&cw.tenant_id, DeliveryType::Cloudwatch)
        .unwrap();
    assert_eq!(
        pipeline.drain(&cw, version, &config).await,
        Drain::Blocked(Cause::Throttled)
    );
    drop(in_flight);
    assert_eq!(pipeline.drain(&cw, version, &config).await, Drain::Drained(2));
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::Cloudwatch),
        [object(1).key, object(1).key, object(2).key]
    );
}

#[tokio::test]
async fn a_target_with_a_deep_backlog_drains_in_turns_so_other_targets_do_not_wait_behind_it() {
    let configs = TenantConfigs::default();
    configs.apply(item(
        DeliveryType::Cloudwatch,
        1,
        EffectiveState::PendingVerification,
    ));
    let configs = Arc::new(configs);
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(configs.clone(), &deliverer);
    // CloudWatch (listed first) has 61 parked objects, S3 one.
    for n in 1..=60 {
        pipeline.deliver(&object(n)).await;
    }
    configs.apply(item(DeliveryType::S3, 1, EffectiveState::PendingVerification));
    pipeline.deliver(&object(61)).await;
    configs.apply(item(DeliveryType::Cloudwatch, 2, EffectiveState::Active));
    configs.apply(item(DeliveryType::S3, 2, EffectiveState::Active));

    let drainer = super::drain::Drainer::new("me".into(), Duration::from_secs(60), Duration::from_secs(900));
    drainer.tick(&pipeline).await;
    let calls = deliverer.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 62, "one tick drains both targets entirely");
    let s3_turn = calls
        .iter()
        .position(|(_, kind, _, _)| *kind == DeliveryType::S3)
        .unwrap();
    assert!(
        s3_turn <= super::drain::TURN as usize,
        "the S3 target has its turn within the deep backlog's first turn, not after all of it ({s3_turn})"
    );
    let in_order: Vec<String> = (1..=61).map(|n| object(n).key).collect();
    assert_eq!(deliverer.keys(TENANT, DeliveryType::Cloudwatch), in_order);
}

/// Now on the test's paused tokio clock, in ms since the epoch (as the ledger stores it).
fn paused_ms() -> i64 {
    static START: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(tokio::time::Instant::now);
    1_800_000_000_000 + tokio::time::Instant::now().duration_since(start).as_millis() as i64
}

fn drainer(owner: &str) -> super::drain::Drainer {
    super::drain::Drainer::new(owner.into(), Duration::from_secs(60), Duration::from_secs(900))
        .with_clock(paused_ms, Duration::from_secs(120))
}

#[tokio::test(start_paused = true)]
async fn a_turn_longer_than_the_lease_renews_it_so_a_second_replica_never_drains_the_same_objects() {
    let configs = TenantConfigs::default();
    configs.apply(item(DeliveryType::S3, 1, EffectiveState::PendingVerification));
    let configs = Arc::new(configs);
    // Ten parked objects of a minute each: a turn of ten minutes, five times the hold.
    let deliverer = Arc::new(FakeDeliverer::default().slow(Duration::from_secs(60)));
    let pipeline = pipeline(configs.clone(), &deliverer);
    for n in 1..=10 {
        pipeline.deliver(&object(n)).await;
    }
    configs.apply(item(DeliveryType::S3, 2, EffectiveState::Active));
    let (first, second) = (drainer("replica-a"), drainer("replica-b"));
    tokio::join!(first.tick(&pipeline), async {
        tokio::time::sleep(Duration::from_secs(300)).await;
        second.tick(&pipeline).await;
    });
    let in_order: Vec<String> = (1..=10).map(|n| object(n).key).collect();
    assert_eq!(
        deliverer.keys(TENANT, DeliveryType::S3),
        in_order,
        "each object once, in staged order, by the replica holding the lease"
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_that_does_not_matter_for_delivery_neither_makes_a_target_due_nor_breaks_its_lease() {
    let deliverer = Arc::new(FakeDeliverer::default().then(
        TENANT,
        DeliveryType::S3,
        vec![bucket_missing(), bucket_missing()],
    ));
    let configs = both_active();
    let pipeline = pipeline(configs.clone(), &deliverer);
    pipeline.deliver(&object(1)).await;
    let s3_calls = || deliverer.keys(TENANT, DeliveryType::S3).len();
    let first = drainer("replica-a");
    first.tick(&pipeline).await;
    assert_eq!(s3_calls(), 2, "parked, then probed once: still blocked");

    // The allow-list is edited: a new version, the same delivery version.
    configs.apply(ConfigItem {
        delivery_version: 1,
        ..item(DeliveryType::S3, 2, EffectiveState::Active)
    });
    first.tick(&pipeline).await;
    let second = drainer("replica-b");
    second.tick(&pipeline).await;
    assert_eq!(
        s3_calls(),
        2,
        "neither the replica that probed nor another one probes again before the interval"
    );

    // The customer fixes the bucket and verifies again: due at once, the lease breaks.
    configs.apply(item(DeliveryType::S3, 3, EffectiveState::Active));
    second.tick(&pipeline).await;
    assert_eq!(s3_calls(), 3);
    assert!(pipeline
        .ledger()
        .parked(&target(DeliveryType::S3), 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_replay_at_a_throttled_destinations_limit_may_retry_instead_of_failing() {
    let deliverer =
        Arc::new(FakeDeliverer::default().then(TENANT, DeliveryType::Cloudwatch, vec![throttled()]));
    let pipeline = pipeline(both_active(), &deliverer).with_destination_ceiling(2);
    assert_eq!(pipeline.deliver(&object(1)).await, Outcome::Done);
    let _in_flight = pipeline
        .destination_limits()
        .try_acquire(&logs_destination())
        .unwrap();
    let replayed = pipeline
        .replay_one(
            &object(2),
            DeliveryType::Cloudwatch,
            logspoke_contract::replay::ReplayMode::All,
        )
        .await;
    assert!(
        matches!(replayed, super::replay::Replayed::Failed { retriable: true, .. }),
        "{replayed:?}"
    );
}

/// Both targets active, the CloudWatch one with `filter`.
fn both_active_filtering(filter: serde_json::Value) -> Arc<TenantConfigs> {
    let configs = TenantConfigs::default();
    let mut cloudwatch = item(DeliveryType::Cloudwatch, 1, EffectiveState::Active);
    if let Some(config) = cloudwatch.config.as_mut() {
        config.filter = serde_json::from_value(filter).unwrap();
    }
    configs.apply(cloudwatch);
    configs.apply(item(DeliveryType::S3, 1, EffectiveState::Active));
    Arc::new(configs)
}

/// What the target's health counted, summed over its buckets.
async fn counted(pipeline: &TestPipeline, kind: DeliveryType) -> logspoke_contract::ledger::Counters {
    pipeline.health().flush(pipeline.ledger()).await;
    let reports = pipeline.ledger().reports.lock().unwrap().clone();
    let mut sum = logspoke_contract::ledger::Counters::default();
    for report in reports.iter().filter(|r| r.target == target(kind)) {
        for (_, counters) in &report.counters {
            sum.add(counters);
        }
    }
    sum
}

#[tokio::test]
async fn every_path_sends_with_what_the_targets_filter_makes_of_the_object() {
    // `object` is staged in namespace `ns`: a namespace rule decides for the whole object,
    // a message rule for each line; the S3 target has no filter.
    let deliverer = Arc::new(FakeDeliverer::default());
    let drop_ns = serde_json::json!({"exclude": [{"field": "namespace", "equals": "ns"}]});
    let pipeline = pipeline(both_active_filtering(drop_ns), &deliverer);
    assert_eq!(pipeline.deliver(&object(1)).await, Outcome::Done);
    let per_line = serde_json::json!({"include": [{"field": "message", "contains": "ERROR"}]});
    let replaying = self::pipeline(both_active_filtering(per_line), &deliverer);
    let replayed = replaying
        .replay_one(
            &object(2),
            DeliveryType::Cloudwatch,
            logspoke_contract::replay::ReplayMode::All,
        )
        .await;
    assert!(
        matches!(replayed, super::replay::Replayed::Delivered(_)),
        "{replayed:?}"
    );
    assert_eq!(
        *deliverer.lines.lock().unwrap(),
        [
            (DeliveryType::Cloudwatch, "drop_all"),
            (DeliveryType::S3, "keep_all"),
            (DeliveryType::Cloudwatch, "per_line"),
        ]
    );
}

#[tokio::test]
async fn lines_a_filter_removed_are_counted_in_the_targets_health() {
    let filtered = Delivered {
        events: 5,
        bytes: 50,
        events_filtered: 7,
        batches: 1,
        ..Delivered::default()
    };
    let deliverer = Arc::new(FakeDeliverer::default().always(TENANT, DeliveryType::Cloudwatch, Ok(filtered)));
    let pipeline = pipeline(both_active(), &deliverer);
    assert_eq!(pipeline.deliver(&object(1)).await, Outcome::Done);
    assert_eq!(pipeline.deliver(&object(2)).await, Outcome::Done);
    let counters = counted(&pipeline, DeliveryType::Cloudwatch).await;
    assert_eq!(
        (counters.objects, counters.events, counters.events_filtered),
        (2, 10, 14)
    );
    assert_eq!(counted(&pipeline, DeliveryType::S3).await.events_filtered, 0);
}

#[tokio::test]
async fn an_object_its_filter_empties_is_recorded_delivered_never_parked_or_retried() {
    let emptied = Delivered {
        events_filtered: 3,
        ..Delivered::default()
    };
    let deliverer = Arc::new(
        FakeDeliverer::default()
            .always(TENANT, DeliveryType::Cloudwatch, Ok(emptied))
            .always(TENANT, DeliveryType::S3, Ok(emptied)),
    );
    let pipeline = pipeline(both_active(), &deliverer);
    let object = object(1);
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    for kind in [DeliveryType::Cloudwatch, DeliveryType::S3] {
        let record = pipeline.ledger().record_of(&target(kind), &object.key).unwrap();
        assert!(
            matches!(
                record.state,
                ObjectState::Delivered {
                    events: 0,
                    bytes: 0,
                    ..
                }
            ),
            "{record:?}"
        );
        assert!(pipeline
            .ledger()
            .parked(&target(kind), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(counted(&pipeline, kind).await.events_filtered, 3);
    }
    // A redelivered message finds it delivered: nothing is sent again.
    assert_eq!(pipeline.deliver(&object).await, Outcome::Done);
    assert_eq!(deliverer.calls.lock().unwrap().len(), 2);
}

//! What becomes of a message, end to end through the receive loop, with an in-process
//! queue and deliverer (the real ones are exercised against the emulator in
//! `tests/worker/`). The tenants' configs are the real in-memory cache.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use logspoke_contract::ledger::Cause;
use logspoke_contract::{
    BucketName, BucketPrefix, ClusterId, ConfigItem, DeliveryTarget, DeliveryType, DesiredLogs,
    EffectiveState, ExternalId, LiveConfig, LogGroupName, Region, RoleArn, TenantId,
};

use super::*;
use crate::event::tests::body as s3_event;
use crate::ledger::in_memory::InMemoryLedger;
use crate::pipeline::fake::FakeDeliverer;
use crate::pipeline::{Retention, TargetError};
use crate::tenants::TenantConfigs;

const CLUSTER: &str = "c1";

/// What the queue saw of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Deleted: done for good.
    Deleted,
    /// Left on the queue, visible again after this long.
    RetryAfter(Duration),
}

/// One scripted answer to `ReceiveMessage`.
type Receive = Result<Vec<Received>, AwsError>;

/// Hands out scripted batches, then nothing (an empty long poll), and records deletes and
/// visibility changes per receipt.
#[derive(Clone, Default)]
struct FakeQueue {
    batches: Arc<Mutex<VecDeque<Receive>>>,
    fates: Arc<Mutex<HashMap<String, Fate>>>,
    /// Messages sent to this queue (the overflow lane), in order.
    sent: Arc<Mutex<Vec<Outgoing>>>,
    /// Refuses every send (a missing queue, a missing permission).
    refuses_sends: bool,
}

impl FakeQueue {
    fn fates(&self) -> HashMap<String, Fate> {
        self.fates.lock().unwrap().clone()
    }
}

impl Queue for FakeQueue {
    async fn receive(&self, max: usize, _wait: Duration) -> Result<Vec<Received>, AwsError> {
        let next = self.batches.lock().unwrap().pop_front();
        match next {
            Some(Ok(mut batch)) => {
                let rest = batch.split_off(max.min(batch.len()));
                if !rest.is_empty() {
                    self.batches.lock().unwrap().push_front(Ok(rest));
                }
                Ok(batch)
            }
            Some(Err(err)) => Err(err),
            None => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(Vec::new())
            }
        }
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError> {
        self.fates
            .lock()
            .unwrap()
            .insert(receipt.to_owned(), Fate::RetryAfter(timeout));
        Ok(())
    }

    async fn send(&self, messages: &[Outgoing]) -> Result<Vec<usize>, AwsError> {
        if self.refuses_sends {
            return Err(AwsError::service(
                "AccessDenied",
                403,
                "not authorized to perform sqs:SendMessage",
            ));
        }
        let mut sent = self.sent.lock().unwrap();
        let mut batches = self.batches.lock().unwrap();
        let mut batch = Vec::new();
        for message in messages {
            sent.push(message.clone());
            batch.push(Received {
                receipt: format!("overflow-{}", sent.len()),
                body: message.body.clone(),
                receive_count: 1,
            });
        }
        batches.push_back(Ok(batch));
        Ok((0..messages.len()).collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<usize, AwsError> {
        let mut fates = self.fates.lock().unwrap();
        for receipt in receipts {
            fates.insert(receipt.clone(), Fate::Deleted);
        }
        Ok(0)
    }
}

fn item(tenant: &str, kind: DeliveryType, state: EffectiveState) -> ConfigItem {
    let target = match kind {
        DeliveryType::Cloudwatch => DeliveryTarget::CloudWatch {
            log_group_name: LogGroupName::parse("/logs").unwrap(),
            log_stream_template: None,
        },
        DeliveryType::S3 => DeliveryTarget::S3 {
            bucket_name: BucketName::parse("tenant-logs").unwrap(),
            bucket_prefix: BucketPrefix::parse("k8s/").unwrap(),
        },
    };
    ConfigItem {
        tenant_id: TenantId::parse(tenant).unwrap(),
        delivery_type: kind,
        version: 1,
        delivery_version: 1,
        config: Some(LiveConfig {
            state,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/Delivery").unwrap(),
            external_id: Some(ExternalId::generate()),
            desired_logs: DesiredLogs::default(),
            target,
            clusters: [ClusterId::parse(CLUSTER).unwrap()].into_iter().collect(),
            filter: logspoke_contract::Filter::default(),
            message_format: logspoke_contract::MessageFormat::default(),
            key_layout: logspoke_contract::KeyLayout::default(),
            storage_class: None,
            kms_key_arn: None,
        }),
        updated_at: "2026-11-22T10:00:00.000Z".into(),
    }
}

fn key(tenant: &str) -> String {
    format!("{tenant}/{CLUSTER}/app/pod-1/1700000000-u.json.gz")
}

/// The tenants of the table: each has both targets unless noted.
fn configs() -> TenantConfigs {
    let configs = TenantConfigs::default();
    for tenant in ["done", "transient", "permanent", "mixed-a", "mixed-b", "customer"] {
        configs.apply(item(tenant, DeliveryType::Cloudwatch, EffectiveState::Active));
        configs.apply(item(tenant, DeliveryType::S3, EffectiveState::Active));
    }
    configs.apply(item(
        "pending",
        DeliveryType::Cloudwatch,
        EffectiveState::PendingVerification,
    ));
    configs.apply(item(
        "failed-verification",
        DeliveryType::S3,
        EffectiveState::VerificationFailed,
    ));
    configs.apply(item(
        "disabled",
        DeliveryType::Cloudwatch,
        EffectiveState::Disabled,
    ));
    configs.apply(item(
        "unreadable",
        DeliveryType::Cloudwatch,
        EffectiveState::Active,
    ));
    configs.mark_unreadable(&TenantId::parse("unreadable").unwrap(), Some(DeliveryType::S3));
    configs
}

fn deliverer() -> FakeDeliverer {
    let transient = || {
        Err(TargetError::Transient(
            Cause::AwsUnavailable,
            "ServiceUnavailable".into(),
        ))
    };
    let permanent = || Err(TargetError::Permanent("unreadable_file", "truncated gzip".into()));
    let customer = || Err(TargetError::Customer(Cause::BucketMissing, "NoSuchBucket".into()));
    FakeDeliverer::default()
        .always("transient", DeliveryType::S3, transient())
        .always("permanent", DeliveryType::Cloudwatch, permanent())
        .always("mixed-b", DeliveryType::Cloudwatch, transient())
        .always("customer", DeliveryType::S3, customer())
}

/// A pipeline over the table's tenants, with an in-memory ledger.
fn pipeline(deliverer: Arc<FakeDeliverer>) -> Arc<Pipeline<Arc<FakeDeliverer>, InMemoryLedger>> {
    Arc::new(Pipeline::new(
        Arc::new(configs()),
        deliverer,
        InMemoryLedger::default(),
        Arc::default(),
        Retention::default(),
    ))
}

fn settings() -> PollSettings {
    PollSettings {
        pollers: 2,
        max_in_flight: 4,
        visibility: Duration::from_secs(120),
        retry_delay: Duration::from_secs(30),
        wait: Duration::from_secs(20),
        tenant_share: 2,
    }
}

/// Runs the receive loop over `bodies` (receipt = case name) until every message has a
/// fate, then shuts it down.
async fn run_until_settled(
    bodies: &[(&str, String)],
    deliverer: Arc<FakeDeliverer>,
) -> HashMap<String, Fate> {
    let messages = bodies
        .iter()
        .map(|(name, body)| Received {
            receipt: (*name).to_owned(),
            body: body.clone(),
            receive_count: 1,
        })
        .collect();
    let queue = FakeQueue::default();
    queue.batches.lock().unwrap().push_back(Ok(messages));
    let pipeline = pipeline(deliverer);
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(run(queue.clone(), pipeline, settings(), stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while queue.fates().len() < bodies.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unsettled: {:?}",
            queue.fates()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    queue.fates()
}

#[tokio::test]
async fn each_kind_of_message_is_deleted_or_left_for_a_retry_as_the_rules_say() {
    let retry = Fate::RetryAfter(settings().retry_delay);
    let cases: Vec<(&str, String, Fate)> = vec![
        ("every target done", s3_event(&[&key("done")]), Fate::Deleted),
        (
            "one target transient",
            s3_event(&[&key("transient")]),
            retry.clone(),
        ),
        (
            "one target permanent",
            s3_event(&[&key("permanent")]),
            Fate::Deleted,
        ),
        ("unknown tenant", s3_event(&[&key("nobody")]), Fate::Deleted),
        (
            "unregistered cluster",
            s3_event(&["done/intruder/app/pod-1/1700000000-u.json.gz"]),
            Fate::Deleted,
        ),
        (
            "held: unreadable config",
            s3_event(&[&key("unreadable")]),
            retry.clone(),
        ),
        (
            "parked: pending verification",
            s3_event(&[&key("pending")]),
            Fate::Deleted,
        ),
        (
            "parked: verification failed",
            s3_event(&[&key("failed-verification")]),
            Fate::Deleted,
        ),
        (
            "parked: one target refuses, the other delivered",
            s3_event(&[&key("customer")]),
            Fate::Deleted,
        ),
        ("no active target", s3_event(&[&key("disabled")]), Fate::Deleted),
        (
            "one object of two transient",
            s3_event(&[&key("mixed-a"), &key("mixed-b")]),
            retry.clone(),
        ),
        ("bad key", s3_event(&["not-a-layout.json.gz"]), Fate::Deleted),
        (
            "bad message body",
            "definitely not an event".into(),
            Fate::Deleted,
        ),
        (
            "s3:TestEvent",
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"staging"}"#.into(),
            Fate::Deleted,
        ),
    ];
    let deliverer = Arc::new(deliverer());
    let bodies: Vec<(&str, String)> = cases.iter().map(|(n, b, _)| (*n, b.clone())).collect();
    let fates = run_until_settled(&bodies, deliverer.clone()).await;
    for (name, _, expected) in &cases {
        assert_eq!(fates.get(*name), Some(expected), "{name}");
    }

    // Held, parked-for-verification and unroutable objects never reach a target; every
    // target of a routed object is tried, also when another one of it fails.
    let mut called: Vec<(String, DeliveryType)> = deliverer
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(tenant, kind, _, _)| (tenant.clone(), *kind))
        .collect();
    called.sort_by(|a, b| (a.0.as_str(), a.1.as_str()).cmp(&(b.0.as_str(), b.1.as_str())));
    let expected: Vec<(String, DeliveryType)> =
        ["customer", "done", "mixed-a", "mixed-b", "permanent", "transient"]
            .into_iter()
            .flat_map(|t| {
                [
                    (t.to_owned(), DeliveryType::Cloudwatch),
                    (t.to_owned(), DeliveryType::S3),
                ]
            })
            .collect();
    assert_eq!(called, expected);
}

#[tokio::test]
async fn a_failed_receive_is_retried_and_what_follows_is_still_processed() {
    let queue = FakeQueue::default();
    let throttled = AwsError {
        code: Some("ThrottlingException".into()),
        message: None,
        status: Some(400),
        kind: logspoke_aws::AwsErrorKind::Other,
    };
    queue.batches.lock().unwrap().extend([
        Err(throttled),
        Ok(vec![Received {
            receipt: "after the error".into(),
            body: s3_event(&[&key("done")]),
            receive_count: 2,
        }]),
    ]);
    let pipeline = pipeline(Arc::new(deliverer()));
    let (stop, stopped) = watch::channel(false);
    let single = PollSettings {
        pollers: 1,
        ..settings()
    };
    let running = tokio::spawn(run(queue.clone(), pipeline, single, stopped));
    // The first wait is at most RECEIVE_BACKOFF.base (1 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while queue.fates().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never received again");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_eq!(queue.fates().get("after the error"), Some(&Fate::Deleted));
}

#[tokio::test]
async fn a_tenant_past_its_share_moves_to_the_overflow_lane_and_a_quiet_tenant_stays_in_the_main_lane() {
    let message = |tenant: &str, n: usize| Received {
        receipt: format!("{tenant}-{n}"),
        body: s3_event(&[&format!("{tenant}/{CLUSTER}/app/pod-1/17000000{n:02}-u.json.gz")]),
        receive_count: 1,
    };
    // Six objects of one tenant ahead of a quiet tenant's one, in one receive.
    let mut batch: Vec<Received> = (0..6).map(|n| message("done", n)).collect();
    batch.push(message("mixed-a", 0));
    let main = FakeQueue::default();
    main.batches.lock().unwrap().push_back(Ok(batch));
    let overflow = FakeQueue::default();
    let deliverer = Arc::new(deliverer());
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(run_lanes(
        main.clone(),
        Some(overflow.clone()),
        pipeline(deliverer.clone()),
        settings(),
        stopped,
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while main.fates().len() < 7 || overflow.fates().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unsettled: {:?} {:?}",
            main.fates(),
            overflow.fates()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();

    // Its share (two) ran from the delivery queue, the other four moved to the overflow
    // lane in the tenant's message group; the quiet tenant's object was not moved.
    let moved = overflow.sent.lock().unwrap().clone();
    assert_eq!(moved.len(), 4);
    assert!(moved.iter().all(|m| m.group == "done"), "{moved:?}");
    assert!(moved.iter().all(|m| !m.body.contains("mixed-a")));
    assert!(
        main.fates().values().all(|fate| *fate == Fate::Deleted),
        "{:?}",
        main.fates()
    );
    assert!(
        overflow.fates().values().all(|fate| *fate == Fate::Deleted),
        "{:?}",
        overflow.fates()
    );
    // Every object reached both targets once, from whichever lane.
    let calls = deliverer.calls.lock().unwrap().clone();
    let of = |tenant: &str| calls.iter().filter(|(t, ..)| t == tenant).count();
    assert_eq!((of("done"), of("mixed-a")), (12, 2));
}

#[tokio::test]
async fn messages_the_overflow_lane_does_not_take_are_processed_in_the_main_lane() {
    let batch: Vec<Received> = (0..3)
        .map(|n| Received {
            receipt: format!("done-{n}"),
            body: s3_event(&[&format!("done/{CLUSTER}/app/pod-1/17000000{n:02}-u.json.gz")]),
            receive_count: 1,
        })
        .collect();
    let main = FakeQueue::default();
    main.batches.lock().unwrap().push_back(Ok(batch));
    let overflow = FakeQueue {
        refuses_sends: true,
        ..FakeQueue::default()
    };
    let deliverer = Arc::new(deliverer());
    let single = PollSettings {
        tenant_share: 1,
        ..settings()
    };
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(run_lanes(
        main.clone(),
        Some(overflow.clone()),
        pipeline(deliverer.clone()),
        single,
        stopped,
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while main.fates().len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unsettled: {:?}",
            main.fates()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    // Delivered and deleted from the delivery queue, not left to wait out its receives
    // unprocessed and reach the DLQ.
    assert!(
        main.fates().values().all(|fate| *fate == Fate::Deleted),
        "{:?}",
        main.fates()
    );
    assert_eq!(
        deliverer.calls.lock().unwrap().len(),
        6,
        "three objects, two targets each"
    );
}

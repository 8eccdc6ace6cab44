//! Golden files for the wire formats in `tests/golden/`: a change to the read-model item
//! or the event layout shows up as a diff of a committed file. Regenerate with
//! `LOGSPOKE_UPDATE_GOLDEN=1 cargo test -p logspoke-contract wire`.

use std::path::PathBuf;

use crate::*;

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("LOGSPOKE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected.trim(),
        actual.trim(),
        "{} changed; if intended, regenerate with LOGSPOKE_UPDATE_GOLDEN=1 and bump the schema version",
        path.display()
    );
}

fn cloudwatch_item() -> ConfigItem {
    ConfigItem {
        tenant_id: TenantId::parse("acme").unwrap(),
        delivery_type: DeliveryType::Cloudwatch,
        version: 42,
        delivery_version: 40,
        updated_at: "2026-11-22T12:00:00Z".into(),
        config: Some(LiveConfig {
            state: EffectiveState::Active,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery").unwrap(),
            external_id: Some(ExternalId::parse("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789").unwrap()),
            desired_logs: DesiredLogs::parse(&["api".to_owned(), "web".to_owned()]).unwrap(),
            target: DeliveryTarget::CloudWatch {
                log_group_name: LogGroupName::parse("/logspoke/acme").unwrap(),
                log_stream_template: Some(LogStreamTemplate::parse("{cluster_id}/{pod_name}").unwrap()),
            },
            clusters: ["prod-eu-1", "staging"]
                .into_iter()
                .map(|c| ClusterId::parse(c).unwrap())
                .collect(),
            filter: serde_json::from_str(
                r#"{"include":[{"field":"namespace","equals":"payments"}],"exclude":[{"field":"message","regex":"^DEBUG"}]}"#,
            )
            .unwrap(),
            message_format: crate::MessageFormat::parse("json", Some(&["namespace".to_owned(), "pod".to_owned()]))
                .unwrap(),
            key_layout: crate::KeyLayout::default(),
            storage_class: None,
            kms_key_arn: None,
        }),
    }
}

fn s3_item() -> ConfigItem {
    ConfigItem {
        tenant_id: TenantId::parse("acme").unwrap(),
        delivery_type: DeliveryType::S3,
        version: 43,
        delivery_version: 43,
        updated_at: "2026-11-22T12:00:01Z".into(),
        config: Some(LiveConfig {
            state: EffectiveState::PendingVerification,
            target_region: Region::parse("us-east-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery").unwrap(),
            external_id: None,
            desired_logs: DesiredLogs::default(),
            target: DeliveryTarget::S3 {
                bucket_name: BucketName::parse("acme-logs").unwrap(),
                bucket_prefix: BucketPrefix::parse("k8s").unwrap(),
            },
            clusters: Default::default(),
            filter: crate::Filter::default(),
            message_format: crate::MessageFormat::default(),
            key_layout: crate::KeyLayout::Hive,
            storage_class: Some(crate::StorageClass::StandardIa),
            kms_key_arn: Some(
                crate::KmsKeyArn::parse(
                    "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                )
                .unwrap(),
            ),
        }),
    }
}

fn tombstone() -> ConfigItem {
    ConfigItem {
        tenant_id: TenantId::parse("acme").unwrap(),
        delivery_type: DeliveryType::Cloudwatch,
        version: 44,
        delivery_version: 44,
        updated_at: "2026-11-22T12:00:02Z".into(),
        config: None,
    }
}

#[test]
fn read_model_items_match_their_golden_files() {
    for (item, file) in [
        (cloudwatch_item(), "item-cloudwatch.json"),
        (s3_item(), "item-s3.json"),
        (tombstone(), "item-tombstone.json"),
    ] {
        let json = serde_json::to_string_pretty(&item.to_attributes()).unwrap();
        golden(file, &json);
    }
}

#[test]
fn read_model_items_round_trip() {
    for item in [cloudwatch_item(), s3_item(), tombstone()] {
        let back = ConfigItem::from_attributes(&item.to_attributes()).unwrap();
        assert_eq!(back, item);
    }
    assert!(cloudwatch_item().is_active());
    assert!(!s3_item().is_active());
    assert!(!tombstone().is_active());
}

#[test]
fn an_item_without_clusters_registers_none() {
    let mut attributes = cloudwatch_item().to_attributes();
    attributes.remove("clusters");
    let item = ConfigItem::from_attributes(&attributes).unwrap();
    let config = item.config.unwrap();
    assert!(config.clusters.is_empty());
    assert!(!config.accepts_cluster("prod-eu-1"));
    let live = cloudwatch_item().config.unwrap();
    assert!(live.accepts_cluster("prod-eu-1") && !live.accepts_cluster("prod-eu-2"));
}

#[test]
fn an_invalid_cluster_names_the_attribute() {
    let mut attributes = cloudwatch_item().to_attributes();
    attributes.insert("clusters".into(), Attr::L(vec![Attr::S("a/b".into())]));
    let err = ConfigItem::from_attributes(&attributes).unwrap_err();
    assert!(err.message.starts_with("attribute clusters"), "{err}");
}

#[test]
fn invalid_items_name_the_attribute() {
    let mut attributes = cloudwatch_item().to_attributes();
    attributes.insert("role_arn".into(), Attr::S("arn:aws:iam::1:role/x".into()));
    let err = ConfigItem::from_attributes(&attributes).unwrap_err();
    assert!(err.message.starts_with("attribute role_arn"), "{err}");
    attributes.remove("version");
    let err = ConfigItem::from_attributes(&attributes).unwrap_err();
    assert!(err.message.contains("version"), "{err}");
}

#[test]
fn the_external_id_is_not_in_debug_output() {
    let text = format!("{:?}", cloudwatch_item());
    assert!(!text.contains("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"), "{text}");
}

fn event() -> ConfigChanged {
    ConfigChanged {
        schema_version: EVENT_SCHEMA_VERSION,
        tenant_id: TenantId::parse("acme").unwrap(),
        delivery_type: DeliveryType::S3,
        version: 43,
        change: ChangeKind::Upserted,
        occurred_at: "2026-11-22T12:00:01Z".into(),
    }
}

#[test]
fn config_changed_matches_its_golden_file_and_round_trips() {
    let json = event().to_json();
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&json).unwrap()).unwrap();
    golden("config-changed.json", &pretty);
    assert_eq!(ConfigChanged::from_json(&json).unwrap(), event());
}

#[test]
fn config_changed_refuses_unknown_layouts() {
    let future = event()
        .to_json()
        .replace("\"schema_version\":1", "\"schema_version\":2");
    assert!(ConfigChanged::from_json(&future).is_err());
    let extra = event().to_json().replace('}', ",\"extra\":1}");
    assert!(ConfigChanged::from_json(&extra).is_err());
    assert!(ConfigChanged::from_json("not json").is_err());
}

fn ledger_target() -> ledger::Target {
    ledger::Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
}

const STAGED_KEY: &str = "acme/prod-eu-1/checkout/checkout-7d9f-x2/1795341600-0b6f.json.gz";

fn record(state: ledger::ObjectState) -> ledger::ObjectRecord {
    ledger::ObjectRecord {
        target: ledger_target(),
        object_key: STAGED_KEY.into(),
        config_version: 42,
        state,
        updated_at_ms: 1_795_341_601_234,
        expires_at: 1_803_722_400,
    }
}

#[test]
fn ledger_items_match_their_golden_files_and_round_trip() {
    let records = [
        (
            record(ledger::ObjectState::Delivered {
                events: 2_000,
                bytes: 180_000,
                at_ms: 1_795_341_601_234,
            }),
            "ledger-delivered.json",
        ),
        (
            record(ledger::ObjectState::InProgress {
                batches: 3,
                events: 30_000,
            }),
            "ledger-in-progress.json",
        ),
        (
            record(ledger::ObjectState::Pending {
                cause: Cause::LogGroupMissing,
            }),
            "ledger-pending.json",
        ),
        (
            record(ledger::ObjectState::Rejected {
                reason: "unreadable_file".into(),
            }),
            "ledger-rejected.json",
        ),
    ];
    for (record, file) in records {
        let attributes = record.to_attributes();
        golden(file, &serde_json::to_string_pretty(&attributes).unwrap());
        assert_eq!(
            ledger::ObjectRecord::from_attributes(&attributes).unwrap(),
            record
        );
    }

    let parked = ledger::ParkedObject {
        target: ledger_target(),
        bucket: "logspoke-staging-111111111111-eu-west-1".into(),
        object_key: STAGED_KEY.into(),
        staged_ms: 1_795_341_600_000,
        event_time_ms: Some(1_795_341_600_512),
        cause: Cause::LogGroupMissing,
        parked_at_ms: 1_795_341_601_234,
        expires_at: 1_803_722_400,
    };
    let attributes = parked.to_attributes();
    golden(
        "ledger-parked.json",
        &serde_json::to_string_pretty(&attributes).unwrap(),
    );
    assert_eq!(
        ledger::ParkedObject::from_attributes(&attributes).unwrap(),
        parked
    );

    let bucket = ledger::CounterBucket {
        target: ledger_target(),
        start_s: 1_795_341_600,
        counters: ledger::Counters {
            objects: 20,
            events: 40_000,
            bytes: 3_600_000,
            rejected_events: 2,
            duplicates_avoided: 1,
            expired_objects: 0,
            events_filtered: 7,
        },
        expires_at: 1_795_514_400,
    };
    let attributes = bucket.to_attributes();
    golden(
        "ledger-counters.json",
        &serde_json::to_string_pretty(&attributes).unwrap(),
    );
    assert_eq!(
        ledger::CounterBucket::from_attributes(&attributes).unwrap(),
        bucket
    );

    let health = ledger::HealthItem {
        target: ledger_target(),
        last_delivered_at_ms: Some(1_795_341_601_234),
        last_event_time_ms: Some(1_795_341_600_512),
        lag_seconds: Some(0.722),
        last_error: Some(ledger::LastError {
            cause: Cause::LogGroupMissing,
            message: "logs:PutLogEvents: ResourceNotFoundException: The specified log group does not exist."
                .into(),
            at_ms: 1_795_341_700_000,
        }),
        consecutive_failures: 4,
        parked_objects: 4,
        parked_cause: Some(Cause::LogGroupMissing),
    };
    let attributes = health.to_attributes();
    golden(
        "ledger-health.json",
        &serde_json::to_string_pretty(&attributes).unwrap(),
    );
    assert_eq!(ledger::HealthItem::from_attributes(&attributes).unwrap(), health);
}

#[test]
fn replay_jobs_match_their_golden_file_and_round_trip() {
    let job = replay::ReplayJob {
        replay_id: "0b6f1c1e-8d2a-4c53-9b7e-2f5d9a1c3e4f".into(),
        target: ledger_target(),
        since_ms: 1_795_338_000_000,
        until_ms: 1_795_341_600_000,
        mode: replay::ReplayMode::Missing,
        cancelled: false,
        requested_at_ms: 1_795_345_200_000,
        progress: replay::ReplayProgress {
            state: replay::ReplayState::Delivering,
            objects_total: 30,
            objects_done: 12,
            objects_skipped: 2,
            events: 600,
            bytes: 60_000,
            pages_listed: 1,
            started_at_ms: Some(1_795_345_201_000),
            finished_at_ms: None,
            error: None,
            cursor: Some(STAGED_KEY.into()),
        },
    };
    let attributes = job.to_attributes();
    golden(
        "replay-job.json",
        &serde_json::to_string_pretty(&attributes).unwrap(),
    );
    assert_eq!(replay::ReplayJob::from_attributes(&attributes).unwrap(), job);
}

#[test]
fn only_a_job_that_may_still_run_is_in_the_index_of_open_jobs() {
    let mut job = replay::ReplayJob {
        replay_id: "r".into(),
        target: ledger_target(),
        since_ms: 0,
        until_ms: 1,
        mode: replay::ReplayMode::All,
        cancelled: false,
        requested_at_ms: 0,
        progress: replay::ReplayProgress::queued(),
    };
    let open = job.to_attributes();
    assert_eq!(
        open.get(replay::OPEN_JOBS_ATTRIBUTE),
        Some(&Attr::S(replay::REPLAY_PARTITION.into()))
    );
    job.progress.state = replay::ReplayState::Done;
    assert!(!job.to_attributes().contains_key(replay::OPEN_JOBS_ATTRIBUTE));
}

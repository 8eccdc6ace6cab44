//! The replay executor with an in-memory ledger, staging listing and job store.

use std::sync::{Arc, Mutex};

use logspoke_contract::ledger::{Cause, Target};
use logspoke_contract::replay::{ReplayMode, ReplayState};
use logspoke_contract::{
    ClusterId, ConfigItem, DeliveryTarget, DeliveryType, DesiredLogs, EffectiveState, ExternalId, LiveConfig,
    LogGroupName, Region, RoleArn, TenantId,
};

use super::*;
use crate::ledger::in_memory::InMemoryLedger;
use crate::pipeline::fake::FakeDeliverer;
use crate::pipeline::{Retention, TargetError};
use crate::tenants::TenantConfigs;

const START_S: i64 = 1_795_338_000;

/// A bucket's keys, listed in S3's order a few keys per page; records each page's start.
struct Listing {
    keys: Vec<String>,
    per_page: usize,
    starts: Mutex<Vec<Option<String>>>,
}

fn listing(mut keys: Vec<String>, per_page: usize) -> Listing {
    keys.sort();
    Listing {
        keys,
        per_page,
        starts: Mutex::default(),
    }
}

impl Staging for Listing {
    async fn page(&self, _: &str, prefix: &str, start_after: Option<&str>) -> Result<Page, AwsError> {
        self.starts.lock().unwrap().push(start_after.map(str::to_owned));
        let mut after = self
            .keys
            .iter()
            .filter(|k| k.starts_with(prefix) && start_after.is_none_or(|s| k.as_str() > s));
        let keys: Vec<String> = after.by_ref().take(self.per_page).cloned().collect();
        Ok(Page {
            keys,
            more: after.next().is_some(),
        })
    }
}

/// Records every report; answers `Cancel` from the `cancel_at`-th report on.
#[derive(Default)]
struct Reports {
    seen: Mutex<Vec<ReplayProgress>>,
    cancel_at: Option<usize>,
}

impl Report for Reports {
    async fn report(&self, progress: &ReplayProgress) -> Control {
        let mut seen = self.seen.lock().unwrap();
        seen.push(progress.clone());
        match self.cancel_at {
            Some(at) if seen.len() >= at => Control::Cancel,
            _ => Control::Continue,
        }
    }
}

fn keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..6)
        .map(|i| format!("acme/c1/app/pod/{}-{i}.json.gz", START_S + 60 * i))
        .collect();
    // Outside the window, another tenant, not a staged key.
    keys.push(format!("acme/c1/app/pod/{}-late.json.gz", START_S + 7200));
    keys.push(format!("acme-two/c1/app/pod/{START_S}-x.json.gz"));
    keys.push("acme/not-a-key".into());
    keys
}

fn job(mode: ReplayMode) -> ReplayJob {
    ReplayJob {
        replay_id: "r1".into(),
        target: Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch),
        since_ms: START_S * 1000,
        until_ms: (START_S + 3600) * 1000,
        mode,
        cancelled: false,
        requested_at_ms: 0,
        progress: ReplayProgress::queued(),
    }
}

fn pipeline(deliverer: &Arc<FakeDeliverer>) -> Pipeline<Arc<FakeDeliverer>, InMemoryLedger> {
    let configs = TenantConfigs::default();
    configs.apply(ConfigItem {
        tenant_id: TenantId::parse("acme").unwrap(),
        delivery_type: DeliveryType::Cloudwatch,
        version: 1,
        delivery_version: 1,
        config: Some(LiveConfig {
            state: EffectiveState::Active,
            target_region: Region::parse("eu-west-1").unwrap(),
            role_arn: RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/Delivery").unwrap(),
            external_id: Some(ExternalId::generate()),
            desired_logs: DesiredLogs::default(),
            target: DeliveryTarget::CloudWatch {
                log_group_name: LogGroupName::parse("/logs").unwrap(),
                log_stream_template: None,
            },
            clusters: [ClusterId::parse("c1").unwrap()].into_iter().collect(),
            filter: logspoke_contract::Filter::default(),
            message_format: logspoke_contract::MessageFormat::default(),
            key_layout: logspoke_contract::KeyLayout::default(),
            storage_class: None,
            kms_key_arn: None,
        }),
        updated_at: "2026-11-22T10:00:00.000Z".into(),
    });
    Pipeline::new(
        Arc::new(configs),
        deliverer.clone(),
        InMemoryLedger::default(),
        Arc::default(),
        Retention::default(),
    )
}

#[test]
fn the_window_holds_the_tenants_objects_of_the_hour_in_listing_order() {
    let window = window(&job(ReplayMode::Missing), "staging", &keys(), &Cursor::Start);
    let names: Vec<&str> = window.iter().map(|o| o.key.as_str()).collect();
    let expected: Vec<String> = keys()[..6].to_vec();
    assert_eq!(names, expected);
}

/// Objects of two pods, interleaved in time; the bucket lists each pod's together.
fn two_pods() -> Vec<String> {
    (0..40)
        .map(|i| format!("acme/c1/app/pod-{}/{}-{i:02}.json.gz", i % 2, START_S + 60 * i))
        .collect()
}

#[tokio::test]
async fn a_replay_lists_a_page_at_a_time_and_keeps_each_pods_order() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    let staging = listing(two_pods(), 7);
    let done = execute(
        &pipeline,
        &staging,
        "staging",
        &job(ReplayMode::All),
        3,
        &Reports::default(),
    )
    .await;
    assert_eq!(done.state, ReplayState::Done);
    assert_eq!((done.objects_total, done.objects_done), (40, 40));
    // Six pages of at most seven keys, each listed after the last key of the one before:
    // the replay never holds more than a page.
    let starts = staging.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 6);
    assert_eq!(starts[0], None);
    assert_eq!(starts[1].as_deref(), Some(staging.keys[6].as_str()));
    let sent = deliverer.keys("acme", DeliveryType::Cloudwatch);
    for pod in ["pod-0", "pod-1"] {
        let of_pod: Vec<&String> = sent.iter().filter(|k| k.contains(pod)).collect();
        let mut in_time = of_pod.clone();
        in_time.sort_by_key(|k| ObjectKey::parse(k).unwrap().written_at_unix_seconds());
        assert_eq!(of_pod.len(), 20);
        assert_eq!(of_pod, in_time, "each pod's objects oldest first");
    }
    assert_eq!(done.cursor.as_deref(), staging.keys.last().map(String::as_str));
}

#[tokio::test]
async fn a_job_from_workers_that_sorted_the_window_resumes_without_resending_what_they_finished() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    let mut resumed = job(ReplayMode::All);
    // The ten oldest objects were finished in (timestamp, key) order.
    let finished = format!(
        "{:010}#acme/c1/app/pod-1/{}-09.json.gz",
        START_S + 540,
        START_S + 540
    );
    resumed.progress.cursor = Some(finished);
    resumed.progress.objects_done = 10;
    resumed.progress.objects_total = 40;
    let done = execute(
        &pipeline,
        &listing(two_pods(), 7),
        "staging",
        &resumed,
        2,
        &Reports::default(),
    )
    .await;
    assert_eq!((done.objects_total, done.objects_done), (40, 40));
    let sent = deliverer.keys("acme", DeliveryType::Cloudwatch);
    assert_eq!(sent.len(), 30);
    assert!(sent
        .iter()
        .all(|k| ObjectKey::parse(k).unwrap().written_at_unix_seconds() >= Some(START_S + 600)));
}

#[tokio::test]
async fn a_missing_replay_sends_only_what_the_target_lacks_and_a_second_one_nothing() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    // Two of the six the target has already.
    for key in &keys()[..2] {
        let object = window(
            &job(ReplayMode::Missing),
            "staging",
            std::slice::from_ref(key),
            &Cursor::Start,
        )
        .remove(0);
        assert_eq!(pipeline.deliver(&object).await, crate::pipeline::Outcome::Done);
    }
    let reports = Reports::default();
    let done = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &job(ReplayMode::Missing),
        2,
        &reports,
    )
    .await;
    assert_eq!(done.state, ReplayState::Done);
    assert_eq!(
        (done.objects_total, done.objects_done, done.objects_skipped),
        (6, 6, 2)
    );
    assert_eq!(deliverer.calls.lock().unwrap().len(), 6, "2 live + 4 replayed");
    assert!(done.finished_at_ms.is_some());
    let seen = reports.seen.lock().unwrap().clone();
    assert_eq!(seen.first().unwrap().state, ReplayState::Listing);
    assert!(
        seen.windows(2).all(|w| w[0].objects_done <= w[1].objects_done),
        "progress is monotonic"
    );

    let again = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &job(ReplayMode::Missing),
        2,
        &Reports::default(),
    )
    .await;
    assert_eq!((again.objects_done, again.objects_skipped), (6, 6));
    assert_eq!(deliverer.calls.lock().unwrap().len(), 6);

    let all = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &job(ReplayMode::All),
        2,
        &Reports::default(),
    )
    .await;
    assert_eq!((all.state, all.objects_skipped), (ReplayState::Done, 0));
    assert_eq!(
        deliverer.calls.lock().unwrap().len(),
        12,
        "all re-sends every object"
    );
}

#[tokio::test]
async fn a_taken_over_replay_resumes_after_its_cursor() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    let mut resumed = job(ReplayMode::All);
    resumed.progress.cursor = Some(keys()[3].clone());
    resumed.progress.objects_done = 4;
    resumed.progress.objects_total = 4;
    let done = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &resumed,
        3,
        &Reports::default(),
    )
    .await;
    assert_eq!((done.objects_total, done.objects_done), (6, 6));
    let sent = deliverer.keys("acme", DeliveryType::Cloudwatch);
    assert_eq!(sent, keys()[4..6].to_vec());
}

#[tokio::test]
async fn a_cancelled_replay_stops_and_a_refusing_target_fails_it() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    let cancelling = Reports {
        cancel_at: Some(1),
        ..Reports::default()
    };
    let done = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &job(ReplayMode::All),
        1,
        &cancelling,
    )
    .await;
    assert_eq!(done.state, ReplayState::Cancelled);
    assert!(deliverer.calls.lock().unwrap().is_empty());

    let refusing = Arc::new(FakeDeliverer::default().always(
        "acme",
        DeliveryType::Cloudwatch,
        Err(TargetError::Customer(Cause::LogGroupMissing, "gone".into())),
    ));
    let pipeline = self::pipeline(&refusing);
    let failed = execute(
        &pipeline,
        &listing(keys(), 4),
        "staging",
        &job(ReplayMode::Missing),
        1,
        &Reports::default(),
    )
    .await;
    assert_eq!(failed.state, ReplayState::Failed);
    assert!(
        failed.error.as_deref().unwrap().starts_with("log_group_missing"),
        "{failed:?}"
    );
    assert_eq!(failed.objects_done, 0);
}

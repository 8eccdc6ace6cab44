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

struct Listing(Vec<String>);

impl Staging for Listing {
    async fn list(&self, _: &str, prefix: &str, keep: KeyFilter<'_>) -> Result<Vec<String>, AwsError> {
        Ok(self
            .0
            .iter()
            .filter(|k| k.starts_with(prefix) && keep(k))
            .cloned()
            .collect())
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
fn the_window_holds_the_tenants_objects_of_the_hour_oldest_first() {
    let mut shuffled = keys();
    shuffled.reverse();
    let window = window(&job(ReplayMode::Missing), "staging", shuffled);
    let names: Vec<&str> = window.iter().map(|(_, o)| o.key.as_str()).collect();
    let expected: Vec<String> = keys()[..6].to_vec();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn a_missing_replay_sends_only_what_the_target_lacks_and_a_second_one_nothing() {
    let deliverer = Arc::new(FakeDeliverer::default());
    let pipeline = pipeline(&deliverer);
    // Two of the six the target has already.
    for key in &keys()[..2] {
        let object = window(&job(ReplayMode::Missing), "staging", vec![key.clone()])
            .remove(0)
            .1;
        assert_eq!(pipeline.deliver(&object).await, crate::pipeline::Outcome::Done);
    }
    let reports = Reports::default();
    let done = execute(
        &pipeline,
        &Listing(keys()),
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
        &Listing(keys()),
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
        &Listing(keys()),
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
    let order = window(&resumed, "staging", keys());
    resumed.progress.cursor = Some(order[3].0.clone());
    resumed.progress.objects_done = 4;
    let done = execute(
        &pipeline,
        &Listing(keys()),
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
        &Listing(keys()),
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
        &Listing(keys()),
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logspoke_contract::ledger::LastError;
use logspoke_contract::replay::{ReplayMode, ReplayProgress};
use logspoke_contract::{Cause, DeliveryType, EffectiveState, Region, TenantId};

use super::summary::{SummaryCache, SummaryError};
use super::*;

const NOW_MS: i64 = 1_800_000_123_456;

fn target(tenant: &str) -> Target {
    Target::new(TenantId::parse(tenant).unwrap(), DeliveryType::Cloudwatch)
}

fn bucket(start_s: i64, objects: u64) -> CounterBucket {
    CounterBucket {
        target: target("acme"),
        start_s,
        counters: Counters {
            objects,
            events: objects * 10,
            bytes: objects * 1_000,
            ..Counters::default()
        },
        expires_at: 0,
    }
}

#[test]
fn buckets_sum_into_the_hour_and_the_day_they_start_in() {
    let now_bucket = bucket_start(NOW_MS);
    let hour_from = bucket_start(NOW_MS - HOUR_MS);
    let day_from = bucket_start(NOW_MS - DAY_MS);
    let buckets = [
        bucket(now_bucket, 1),
        bucket(hour_from, 2),
        bucket(hour_from - COUNTER_BUCKET_SECONDS, 4),
        bucket(day_from, 8),
        bucket(day_from - COUNTER_BUCKET_SECONDS, 16),
        bucket(now_bucket + COUNTER_BUCKET_SECONDS, 32),
    ];
    let windows = sum_counters(&buckets, NOW_MS);
    // The bucket of one hour ago counts, the one before it does not; a bucket a clock
    // slightly ahead wrote counts; one older than the day counts nowhere.
    assert_eq!(windows.last_hour.objects, 1 + 2 + 32);
    assert_eq!(windows.last_day.objects, 1 + 2 + 4 + 8 + 32);
    assert_eq!(windows.last_day.events, 470);
    assert_eq!(windows.last_day.bytes, 47_000);
    assert_eq!(sum_counters(&[], NOW_MS), CounterWindows::default());
}

#[test]
fn the_counter_range_covers_the_day_and_one_bucket_ahead() {
    let (from, to) = counter_range(NOW_MS);
    assert_eq!(from, bucket_start(NOW_MS - DAY_MS));
    assert_eq!(to, bucket_start(NOW_MS) + COUNTER_BUCKET_SECONDS);
    assert_eq!((to - from) / COUNTER_BUCKET_SECONDS, 24 * 12 + 1);
}

#[test]
fn the_state_filter_keeps_only_the_state_asked_for() {
    let all = [
        HealthState::Healthy,
        HealthState::Failing,
        HealthState::Idle,
        HealthState::Paused,
    ];
    for state in all {
        assert!(keeps(None, state));
        for wanted in all {
            assert_eq!(
                keeps(Some(wanted), state),
                wanted == state,
                "{wanted:?} {state:?}"
            );
        }
    }
    assert_eq!(
        prefilter(Some(HealthState::Failing)),
        Some(Prefilter::MightBeFailing)
    );
    for other in [
        None,
        Some(HealthState::Healthy),
        Some(HealthState::Idle),
        Some(HealthState::Paused),
    ] {
        assert_eq!(prefilter(other), None, "{other:?}");
    }
}

/// Every combination of the fields the state depends on.
fn variations() -> Vec<HealthItem> {
    let mut items = Vec::new();
    for parked in [0, 2] {
        for failures in [0, 1] {
            for delivered in [None, Some(NOW_MS - 1_000), Some(NOW_MS - 2 * HOUR_MS)] {
                for error_at in [None, Some(NOW_MS - 500), Some(NOW_MS - 3 * HOUR_MS)] {
                    let mut item = HealthItem::empty(target("acme"));
                    item.parked_objects = parked;
                    item.consecutive_failures = failures;
                    item.last_delivered_at_ms = delivered;
                    item.last_error = error_at.map(|at_ms| LastError {
                        cause: Cause::LogGroupMissing,
                        message: "gone".into(),
                        at_ms,
                    });
                    items.push(item);
                }
            }
        }
    }
    items
}

#[test]
fn the_failing_prefilter_never_drops_a_failing_target() {
    let items = variations();
    let failing = items
        .iter()
        .filter(|item| item.state(EffectiveState::Active, NOW_MS) == HealthState::Failing)
        .count();
    assert!(failing > 0);
    for item in &items {
        if item.state(EffectiveState::Active, NOW_MS) == HealthState::Failing {
            assert!(might_be_failing(item), "{item:?}");
        }
    }
}

/// A store holding health items in memory, counting batched reads, failing on demand.
#[derive(Default)]
struct FakeStore {
    items: Mutex<Vec<HealthItem>>,
    batch_reads: Arc<AtomicUsize>,
    fail: Mutex<Option<AwsError>>,
    delay: Option<Duration>,
    jobs: Vec<ReplayJob>,
}

impl FakeStore {
    fn with(items: Vec<HealthItem>) -> Self {
        Self {
            items: Mutex::new(items),
            ..Self::default()
        }
    }

    fn reads(&self) -> usize {
        self.batch_reads.load(Ordering::SeqCst)
    }
}

impl HealthStore for FakeStore {
    async fn health(&self, target: &Target) -> Result<Option<HealthItem>, HealthError> {
        Ok(self.health_of(std::slice::from_ref(target)).await?.pop())
    }

    async fn health_of(&self, targets: &[Target]) -> Result<Vec<HealthItem>, HealthError> {
        self.batch_reads.fetch_add(1, Ordering::SeqCst);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(err) = self.fail.lock().unwrap().clone() {
            return Err(HealthError::Aws(err));
        }
        let items = self.items.lock().unwrap();
        Ok(items
            .iter()
            .filter(|i| targets.contains(&i.target))
            .cloned()
            .collect())
    }

    async fn counter_buckets(&self, _: &Target, _: i64, _: i64) -> Result<Vec<CounterBucket>, HealthError> {
        Ok(vec![bucket(bucket_start(NOW_MS), 3)])
    }

    async fn replay_jobs(&self, ids: &[String]) -> Result<Vec<ReplayJob>, HealthError> {
        if let Some(err) = self.fail.lock().unwrap().clone() {
            return Err(HealthError::Aws(err));
        }
        Ok(self
            .jobs
            .iter()
            .filter(|job| ids.contains(&job.replay_id))
            .cloned()
            .collect())
    }

    async fn health_page(&self, _: &PageQuery) -> Result<HealthPage, HealthError> {
        Ok(HealthPage::default())
    }

    async fn oldest_parked(&self, target: &Target) -> Result<Option<i64>, HealthError> {
        if let Some(err) = self.fail.lock().unwrap().clone() {
            return Err(HealthError::Aws(err));
        }
        let items = self.items.lock().unwrap();
        let parked = items.iter().any(|i| &i.target == target && i.parked_objects > 0);
        // The fake's parked objects were all staged an hour before NOW_MS.
        Ok(parked.then_some(NOW_MS - HOUR_MS))
    }
}

fn parked(tenant: &str, count: u64) -> HealthItem {
    let mut item = HealthItem::empty(target(tenant));
    item.parked_objects = count;
    item
}

#[tokio::test]
async fn summaries_are_read_once_per_ttl_in_one_batch_and_missing_items_are_empty() {
    let store = FakeStore::with(vec![parked("acme", 3)]);
    let cache = SummaryCache::new(Duration::from_secs(60), Duration::from_secs(1));
    let targets = [target("acme"), target("globex")];
    let first = cache.read(&store, &targets).await.unwrap();
    assert_eq!(first[&target("acme")].parked_objects, 3);
    assert_eq!(first[&target("globex")], HealthItem::empty(target("globex")));
    store.items.lock().unwrap()[0].parked_objects = 0;
    let second = cache.read(&store, &targets).await.unwrap();
    assert_eq!(second, first, "served from the cache");
    assert_eq!(store.reads(), 1);
    assert_eq!(cache.len(), 2);
    // Only what is missing is read.
    cache
        .read(&store, &[target("acme"), target("initech")])
        .await
        .unwrap();
    assert_eq!(store.reads(), 2);
}

#[tokio::test]
async fn expired_summaries_are_read_again() {
    let store = FakeStore::with(vec![parked("acme", 3)]);
    let cache = SummaryCache::new(Duration::ZERO, Duration::from_secs(1));
    cache.read(&store, &[target("acme")]).await.unwrap();
    store.items.lock().unwrap()[0].parked_objects = 0;
    let again = cache.read(&store, &[target("acme")]).await.unwrap();
    assert_eq!(again[&target("acme")].parked_objects, 0);
    assert_eq!(store.reads(), 2);
}

#[tokio::test]
async fn a_failed_read_backs_off_instead_of_retrying_on_every_request() {
    let store = FakeStore::with(vec![parked("acme", 3)]);
    *store.fail.lock().unwrap() = Some(AwsError::service("ResourceNotFoundException", 400, "no table"));
    let cache = SummaryCache::new(Duration::from_secs(60), Duration::from_secs(1));
    let first = cache.read(&store, &[target("acme")]).await;
    assert!(
        matches!(first, Err(SummaryError::Failed(HealthError::Aws(_)))),
        "{first:?}"
    );
    *store.fail.lock().unwrap() = None;
    let second = cache.read(&store, &[target("acme")]).await;
    assert!(matches!(second, Err(SummaryError::BackingOff)), "{second:?}");
    assert_eq!(store.reads(), 1);
}

#[tokio::test]
async fn a_slow_ledger_is_given_up_on_after_the_timeout() {
    let store = FakeStore {
        delay: Some(Duration::from_secs(30)),
        ..FakeStore::default()
    };
    let cache = SummaryCache::new(Duration::from_secs(60), Duration::from_millis(20));
    let started = std::time::Instant::now();
    let read = cache.read(&store, &[target("acme")]).await;
    assert!(
        matches!(read, Err(SummaryError::Failed(HealthError::TimedOut))),
        "{read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn region(name: &str) -> Region {
    Region::parse(name).unwrap()
}

/// A reader over one region.
fn one_region(store: FakeStore) -> HealthReader<FakeStore> {
    HealthReader::new(vec![(region("eu-west-1"), store)])
}

#[tokio::test]
async fn the_reader_sums_the_targets_counters_and_fills_in_an_empty_item() {
    let reader = one_region(FakeStore::default());
    let health = reader.target(&target("acme"), NOW_MS).await.unwrap();
    assert_eq!(health.merged(), HealthItem::empty(target("acme")));
    assert_eq!(health.regions.len(), 1);
    let counters = health.counters().unwrap();
    assert_eq!(counters.last_hour.objects, 3);
    assert_eq!(counters.last_day.objects, 3);
    assert!(reader.summaries(&[target("acme")]).await.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_targets_health_is_read_once_per_ttl_however_often_it_is_asked_for() {
    let store = FakeStore::with(vec![parked("acme", 3)]);
    let reads = store.batch_reads.clone();
    let reader = one_region(store);
    for _ in 0..50 {
        let health = reader.target(&target("acme"), NOW_MS).await.unwrap();
        assert_eq!(health.merged().parked_objects, 3);
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for fifty requests");
    tokio::time::sleep(super::TARGET_TTL).await;
    reader.target(&target("acme"), NOW_MS).await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "read again once the copy is older than the TTL"
    );
    reader.target(&target("globex"), NOW_MS).await.unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 3, "per target");
}

fn failing_store() -> FakeStore {
    let store = FakeStore::default();
    *store.fail.lock().unwrap() = Some(AwsError::service("ResourceNotFoundException", 400, "no table"));
    store
}

/// A reader over eu-west-1 (acme healthy), us-east-1 (acme parked) and ap-south-1 (its
/// ledger cannot be read).
fn three_regions() -> HealthReader<FakeStore> {
    let mut healthy = HealthItem::empty(target("acme"));
    healthy.last_delivered_at_ms = Some(NOW_MS - 1_000);
    HealthReader::new(vec![
        (region("eu-west-1"), FakeStore::with(vec![healthy])),
        (region("us-east-1"), FakeStore::with(vec![parked("acme", 2)])),
        (region("ap-south-1"), failing_store()),
    ])
}

#[tokio::test]
async fn a_target_failing_in_one_region_is_failing_and_an_unreadable_region_is_named() {
    let reader = three_regions();
    let health = reader.target(&target("acme"), NOW_MS).await.unwrap();
    let regions: Vec<Region> = health.regions.iter().map(|r| r.region).collect();
    assert_eq!(regions, [region("eu-west-1"), region("us-east-1")]);
    assert_eq!(health.unreadable, [region("ap-south-1")]);
    assert_eq!(health.state(EffectiveState::Active, NOW_MS), HealthState::Failing);
    let merged = health.merged();
    assert_eq!(merged.parked_objects, 2);
    assert_eq!(merged.last_delivered_at_ms, Some(NOW_MS - 1_000));
    assert_eq!(
        health.counters().unwrap().last_hour.objects,
        6,
        "both regions' counters"
    );

    let summaries = reader.summaries(&[target("acme")]).await.unwrap();
    let summary = &summaries[&target("acme")];
    assert_eq!(summary.regions.len(), 2);
    assert_eq!(summary.unreadable, [region("ap-south-1")]);
    assert_eq!(summary.merged().parked_objects, 2);
}

#[tokio::test]
async fn a_read_fails_only_when_no_region_answers_and_then_as_the_first_did() {
    let reader = HealthReader::new(vec![
        (region("eu-west-1"), failing_store()),
        (region("us-east-1"), FakeStore::default()),
    ]);
    let health = reader.target(&target("acme"), NOW_MS).await.unwrap();
    assert_eq!(health.unreadable, [region("eu-west-1")]);
    let none = HealthReader::new(vec![
        (region("eu-west-1"), failing_store()),
        (region("us-east-1"), {
            let store = FakeStore::default();
            *store.fail.lock().unwrap() = Some(AwsError::service("ThrottlingException", 400, "slow down"));
            store
        }),
    ]);
    let err = none.target(&target("acme"), NOW_MS).await.unwrap_err();
    assert!(err.to_string().contains("ResourceNotFoundException"), "{err}");
    assert!(none.summaries(&[target("acme")]).await.is_none());
    assert!(none.replay_jobs(&["r1".to_owned()]).await.is_err());
}

fn job(id: &str, objects_done: u64) -> ReplayJob {
    ReplayJob {
        replay_id: id.into(),
        target: target("acme"),
        since_ms: NOW_MS - HOUR_MS,
        until_ms: NOW_MS,
        mode: ReplayMode::Missing,
        cancelled: false,
        requested_at_ms: NOW_MS,
        progress: ReplayProgress {
            objects_done,
            ..ReplayProgress::queued()
        },
    }
}

#[tokio::test]
async fn replay_jobs_are_read_from_every_region_by_id() {
    let reader = HealthReader::new(vec![
        (
            region("eu-west-1"),
            FakeStore {
                jobs: vec![job("r1", 4), job("r2", 1)],
                ..FakeStore::default()
            },
        ),
        (
            region("us-east-1"),
            FakeStore {
                jobs: vec![job("r1", 6)],
                ..FakeStore::default()
            },
        ),
        (region("ap-south-1"), failing_store()),
    ]);
    let jobs = reader
        .replay_jobs(&["r1".to_owned(), "r2".to_owned()])
        .await
        .unwrap();
    assert_eq!(jobs.unreadable, [region("ap-south-1")]);
    let done: Vec<(Region, Option<u64>, Option<u64>)> = jobs
        .read
        .iter()
        .map(|(region, jobs)| {
            let done = |id: &str| jobs.get(id).map(|job| job.progress.objects_done);
            (*region, done("r1"), done("r2"))
        })
        .collect();
    assert_eq!(
        done,
        [
            (region("eu-west-1"), Some(4), Some(1)),
            (region("us-east-1"), Some(6), None)
        ]
    );
    let none = reader.replay_jobs(&[]).await.unwrap();
    assert_eq!(none.read.len(), 3, "nothing to read: every region answers empty");
}

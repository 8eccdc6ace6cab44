//! Delivery health: what the workers record per target in the delivery ledger
//! (`LOGSPOKE_LEDGER_TABLE`, item formats in `contract::ledger`), read for the health
//! endpoints and for the summary every config document embeds; and the progress the
//! workers write into replay job items (`contract::replay`), read for replay documents.
//!
//! - this module: the narrow [`HealthStore`] the code needs from the ledger table, the
//!   [`HealthReader`] built on it, and the pure rules: which counter buckets a window
//!   holds and how they add up ([`sum_counters`]), and which targets a state filter keeps
//!   ([`keeps`], [`might_be_failing`]);
//! - [`dynamodb`]: the store over DynamoDB (GetItem, BatchGetItem, Query);
//! - [`summary`]: the per-process cache behind the config documents' summary, so that
//!   reading health never fails a config request and rarely slows one;
//! - [`TargetCache`]: what `GET …/health` read of a target in the last
//!   [`TARGET_TTL`] (5 s), per replica, so a client polling it in a loop costs the ledger
//!   at most one read of the target per replica every 5 s.
//!
//! The api only reads the ledger here; the workers write it (the outbox relay creates
//! and cancels replay job items).

pub mod dynamodb;
pub mod summary;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use logspoke_contract::ledger::{
    bucket_start, CounterBucket, Counters, HealthItem, HealthState, Target, COUNTER_BUCKET_SECONDS,
};

use logspoke_contract::replay::ReplayJob;

use crate::aws::error::AwsError;
pub use dynamodb::DynamoHealthStore;
use summary::{SummaryCache, SummaryError};

/// The counters' long window.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The counters' short window.
pub const HOUR_MS: i64 = 60 * 60 * 1000;

/// Why the ledger could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// DynamoDB refused the call or could not be reached.
    #[error("reading the delivery ledger failed: {0}")]
    Aws(#[from] AwsError),
    /// DynamoDB did not answer in time.
    #[error("reading the delivery ledger took too long")]
    TimedOut,
    /// An item the workers wrote does not parse: a bug, never client input.
    #[error("a delivery ledger item is invalid: {0}")]
    Corrupt(String),
}

impl HealthError {
    /// True when asking again later may work (throttling, an outage, a timeout).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Aws(err) => err.is_transient(),
            Self::TimedOut => true,
            Self::Corrupt(_) => false,
        }
    }
}

/// A server-side pre-filter of the operator list: it may keep targets the exact state
/// refuses, never the other way round ([`might_be_failing`] is its twin in code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefilter {
    /// `parked_objects > 0 OR consecutive_failures > 0`.
    MightBeFailing,
}

/// One page request over the `health` partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// Resume after this sort key (`{tenant_id}#{type}`).
    pub after: Option<String>,
    /// Items to evaluate (DynamoDB's `Limit`: counted before the pre-filter).
    pub limit: i32,
    /// Drop items on the server that cannot match.
    pub prefilter: Option<Prefilter>,
}

/// What one Query of the `health` partition returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthPage {
    /// The items that passed the pre-filter, in sort-key order.
    pub items: Vec<HealthItem>,
    /// The sort key of the last item evaluated, when more may follow (DynamoDB's
    /// `LastEvaluatedKey`).
    pub last_evaluated: Option<String>,
}

/// What the api needs from the ledger table.
pub trait HealthStore: Send + Sync + 'static {
    /// One target's health item, `None` when the workers recorded nothing yet.
    fn health(&self, target: &Target)
        -> impl Future<Output = Result<Option<HealthItem>, HealthError>> + Send;

    /// The health items of several targets in one batched read; targets without one are
    /// absent from the answer.
    fn health_of(
        &self,
        targets: &[Target],
    ) -> impl Future<Output = Result<Vec<HealthItem>, HealthError>> + Send;

    /// A target's counter buckets starting from `from_s` to `to_s` (epoch seconds, both
    /// inclusive).
    fn counter_buckets(
        &self,
        target: &Target,
        from_s: i64,
        to_s: i64,
    ) -> impl Future<Output = Result<Vec<CounterBucket>, HealthError>> + Send;

    /// One page of every target's health item, in sort-key order.
    fn health_page(&self, query: &PageQuery) -> impl Future<Output = Result<HealthPage, HealthError>> + Send;

    /// The replay job items with these ids, in one batched read (the workers write their
    /// progress there); ids without an item are absent from the answer.
    fn replay_jobs(&self, ids: &[String])
        -> impl Future<Output = Result<Vec<ReplayJob>, HealthError>> + Send;
}

/// What a target received in the last hour and the last day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterWindows {
    /// Buckets starting at or after one hour ago (rounded down to its bucket).
    pub last_hour: Counters,
    /// Buckets starting at or after one day ago (rounded down to its bucket).
    pub last_day: Counters,
}

/// The bucket starts (epoch seconds) to read for [`sum_counters`] at `now_ms`: from the
/// bucket holding one day ago, to one bucket past the current one (a worker whose clock
/// runs a little ahead still counts).
pub fn counter_range(now_ms: i64) -> (i64, i64) {
    (
        bucket_start(now_ms - DAY_MS),
        bucket_start(now_ms) + COUNTER_BUCKET_SECONDS,
    )
}

/// Adds up buckets into the two windows. A window starts at the bucket holding its
/// start (so "the last hour" is 60 to 65 minutes); older buckets count in neither.
pub fn sum_counters(buckets: &[CounterBucket], now_ms: i64) -> CounterWindows {
    let day_from = bucket_start(now_ms - DAY_MS);
    let hour_from = bucket_start(now_ms - HOUR_MS);
    let mut windows = CounterWindows::default();
    for bucket in buckets {
        if bucket.start_s >= day_from {
            windows.last_day.add(&bucket.counters);
        }
        if bucket.start_s >= hour_from {
            windows.last_hour.add(&bucket.counters);
        }
    }
    windows
}

/// Whether a state filter (`None`: every state) keeps a target in `state`.
pub fn keeps(filter: Option<HealthState>, state: HealthState) -> bool {
    filter.is_none_or(|wanted| wanted == state)
}

/// The pre-filter that may stand in for `filter` on the server.
pub fn prefilter(filter: Option<HealthState>) -> Option<Prefilter> {
    match filter {
        Some(HealthState::Failing) => Some(Prefilter::MightBeFailing),
        _ => None,
    }
}

/// [`Prefilter::MightBeFailing`] in code: a target is `failing` only if it has parked
/// objects or failures since its last delivery.
pub fn might_be_failing(item: &HealthItem) -> bool {
    item.parked_objects > 0 || item.consecutive_failures > 0
}

/// How long a target's health read for `GET …/health` is answered from memory.
pub const TARGET_TTL: Duration = Duration::from_secs(5);

/// Targets whose reads are kept at most; past it, expired entries are dropped first and,
/// if that is not enough, all of them (a burst of distinct targets then reads again).
const TARGET_CACHE_ENTRIES: usize = 10_000;

/// A target's health item and its counters, as read together.
type TargetRead = (HealthItem, CounterWindows);

/// A target's health item and counters as read, by target.
#[derive(Default)]
pub struct TargetCache {
    reads: Mutex<HashMap<Target, (Instant, TargetRead)>>,
}

impl TargetCache {
    fn get(&self, target: &Target) -> Option<TargetRead> {
        let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        let (at, read) = reads.get(target)?;
        (at.elapsed() < TARGET_TTL).then(|| read.clone())
    }

    fn put(&self, target: &Target, read: &TargetRead) {
        let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        if reads.len() >= TARGET_CACHE_ENTRIES {
            reads.retain(|_, (at, _)| at.elapsed() < TARGET_TTL);
            if reads.len() >= TARGET_CACHE_ENTRIES {
                reads.clear();
            }
        }
        reads.insert(target.clone(), (Instant::now(), read.clone()));
    }
}

/// Reads delivery health for the handlers: the health endpoints' reads (kept
/// [`TARGET_TTL`] per target) and cached ones for the config documents' summary.
pub struct HealthReader<S = DynamoHealthStore> {
    store: Arc<S>,
    summaries: Arc<SummaryCache>,
    targets: Arc<TargetCache>,
}

impl<S> Clone for HealthReader<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            summaries: self.summaries.clone(),
            targets: self.targets.clone(),
        }
    }
}

impl<S: HealthStore> HealthReader<S> {
    /// A reader over `store` with the default summary cache.
    pub fn new(store: S) -> Self {
        Self::with_cache(store, SummaryCache::default())
    }

    /// A reader over `store` with its own summary cache settings.
    pub fn with_cache(store: S, cache: SummaryCache) -> Self {
        Self {
            store: Arc::new(store),
            summaries: Arc::new(cache),
            targets: Arc::default(),
        }
    }

    /// One target's health item (empty when nothing was recorded yet) and its counters,
    /// read together, or as read less than [`TARGET_TTL`] ago on this replica.
    pub async fn target(
        &self,
        target: &Target,
        now_ms: i64,
    ) -> Result<(HealthItem, CounterWindows), HealthError> {
        if let Some(read) = self.targets.get(target) {
            return Ok(read);
        }
        let (from_s, to_s) = counter_range(now_ms);
        let (item, buckets) = tokio::try_join!(
            self.store.health(target),
            self.store.counter_buckets(target, from_s, to_s)
        )?;
        let item = item.unwrap_or_else(|| HealthItem::empty(target.clone()));
        let read = (item, sum_counters(&buckets, now_ms));
        self.targets.put(target, &read);
        Ok(read)
    }

    /// The health items of `targets` for config documents, from the cache or one batched
    /// read; `None` when they could not be read (logged once here), so the documents go
    /// without their summary. A target nothing was recorded for has an empty item.
    pub async fn summaries(&self, targets: &[Target]) -> Option<HashMap<Target, HealthItem>> {
        match self.summaries.read(&*self.store, targets).await {
            Ok(items) => Some(items),
            Err(SummaryError::BackingOff) => None,
            Err(SummaryError::Failed(err)) => {
                tracing::warn!(
                    error = %err,
                    targets = targets.len(),
                    "delivery health could not be read; the config documents go without their health summary"
                );
                None
            }
        }
    }

    /// One Query of the `health` partition.
    pub async fn page(&self, query: &PageQuery) -> Result<HealthPage, HealthError> {
        self.store.health_page(query).await
    }

    /// The replay job items of `ids`, by id.
    pub async fn replay_jobs(&self, ids: &[String]) -> Result<HashMap<String, ReplayJob>, HealthError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let jobs = self.store.replay_jobs(ids).await?;
        Ok(jobs.into_iter().map(|job| (job.replay_id.clone(), job)).collect())
    }
}

#[cfg(test)]
mod tests;

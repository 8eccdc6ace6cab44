//! Delivery health: what the workers record per target in the delivery ledger
//! (`LOGSPOKE_LEDGER_TABLE`, item formats in `contract::ledger`), read for the health
//! endpoints and for the summary every config document embeds; and the progress the
//! workers write into replay job items (`contract::replay`), read for replay documents.
//!
//! Each provider region has its own ledger (the table `LOGSPOKE_LEDGER_TABLE` in that
//! region: its workers record what they delivered there), and the api reads every
//! region configured in `LOGSPOKE_DELIVERY_REGIONS` (by default its own) at once.
//!
//! - this module: the narrow [`HealthStore`] the code needs from one region's ledger
//!   table, and the pure rules: which counter buckets a window holds and how they add up
//!   ([`sum_counters`]), and which targets a state filter keeps ([`keeps`],
//!   [`might_be_failing`]);
//! - [`reader`]: the [`HealthReader`] over every region's store, with what `GET …/health`
//!   read of a target in the last [`TARGET_TTL`] (5 s), per replica, so a client polling
//!   it in a loop costs the ledgers at most one read of the target per replica every 5 s;
//! - [`regions`]: reading every region at once, where a region that does not answer
//!   never fails the others' answer ([`UnreadableRegion`]);
//! - [`merge`]: one target's items from several regions as one view ([`TargetHealth`]);
//! - [`pages`]: the operators' list, merged from the regions' pages by sort key;
//! - [`dynamodb`]: the store over DynamoDB (GetItem, BatchGetItem, Query);
//! - [`summary`]: the per-process cache behind the config documents' summary, so that
//!   reading health never fails a config request and rarely slows one.
//!
//! The api only reads the ledger here; the workers write it (the outbox relay creates
//! and cancels replay job items).

pub mod dynamodb;
pub mod merge;
pub mod pages;
pub mod reader;
pub mod regions;
pub mod summary;

use std::future::Future;

use logspoke_contract::ledger::{
    bucket_start, CounterBucket, Counters, HealthItem, HealthState, Target, COUNTER_BUCKET_SECONDS,
};

use logspoke_contract::replay::ReplayJob;

use crate::aws::error::AwsError;
pub use dynamodb::DynamoHealthStore;
pub use merge::{RegionItem, TargetHealth};
pub use reader::{HealthReader, RegionalPage, TARGET_TTL};
pub use regions::{Regional, UnreadableRegion};

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

    /// The staged time (ms) of the oldest object parked for `target` (the first of its
    /// parked range), `None` when nothing is parked.
    fn oldest_parked(&self, target: &Target)
        -> impl Future<Output = Result<Option<i64>, HealthError>> + Send;

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

#[cfg(test)]
mod tests;

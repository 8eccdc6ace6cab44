//! The health summary every config document carries ([`HealthSummary`]), and the
//! per-process cache behind it. A config read must never fail because of the ledger and
//! should almost never wait for it:
//!
//! - an item read is kept [`SummaryCache::ttl`] (5 s), per target, with "nothing recorded
//!   yet" kept as an empty item; a request reads the targets it misses in one
//!   BatchGetItem;
//! - that read is given [`SummaryCache::timeout`] (1 s); when it fails or times out, the
//!   documents go without a summary and no request reads the ledger for the next
//!   [`SummaryCache::ttl`] (so an outage costs one slow request per replica every 5 s,
//!   not one per request);
//! - the map is swept of expired entries when it grows past [`MAX_ENTRIES`];
//! - each region's ledger has its own cache ([`super::HealthReader`]), so a region
//!   that fails backs off alone and the summary is made of the others.
//!
//! Concurrent misses of one target may each read it; at most a handful per TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use logspoke_contract::ledger::{HealthItem, HealthState, Target};
use logspoke_contract::Cause;
use logspoke_contract::EffectiveState;
use serde::Serialize;
use tokio::time::Instant;
use utoipa::ToSchema;

use super::{HealthError, HealthStore, TargetHealth};

/// The short view of a target's health each config document carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({
    "state": "failing",
    "last_delivered_at": "2026-12-01T09:58:12.345Z",
    "parked_objects": 3,
    "last_error_cause": "log_group_missing"
}))]
pub struct HealthSummary {
    /// `healthy`, `failing`, `idle` or `paused` (see the config's `…/health`).
    pub state: HealthState,
    /// When an object last reached the target.
    #[schema(required = true)]
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Objects waiting for the target to work again.
    pub parked_objects: u64,
    /// The cause of the last failure.
    #[schema(required = true)]
    pub last_error_cause: Option<Cause>,
}

impl HealthSummary {
    /// The summary of a target, combined across the regions read (see [`super::merge`]),
    /// whose config is in `config_state`, at `now_ms`. A region that could not be read
    /// is simply not in it: the summary is a glance, `…/health` names what is missing.
    pub fn new(health: &TargetHealth, config_state: EffectiveState, now_ms: i64) -> Self {
        let item = health.merged();
        Self {
            state: health.state(config_state, now_ms),
            last_delivered_at: item
                .last_delivered_at_ms
                .and_then(DateTime::from_timestamp_millis),
            parked_objects: item.parked_objects,
            last_error_cause: item.last_error.as_ref().map(|e| e.cause),
        }
    }
}

/// Health items by target.
type Items = HashMap<Target, HealthItem>;

/// Entries above which expired ones are swept on the next insert.
pub const MAX_ENTRIES: usize = 10_000;

/// Why no summary could be given.
#[derive(Debug)]
pub enum SummaryError {
    /// A recent read failed; the ledger is left alone for a while.
    BackingOff,
    /// This read failed.
    Failed(HealthError),
}

/// Cached health items by target.
#[derive(Debug)]
pub struct SummaryCache {
    /// How long an item (or a failure) is remembered.
    pub ttl: Duration,
    /// How long one read may take.
    pub timeout: Duration,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<Target, (Instant, HealthItem)>,
    backing_off_until: Option<Instant>,
}

impl Default for SummaryCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(1))
    }
}

impl SummaryCache {
    /// A cache keeping entries for `ttl` and giving each read `timeout`.
    pub fn new(ttl: Duration, timeout: Duration) -> Self {
        Self {
            ttl,
            timeout,
            state: Mutex::new(CacheState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The items of `targets`, reading the ones not cached from `store` in one call.
    pub async fn read<S: HealthStore>(
        &self,
        store: &S,
        targets: &[Target],
    ) -> Result<HashMap<Target, HealthItem>, SummaryError> {
        let now = Instant::now();
        let (mut found, missing) = self.cached(targets, now)?;
        if missing.is_empty() {
            return Ok(found);
        }
        let read = match tokio::time::timeout(self.timeout, store.health_of(&missing)).await {
            Ok(Ok(items)) => items,
            Ok(Err(err)) => return Err(self.failed(err)),
            Err(_) => return Err(self.failed(HealthError::TimedOut)),
        };
        let mut read: HashMap<Target, HealthItem> =
            read.into_iter().map(|item| (item.target.clone(), item)).collect();
        for target in missing {
            let item = read
                .remove(&target)
                .unwrap_or_else(|| HealthItem::empty(target.clone()));
            found.insert(target, item);
        }
        self.store(&found, Instant::now());
        Ok(found)
    }

    /// The fresh entries of `targets`, and the targets without one.
    fn cached(&self, targets: &[Target], now: Instant) -> Result<(Items, Vec<Target>), SummaryError> {
        let state = self.lock();
        if state.backing_off_until.is_some_and(|until| now < until) {
            return Err(SummaryError::BackingOff);
        }
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for target in targets {
            match state.entries.get(target) {
                Some((until, item)) if now < *until => {
                    found.insert(target.clone(), item.clone());
                }
                _ => missing.push(target.clone()),
            }
        }
        Ok((found, missing))
    }

    fn store(&self, items: &HashMap<Target, HealthItem>, now: Instant) {
        let until = now + self.ttl;
        let mut state = self.lock();
        state.backing_off_until = None;
        if state.entries.len() + items.len() > MAX_ENTRIES {
            state.entries.retain(|_, (expires, _)| now < *expires);
        }
        for (target, item) in items {
            state.entries.insert(target.clone(), (until, item.clone()));
        }
    }

    fn failed(&self, err: HealthError) -> SummaryError {
        self.lock().backing_off_until = Some(Instant::now() + self.ttl);
        SummaryError::Failed(err)
    }

    /// Entries held now (for tests).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! [`HealthReader`]: what the handlers read from the ledgers, every configured region at
//! once. A region that does not answer is left out and named (it is logged here, once
//! per read); a read fails only when no region answered, and then as the first region's
//! did (so with one region, exactly as before regions were configurable).

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use logspoke_contract::ledger::{HealthItem, Target};
use logspoke_contract::replay::ReplayJob;
use logspoke_contract::Region;
use tokio::time::Instant;

use super::merge::{RegionItem, TargetHealth};
use super::pages::{merge_pages, target_health};
use super::regions::Regional;
use super::summary::{SummaryCache, SummaryError};
use super::{
    counter_range, sum_counters, CounterWindows, DynamoHealthStore, HealthError, HealthStore, PageQuery,
};

/// How long a target's health read for `GET …/health` is answered from memory.
pub const TARGET_TTL: Duration = Duration::from_secs(5);

/// Targets whose reads are kept at most; past it, expired entries are dropped first and,
/// if that is not enough, all of them (a burst of distinct targets then reads again).
const TARGET_CACHE_ENTRIES: usize = 10_000;

/// A target's health across the regions as read (with its counters), by target.
#[derive(Default)]
struct TargetCache {
    reads: Mutex<HashMap<Target, (Instant, TargetHealth)>>,
}

impl TargetCache {
    fn get(&self, target: &Target) -> Option<TargetHealth> {
        let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        let (at, read) = reads.get(target)?;
        (at.elapsed() < TARGET_TTL).then(|| read.clone())
    }

    fn put(&self, target: &Target, read: &TargetHealth) {
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

/// One region's ledger, with its own summary cache (so a region that fails backs off
/// alone).
struct LedgerRegion<S> {
    region: Region,
    store: S,
    summaries: SummaryCache,
}

/// One page of the operators' list across the regions.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionalPage {
    /// The targets, in sort-key order; with a pre-filter, only the regions that returned
    /// an item are listed for each (see [`HealthReader::fill_in`]).
    pub targets: Vec<TargetHealth>,
    /// Where the next query continues; `None` when every region's partition ended.
    pub last_evaluated: Option<String>,
    /// The regions that did not answer.
    pub unreadable: Vec<Region>,
}

/// Reads delivery health for the handlers from every configured region: the health
/// endpoints' reads (kept [`TARGET_TTL`] per target) and cached ones for the config
/// documents' summary.
pub struct HealthReader<S = DynamoHealthStore> {
    regions: Arc<Vec<LedgerRegion<S>>>,
    targets: Arc<TargetCache>,
}

impl<S> Clone for HealthReader<S> {
    fn clone(&self) -> Self {
        Self {
            regions: self.regions.clone(),
            targets: self.targets.clone(),
        }
    }
}

/// Logs the regions that did not answer a read of `what`.
fn log_unreadable<E: Display>(errors: &[(Region, E)], what: &str) {
    for (region, err) in errors {
        tracing::warn!(region = region.as_str(), error = %err, "the delivery ledger of a region could not be read for {what}; it is left out");
    }
}

/// One target's item (empty when the region recorded nothing) and counters in a region.
async fn read_target<S: HealthStore>(
    store: &S,
    target: &Target,
    now_ms: i64,
) -> Result<(HealthItem, CounterWindows), HealthError> {
    let (from_s, to_s) = counter_range(now_ms);
    let (item, buckets) =
        tokio::try_join!(store.health(target), store.counter_buckets(target, from_s, to_s))?;
    let item = item.unwrap_or_else(|| HealthItem::empty(target.clone()));
    Ok((item, sum_counters(&buckets, now_ms)))
}

impl<S: HealthStore> HealthReader<S> {
    /// A reader over each region's ledger, in the order documents list the regions.
    pub fn new(stores: Vec<(Region, S)>) -> Self {
        let regions = stores
            .into_iter()
            .map(|(region, store)| LedgerRegion {
                region,
                store,
                summaries: SummaryCache::default(),
            })
            .collect();
        Self {
            regions: Arc::new(regions),
            targets: Arc::default(),
        }
    }

    /// The configured regions, in order.
    pub fn regions(&self) -> Vec<Region> {
        self.regions.iter().map(|r| r.region).collect()
    }

    /// `read` of every region at once, by region in configured order.
    async fn each_region<'a, T, F, Fut>(&'a self, read: F) -> Vec<(Region, T)>
    where
        F: FnMut(&'a LedgerRegion<S>) -> Fut,
        Fut: Future<Output = T>,
    {
        let answers = join_all(self.regions.iter().map(read)).await;
        self.regions.iter().map(|r| r.region).zip(answers).collect()
    }

    /// One target's health in every region (an empty item where nothing was recorded)
    /// with its counters, or as read less than [`TARGET_TTL`] ago on this replica (a read
    /// that missed a region too: it names the region, and a failing region is not asked
    /// again on every poll).
    pub async fn target(&self, target: &Target, now_ms: i64) -> Result<TargetHealth, HealthError> {
        if let Some(read) = self.targets.get(target) {
            return Ok(read);
        }
        let answers = self.each_region(|r| read_target(&r.store, target, now_ms)).await;
        let (regional, errors) = Regional::sort(answers);
        log_unreadable(&errors, "a target's health");
        let regional = regional.unless_none_read(errors)?;
        let regions = regional
            .read
            .into_iter()
            .map(|(region, (item, counters))| RegionItem {
                region,
                item,
                counters: Some(counters),
            })
            .collect();
        let health = TargetHealth {
            target: target.clone(),
            regions,
            unreadable: regional.unreadable,
        };
        self.targets.put(target, &health);
        Ok(health)
    }

    /// The health of `targets` for config documents, from each region's cache or one
    /// batched read per region; `None` when no region could be read (logged once here),
    /// so the documents go without their summary. A region that could not be read is
    /// left out of the summary: a summary may miss a region (its `…/health` names it).
    pub async fn summaries(&self, targets: &[Target]) -> Option<HashMap<Target, TargetHealth>> {
        let answers = self.each_region(|r| r.summaries.read(&r.store, targets)).await;
        let (regional, errors) = Regional::sort(answers);
        let failed: Vec<_> = errors
            .iter()
            .filter_map(|(region, err)| match err {
                SummaryError::Failed(err) => Some((*region, err)),
                SummaryError::BackingOff => None,
            })
            .collect();
        log_unreadable(&failed, "the config documents' health summary");
        if regional.read.is_empty() {
            return None;
        }
        Some(summary_health(targets, regional))
    }

    /// One Query of the `health` partition in every region, merged by sort key
    /// ([`super::pages`]).
    pub async fn page(&self, query: &PageQuery) -> Result<RegionalPage, HealthError> {
        let answers = self.each_region(|r| r.store.health_page(query)).await;
        let (regional, errors) = Regional::sort(answers);
        log_unreadable(&errors, "the operators' list");
        let regional = regional.unless_none_read(errors)?;
        let read: Vec<Region> = regional.read.iter().map(|(region, _)| *region).collect();
        let merged = merge_pages(regional.read);
        let prefiltered = query.prefilter.is_some();
        let targets = merged
            .targets
            .into_iter()
            .map(|(target, items)| target_health(target, items, &read, prefiltered, &regional.unreadable))
            .collect();
        Ok(RegionalPage {
            targets,
            last_evaluated: merged.last_evaluated,
            unreadable: regional.unreadable,
        })
    }

    /// Completes targets listed through a pre-filter: reads, in one batch per region, the
    /// items of the regions that did not return them (an empty item when the region holds
    /// none). A region that cannot be read is named unreadable for the targets it lacks.
    pub async fn fill_in(&self, page: &mut [TargetHealth]) {
        let answers = self
            .each_region(|r| {
                let missing = lacking(page, r.region);
                async move {
                    if missing.is_empty() {
                        return Ok(Vec::new());
                    }
                    r.store.health_of(&missing).await
                }
            })
            .await;
        let (regional, errors) = Regional::sort(answers);
        log_unreadable(&errors, "the operators' list");
        fill(page, regional, &self.regions());
    }

    /// The staged time (ms) of the oldest object parked for `target` in any region that
    /// answers (`None`: nothing parked where it could be read).
    pub async fn oldest_parked(&self, target: &Target) -> Option<i64> {
        let answers = self.each_region(|r| r.store.oldest_parked(target)).await;
        let (regional, errors) = Regional::sort(answers);
        log_unreadable(&errors, "the oldest parked object");
        regional.read.into_iter().filter_map(|(_, oldest)| oldest).min()
    }

    /// The replay job items of `ids` in every region, by id.
    pub async fn replay_jobs(
        &self,
        ids: &[String],
    ) -> Result<Regional<HashMap<String, ReplayJob>>, HealthError> {
        let answers = self
            .each_region(|r| async move {
                if ids.is_empty() {
                    return Ok(HashMap::new());
                }
                let jobs = r.store.replay_jobs(ids).await?;
                Ok(jobs.into_iter().map(|job| (job.replay_id.clone(), job)).collect())
            })
            .await;
        let (regional, errors) = Regional::sort(answers);
        log_unreadable(&errors, "replay progress");
        regional.unless_none_read(errors)
    }
}

/// Adds to each target of `page` what the regions read for it (an empty item where a
/// region holds none), names the unreadable regions, and puts both in `order`.
fn fill(page: &mut [TargetHealth], regional: Regional<Vec<HealthItem>>, order: &[Region]) {
    for (region, items) in regional.read {
        let mut items: HashMap<Target, HealthItem> = items
            .into_iter()
            .map(|item| (item.target.clone(), item))
            .collect();
        for health in page.iter_mut().filter(|h| h.lacks(region)) {
            let item = items
                .remove(&health.target)
                .unwrap_or_else(|| HealthItem::empty(health.target.clone()));
            health.regions.push(RegionItem {
                region,
                item,
                counters: None,
            });
        }
    }
    for region in regional.unreadable {
        for health in page.iter_mut().filter(|h| h.lacks(region)) {
            health.unreadable.push(region);
        }
    }
    for health in page.iter_mut() {
        health.in_order(order);
    }
}

/// The targets of `page` that neither list `region` nor name it unreadable.
fn lacking(page: &[TargetHealth], region: Region) -> Vec<Target> {
    page.iter()
        .filter(|health| health.lacks(region))
        .map(|health| health.target.clone())
        .collect()
}

/// Each target's health from the regions' summary reads (which hold an item, maybe
/// empty, for every target).
fn summary_health(
    targets: &[Target],
    regional: Regional<HashMap<Target, HealthItem>>,
) -> HashMap<Target, TargetHealth> {
    targets
        .iter()
        .map(|target| {
            let regions = regional
                .read
                .iter()
                .map(|(region, items)| RegionItem {
                    region: *region,
                    item: items
                        .get(target)
                        .cloned()
                        .unwrap_or_else(|| HealthItem::empty(target.clone())),
                    counters: None,
                })
                .collect();
            let health = TargetHealth {
                target: target.clone(),
                regions,
                unreadable: regional.unreadable.clone(),
            };
            (target.clone(), health)
        })
        .collect()
}

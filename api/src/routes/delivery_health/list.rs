//! `GET /v1/delivery-health`

use std::collections::HashMap;
use std::future::Future;

use axum::extract::State;
use axum::Json;
use logspoke_contract::ledger::{HealthState, Target};
use logspoke_contract::{EffectiveState, Region};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::DeliveryHealth;
use crate::auth::Principal;
use crate::configs::repository;
use crate::delivery_health::{keeps, prefilter, PageQuery, RegionalPage, TargetHealth, UnreadableRegion};
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{encode_cursor, PageParams, PageRequest};
use crate::state::AppState;

/// Queries of the ledger one page may take before it answers with what it found (and a
/// cursor to continue from), so a filter matching few targets cannot make one request
/// read the whole partition.
const MAX_QUERIES: usize = 10;
/// Items a filtered query evaluates at least (DynamoDB counts `Limit` before filtering).
const FILTERED_BATCH: i32 = 100;

/// `?state=&limit=&cursor=` of the operators' list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryHealthParams {
    /// Only targets in this state.
    #[param(inline)]
    pub state: Option<HealthState>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of targets' delivery health, ordered by tenant and type.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryHealthPage {
    /// This page (without `counters`).
    pub items: Vec<DeliveryHealth>,
    /// Pass as `cursor` to get the next page; absent on the last page. A filtered page
    /// may hold fewer than `limit` items and still have one.
    pub next_cursor: Option<String>,
    /// The provider regions whose delivery ledger could not be read for this page:
    /// their targets may be missing from it, or listed without that region (empty when
    /// every region was read).
    pub unreadable_regions: Vec<UnreadableRegion>,
}

/// List delivery health across tenants
///
/// Operators only. Every target the workers of any provider region have recorded
/// anything for, ordered by tenant and type, optionally only those in one `state`
/// (`failing`: what needs attention; a target failing in any region is `failing`).
/// Targets nothing was recorded for yet, and those whose config was deleted, are not
/// listed. Items carry no `counters` (read one target's health for them). Continue while
/// `next_cursor` is present: with a filter, a page may hold fewer than `limit` items
/// before the end. A region whose ledger cannot be read is named in `unreadable_regions`
/// and left out; only when no region can be read is the answer 503.
#[utoipa::path(
    get,
    path = "/v1/delivery-health",
    tag = "delivery-health",
    params(DeliveryHealthParams),
    responses(
        (status = 200, description = "A page of targets' health", body = DeliveryHealthPage),
        (status = 400, description = "Bad state, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No region's delivery ledger could be read; retry later",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_delivery_health(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<DeliveryHealthParams>,
) -> Result<Json<DeliveryHealthPage>, ApiError> {
    principal.require_operator()?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let listed = collect(&state, &page, params.state, now_ms).await?;
    let items = listed
        .items
        .iter()
        .map(|(config_state, health)| DeliveryHealth::new(health, *config_state, now_ms))
        .collect();
    Ok(Json(DeliveryHealthPage {
        items,
        next_cursor: listed.next_cursor,
        unreadable_regions: UnreadableRegion::all(&listed.unreadable),
    }))
}

/// What listing reads: the ledgers' pages (through the [`crate::delivery_health::HealthReader`])
/// and the state of each listed target's config. A trait so the paging is tested
/// without a database.
trait Listing: Sync {
    /// One query of every region's `health` partition, merged.
    fn page(&self, query: &PageQuery) -> impl Future<Output = Result<RegionalPage, ApiError>> + Send;

    /// Completes pre-filtered targets with the items the regions left out.
    fn fill_in(&self, page: &mut [TargetHealth]) -> impl Future<Output = ()> + Send;

    /// The effective state of each target's config; targets without one are absent.
    fn config_states(
        &self,
        targets: &[TargetHealth],
    ) -> impl Future<Output = Result<HashMap<Target, EffectiveState>, ApiError>> + Send;
}

impl Listing for AppState {
    async fn page(&self, query: &PageQuery) -> Result<RegionalPage, ApiError> {
        Ok(self.health.page(query).await?)
    }

    async fn fill_in(&self, page: &mut [TargetHealth]) {
        self.health.fill_in(page).await;
    }

    async fn config_states(
        &self,
        targets: &[TargetHealth],
    ) -> Result<HashMap<Target, EffectiveState>, ApiError> {
        config_states(self, targets).await
    }
}

/// A page of targets with their configs' states, its cursor and the regions missing.
struct Listed {
    items: Vec<(EffectiveState, TargetHealth)>,
    next_cursor: Option<String>,
    unreadable: Vec<Region>,
}

/// Queries the ledgers until the page is full (one more than `limit`, to know whether
/// another follows), every region's partition ends, or [`MAX_QUERIES`] were made; then
/// completes the targets a pre-filter may have left partial. The state filter applies
/// to the combined state; the pre-filter is safe per region, since a target is combined
/// `failing` only where some region's item is failing, and such an item passes it.
async fn collect<L: Listing>(
    listing: &L,
    page: &PageRequest,
    filter: Option<HealthState>,
    now_ms: i64,
) -> Result<Listed, ApiError> {
    let mut matched: Vec<(String, (EffectiveState, TargetHealth))> = Vec::new();
    let mut unreadable: Vec<Region> = Vec::new();
    let mut after = page.after.clone();
    let limit = page.limit as usize;
    for _ in 0..MAX_QUERIES {
        let query = PageQuery {
            after: after.clone(),
            limit: batch_limit(page, filter),
            prefilter: prefilter(filter),
        };
        let batch = listing.page(&query).await?;
        union(&mut unreadable, &batch.unreadable);
        let states = listing.config_states(&batch.targets).await?;
        matched.extend(matching(batch.targets, &states, filter, now_ms));
        after = batch.last_evaluated;
        if matched.len() > limit || after.is_none() {
            break;
        }
    }
    let (mut items, next_cursor) = finish_page(matched, limit, after);
    if prefilter(filter).is_some() {
        fill_in(listing, &mut items).await;
    }
    for (_, health) in &items {
        union(&mut unreadable, &health.unreadable);
    }
    Ok(Listed {
        items,
        next_cursor,
        unreadable,
    })
}

/// The targets whose config exists (a deleted config's target keeps a health item until
/// it expires) and whose combined state the filter keeps, by sort key.
fn matching(
    targets: Vec<TargetHealth>,
    states: &HashMap<Target, EffectiveState>,
    filter: Option<HealthState>,
    now_ms: i64,
) -> Vec<(String, (EffectiveState, TargetHealth))> {
    targets
        .into_iter()
        .filter_map(|health| {
            let config_state = *states.get(&health.target)?;
            keeps(filter, health.state(config_state, now_ms))
                .then(|| (health.target.partition(), (config_state, health)))
        })
        .collect()
}

/// Completes the listed targets of a pre-filtered page with every region's item.
async fn fill_in<L: Listing>(listing: &L, items: &mut [(EffectiveState, TargetHealth)]) {
    let mut healths: Vec<TargetHealth> = items.iter().map(|(_, health)| health.clone()).collect();
    listing.fill_in(&mut healths).await;
    for ((_, health), filled) in items.iter_mut().zip(healths) {
        *health = filled;
    }
}

/// Adds the regions of `more` that `regions` does not hold yet.
fn union(regions: &mut Vec<Region>, more: &[Region]) {
    for region in more {
        if !regions.contains(region) {
            regions.push(*region);
        }
    }
}

/// The page and its cursor: after the last item returned when more matched, else after
/// the last key evaluated (in every region) when some region's partition did not end.
fn finish_page<T>(
    mut matched: Vec<(String, T)>,
    limit: usize,
    last_evaluated: Option<String>,
) -> (Vec<T>, Option<String>) {
    let next = if matched.len() > limit {
        matched.truncate(limit);
        matched.last().map(|(key, _)| encode_cursor(key))
    } else {
        last_evaluated.map(|key| encode_cursor(&key))
    };
    (matched.into_iter().map(|(_, item)| item).collect(), next)
}

/// DynamoDB's `Limit` for one query: the page and one more, or (filtered) at least
/// [`FILTERED_BATCH`], since most items evaluated will not match.
fn batch_limit(page: &PageRequest, filter: Option<HealthState>) -> i32 {
    let fetch = i32::try_from(page.fetch_limit()).unwrap_or(i32::MAX);
    if filter.is_some() {
        fetch.max(FILTERED_BATCH)
    } else {
        fetch
    }
}

/// The effective state of each listed target's config, in one query.
async fn config_states(
    state: &AppState,
    targets: &[TargetHealth],
) -> Result<HashMap<Target, EffectiveState>, ApiError> {
    let targets: Vec<_> = targets
        .iter()
        .map(|health| (health.target.tenant_id.clone(), health.target.delivery_type))
        .collect();
    let mut conn = state.db.acquire().await?;
    let configs = repository::fetch_many(&mut conn, &targets).await?;
    Ok(configs
        .iter()
        .map(|config| {
            let target = Target::new(config.tenant_id.clone(), config.delivery_type());
            (target, config.state())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use logspoke_contract::ledger::{CounterBucket, HealthItem};
    use logspoke_contract::replay::ReplayJob;
    use logspoke_contract::{DeliveryType, TenantId};

    use super::*;
    use crate::delivery_health::{
        might_be_failing, HealthError, HealthPage, HealthReader, HealthStore, Prefilter,
    };

    #[test]
    fn a_full_page_continues_after_its_last_item_and_a_short_one_after_the_last_evaluated() {
        let matched: Vec<(String, &str)> = ["acme", "globex", "initech"]
            .into_iter()
            .map(|tenant| (format!("{tenant}#s3"), tenant))
            .collect();
        let (items, next) = finish_page(matched.clone(), 2, Some("zeta#s3".into()));
        assert_eq!(items, ["acme", "globex"]);
        assert_eq!(next, Some(encode_cursor("globex#s3")));
        let (items, next) = finish_page(matched.clone(), 3, Some("zeta#s3".into()));
        assert_eq!((items.len(), next), (3, Some(encode_cursor("zeta#s3"))));
        let (items, next) = finish_page(matched, 3, None);
        assert_eq!((items.len(), next), (3, None));
    }

    #[test]
    fn a_filtered_query_evaluates_more_items_than_the_page() {
        let page = PageRequest {
            limit: 1,
            after: None,
        };
        assert_eq!(batch_limit(&page, None), 2);
        assert_eq!(batch_limit(&page, Some(HealthState::Failing)), FILTERED_BATCH);
        let big = PageRequest {
            limit: 500,
            after: None,
        };
        assert_eq!(batch_limit(&big, Some(HealthState::Paused)), 501);
    }

    const NOW_MS: i64 = 1_800_000_000_000;

    fn target(n: usize) -> Target {
        Target::new(
            TenantId::parse(&format!("t{n:03}")).unwrap(),
            DeliveryType::Cloudwatch,
        )
    }

    /// One region's `health` partition, paged as DynamoDB pages it: `Limit` items
    /// evaluated, the pre-filter applied after, `LastEvaluatedKey` whenever the limit was
    /// reached (also when nothing follows).
    struct PagingStore {
        items: Vec<HealthItem>,
        fails: bool,
    }

    impl PagingStore {
        /// Items for the targets `numbers`; those in `parked` have parked objects.
        fn new(numbers: impl IntoIterator<Item = usize>, parked: impl Fn(usize) -> bool) -> Self {
            let mut items: Vec<HealthItem> = numbers
                .into_iter()
                .map(|n| HealthItem {
                    parked_objects: u64::from(parked(n)),
                    last_delivered_at_ms: Some(NOW_MS - 1_000),
                    ..HealthItem::empty(target(n))
                })
                .collect();
            items.sort_by_key(|item| item.target.partition());
            Self { items, fails: false }
        }

        fn failed(&self) -> Result<(), HealthError> {
            match self.fails {
                true => Err(HealthError::TimedOut),
                false => Ok(()),
            }
        }
    }

    impl HealthStore for PagingStore {
        async fn health(&self, _: &Target) -> Result<Option<HealthItem>, HealthError> {
            Ok(None)
        }

        async fn health_of(&self, targets: &[Target]) -> Result<Vec<HealthItem>, HealthError> {
            self.failed()?;
            Ok(self
                .items
                .iter()
                .filter(|item| targets.contains(&item.target))
                .cloned()
                .collect())
        }

        async fn counter_buckets(
            &self,
            _: &Target,
            _: i64,
            _: i64,
        ) -> Result<Vec<CounterBucket>, HealthError> {
            Ok(Vec::new())
        }

        async fn oldest_parked(&self, _: &Target) -> Result<Option<i64>, HealthError> {
            self.failed()?;
            Ok(None)
        }

        async fn health_page(&self, query: &PageQuery) -> Result<HealthPage, HealthError> {
            self.failed()?;
            let limit = usize::try_from(query.limit).unwrap();
            let evaluated: Vec<&HealthItem> = self
                .items
                .iter()
                .filter(|item| {
                    query
                        .after
                        .as_ref()
                        .is_none_or(|after| &item.target.partition() > after)
                })
                .take(limit)
                .collect();
            let last_evaluated = (evaluated.len() == limit)
                .then(|| evaluated.last().map(|item| item.target.partition()))
                .flatten();
            let items = evaluated
                .into_iter()
                .filter(|item| query.prefilter != Some(Prefilter::MightBeFailing) || might_be_failing(item))
                .cloned()
                .collect();
            Ok(HealthPage {
                items,
                last_evaluated,
            })
        }

        async fn replay_jobs(&self, _: &[String]) -> Result<Vec<ReplayJob>, HealthError> {
            Ok(Vec::new())
        }
    }

    /// The ledgers of several regions; every fourth target's config was deleted, the
    /// others are active.
    struct FakeListing(HealthReader<PagingStore>);

    fn has_config(n: usize) -> bool {
        n % 4 != 3
    }

    impl Listing for FakeListing {
        async fn page(&self, query: &PageQuery) -> Result<RegionalPage, ApiError> {
            Ok(self.0.page(query).await?)
        }

        async fn fill_in(&self, page: &mut [TargetHealth]) {
            self.0.fill_in(page).await;
        }

        async fn config_states(
            &self,
            targets: &[TargetHealth],
        ) -> Result<HashMap<Target, EffectiveState>, ApiError> {
            Ok(targets
                .iter()
                .filter(|health| (0..TARGETS).any(|n| has_config(n) && target(n) == health.target))
                .map(|health| (health.target.clone(), EffectiveState::Active))
                .collect())
        }
    }

    fn region(name: &str) -> Region {
        Region::parse(name).unwrap()
    }

    /// Targets, more than a filtered query evaluates (so a region's page ends early).
    const TARGETS: usize = 400;

    fn in_west(n: usize) -> bool {
        n % 2 == 0
    }
    fn in_east(n: usize) -> bool {
        n % 3 == 0 || n % 5 == 1
    }
    fn in_south(n: usize) -> bool {
        n % 7 == 0 || n > 330
    }
    fn parked_in_west(n: usize) -> bool {
        n % 50 == 4
    }
    fn parked_in_east(n: usize) -> bool {
        n % 45 == 21
    }
    fn parked_in_south(n: usize) -> bool {
        n == 335 || n == 397
    }

    /// Three regions holding uneven, overlapping sets of targets; some parked.
    fn listing(south_fails: bool) -> FakeListing {
        let mut south = PagingStore::new((0..TARGETS).filter(|n| in_south(*n)), parked_in_south);
        south.fails = south_fails;
        FakeListing(HealthReader::new(vec![
            (
                region("eu-west-1"),
                PagingStore::new((0..TARGETS).filter(|n| in_west(*n)), parked_in_west),
            ),
            (
                region("us-east-1"),
                PagingStore::new((0..TARGETS).filter(|n| in_east(*n)), parked_in_east),
            ),
            (region("ap-south-1"), south),
        ]))
    }

    /// Follows `next_cursor` to the end: every page's items, in order.
    async fn every_page(listing: &FakeListing, limit: u32, filter: Option<HealthState>) -> Vec<Listed> {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let request = PageParams {
                limit: Some(limit),
                cursor,
            }
            .parse()
            .unwrap();
            let listed = collect(listing, &request, filter, NOW_MS).await.unwrap();
            assert!(listed.items.len() <= limit as usize);
            cursor = listed.next_cursor.clone();
            pages.push(listed);
            if cursor.is_none() {
                return pages;
            }
            assert!(pages.len() <= 2 * TARGETS, "the cursor does not advance");
        }
    }

    fn keys(pages: &[Listed]) -> Vec<String> {
        pages
            .iter()
            .flat_map(|page| &page.items)
            .map(|(_, health)| health.target.partition())
            .collect()
    }

    /// The keys of the targets (with a config) for which `keep` holds, in order, once each.
    fn expected(keep: impl Fn(usize) -> bool) -> Vec<String> {
        let keys: BTreeSet<String> = (0..TARGETS)
            .filter(|n| has_config(*n) && keep(*n))
            .map(|n| target(n).partition())
            .collect();
        keys.into_iter().collect()
    }

    fn listed(pages: &[Listed], n: usize) -> &TargetHealth {
        pages
            .iter()
            .flat_map(|page| &page.items)
            .map(|(_, health)| health)
            .find(|health| health.target == target(n))
            .unwrap()
    }

    #[tokio::test]
    async fn pages_across_regions_list_every_target_once_in_order_whatever_the_page_size() {
        let listing = listing(false);
        let all = expected(|n| in_west(n) || in_east(n) || in_south(n));
        for limit in [1, 2, 3, 7, 50, 500] {
            let pages = every_page(&listing, limit, None).await;
            assert_eq!(keys(&pages), all, "limit {limit}");
            for (_, health) in pages.iter().flat_map(|page| &page.items) {
                let regions: Vec<&str> = health.regions.iter().map(|r| r.region.as_str()).collect();
                assert_eq!(
                    regions,
                    ["eu-west-1", "us-east-1", "ap-south-1"],
                    "every region listed, in order"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_failing_filter_lists_targets_failing_in_any_region_with_every_regions_item() {
        let listing = listing(false);
        let failing = expected(|n| parked_in_west(n) || parked_in_east(n) || parked_in_south(n));
        assert!(failing.len() > 10, "{failing:?}");
        for limit in [1, 2, 4, 50] {
            let pages = every_page(&listing, limit, Some(HealthState::Failing)).await;
            assert_eq!(keys(&pages), failing, "limit {limit}");
            // Parked in eu-west-1 only; the other regions' items were read for it too:
            // us-east-1 holds none (an empty item), ap-south-1 a healthy one.
            let t154 = listed(&pages, 154);
            let parked: Vec<u64> = t154.regions.iter().map(|r| r.item.parked_objects).collect();
            assert_eq!(parked, [1, 0, 0]);
            assert_eq!(t154.regions[1].item, HealthItem::empty(target(154)));
            assert_eq!(t154.regions[2].item.last_delivered_at_ms, Some(NOW_MS - 1_000));
            assert!(listed(&pages, 336).regions[2].item.parked_objects == 0 && in_south(336));
        }
    }

    #[tokio::test]
    async fn a_region_that_cannot_be_read_is_named_and_the_others_are_listed() {
        let listing = listing(true);
        let pages = every_page(&listing, 5, None).await;
        assert_eq!(keys(&pages), expected(|n| in_west(n) || in_east(n)));
        for page in &pages {
            assert_eq!(page.unreadable, [region("ap-south-1")]);
            for (_, health) in &page.items {
                assert_eq!(health.unreadable, [region("ap-south-1")]);
                assert_eq!(health.regions.len(), 2);
            }
        }
        let failing = every_page(&listing, 5, Some(HealthState::Failing)).await;
        assert_eq!(
            keys(&failing),
            expected(|n| parked_in_west(n) || parked_in_east(n))
        );
        assert_eq!(failing[0].unreadable, [region("ap-south-1")]);
    }
}

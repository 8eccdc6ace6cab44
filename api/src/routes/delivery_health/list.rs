//! `GET /v1/delivery-health`

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use logspoke_contract::ledger::{HealthItem, HealthState, Target};
use logspoke_contract::EffectiveState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::DeliveryHealth;
use crate::auth::Principal;
use crate::configs::repository;
use crate::delivery_health::{keeps, prefilter, PageQuery};
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
}

/// List delivery health across tenants
///
/// Operators only. Every target the workers have recorded anything for, ordered by
/// tenant and type, optionally only those in one `state` (`failing`: what needs
/// attention). Targets nothing was recorded for yet, and those whose config was
/// deleted, are not listed. Items carry no `counters` (read one target's health for
/// them). Continue while `next_cursor` is present: with a filter, a page may hold fewer
/// than `limit` items before the end.
#[utoipa::path(
    get,
    path = "/v1/delivery-health",
    tag = "delivery-health",
    params(DeliveryHealthParams),
    responses(
        (status = 200, description = "A page of targets' health", body = DeliveryHealthPage),
        (status = 400, description = "Bad state, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The delivery ledger could not be read; retry later",
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
    let (items, next_cursor) = collect(&state, &page, params.state, now_ms).await?;
    Ok(Json(DeliveryHealthPage { items, next_cursor }))
}

/// Queries the ledger until the page is full (one more than `limit`, to know whether
/// another follows), the partition ends, or [`MAX_QUERIES`] were made.
async fn collect(
    state: &AppState,
    page: &PageRequest,
    filter: Option<HealthState>,
    now_ms: i64,
) -> Result<(Vec<DeliveryHealth>, Option<String>), ApiError> {
    let mut matched: Vec<(String, DeliveryHealth)> = Vec::new();
    let mut after = page.after.clone();
    let limit = page.limit as usize;
    for _ in 0..MAX_QUERIES {
        let query = PageQuery {
            after: after.clone(),
            limit: batch_limit(page, filter),
            prefilter: prefilter(filter),
        };
        let batch = state.health.page(&query).await?;
        let states = config_states(state, &batch.items).await?;
        for item in &batch.items {
            // A target whose config no longer exists has a health item until it expires.
            let Some(config_state) = states.get(&item.target) else {
                continue;
            };
            let health = DeliveryHealth::new(item, *config_state, now_ms, None);
            if keeps(filter, health.state) {
                matched.push((item.target.partition(), health));
            }
        }
        after = batch.last_evaluated;
        if matched.len() > limit || after.is_none() {
            break;
        }
    }
    Ok(finish_page(matched, limit, after))
}

/// The page and its cursor: after the last item returned when more matched, else after
/// the last item evaluated when the partition did not end.
fn finish_page(
    mut matched: Vec<(String, DeliveryHealth)>,
    limit: usize,
    last_evaluated: Option<String>,
) -> (Vec<DeliveryHealth>, Option<String>) {
    let next = if matched.len() > limit {
        matched.truncate(limit);
        matched.last().map(|(key, _)| encode_cursor(key))
    } else {
        last_evaluated.map(|key| encode_cursor(&key))
    };
    (matched.into_iter().map(|(_, health)| health).collect(), next)
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
    items: &[HealthItem],
) -> Result<HashMap<Target, EffectiveState>, ApiError> {
    let targets: Vec<_> = items
        .iter()
        .map(|item| (item.target.tenant_id.clone(), item.target.delivery_type))
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
    use logspoke_contract::{DeliveryType, TenantId};

    use super::*;

    fn health(tenant: &str) -> (String, DeliveryHealth) {
        let target = Target::new(TenantId::parse(tenant).unwrap(), DeliveryType::S3);
        let item = HealthItem::empty(target.clone());
        (
            target.partition(),
            DeliveryHealth::new(&item, EffectiveState::Active, 0, None),
        )
    }

    #[test]
    fn a_full_page_continues_after_its_last_item_and_a_short_one_after_the_last_evaluated() {
        let matched = vec![health("acme"), health("globex"), health("initech")];
        let (items, next) = finish_page(matched.clone(), 2, Some("zeta#s3".into()));
        assert_eq!(items.len(), 2);
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
}

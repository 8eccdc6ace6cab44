//! Per-tenant limits on changes: a token bucket per tenant, in memory, per replica.
//!
//! Every change a tenant makes costs more than its request: a version, an audit row, an
//! outbox row, a read-model write and a change event that every worker replica applies
//! (and a config change may make every replica look at the tenant's parked objects). A
//! tenant looping on writes would spend those shared resources for everyone, so a tenant
//! principal may make `per_minute` changes in a burst and then one every `60 / per_minute`
//! seconds; past that a mutating request is refused with 429 and `Retry-After` before it
//! reaches its handler. Operators are not limited (they act for every tenant). With N
//! replicas a tenant may make up to N times as many, which still bounds the load; a
//! shared store would cost more than it protects. A write that changes nothing still
//! counts: the limit is on requests, not on their effect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use logspoke_contract::TenantId;

use crate::auth::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::state::AppState;

/// Tenants tracked before the ones with a full bucket are forgotten (a bound on memory).
const MAX_TENANTS: usize = 10_000;

/// One tenant's bucket: tokens left when last looked at, and when.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Inner {
    per_minute: u32,
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

/// The limiter shared by every request of a replica (cheap to clone).
#[derive(Debug, Clone)]
pub struct WriteLimiter(Arc<Inner>);

impl WriteLimiter {
    /// `per_minute` changes per tenant in a burst, refilled at `per_minute` per minute.
    pub fn new(per_minute: u32) -> Self {
        Self(Arc::new(Inner {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }))
    }

    /// The changes a tenant may make per minute.
    pub fn per_minute(&self) -> u32 {
        self.0.per_minute
    }

    /// Takes one change of `tenant`'s allowance now, or says how long until it has one.
    pub fn take(&self, tenant: &TenantId) -> Result<(), Duration> {
        self.take_at(tenant, Instant::now())
    }

    fn take_at(&self, tenant: &TenantId, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.0.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.0.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TENANTS && !buckets.contains_key(tenant) {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(tenant.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
    }
}

/// Refuses a tenant principal's mutating request past its allowance, before its handler
/// (route middleware). A request whose token does not verify goes on to the handler,
/// which answers 401; the verified principal is kept for the handler's extractor.
pub async fn limit_tenant_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Ok(principal) = Principal::from_request_parts(&mut parts, &state).await {
        if let PrincipalKind::Tenant(tenant) = &principal.kind {
            if let Err(retry_after) = state.write_limiter.take(tenant) {
                metrics::counter!("logspoke_api_writes_limited_total").increment(1);
                return ApiError::RateLimited {
                    retry_after,
                    detail: format!(
                        "tenant {tenant} made more than {} changes in the last minute; retry later",
                        state.write_limiter.per_minute()
                    ),
                }
                .into_response();
            }
        }
        parts.extensions.insert(principal);
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    #[test]
    fn a_tenant_may_make_its_allowance_in_a_burst_and_then_waits_for_the_refill() {
        let limiter = WriteLimiter::new(3);
        let now = Instant::now();
        let acme = tenant("acme");
        for _ in 0..3 {
            assert_eq!(limiter.take_at(&acme, now), Ok(()));
        }
        let wait = limiter.take_at(&acme, now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20), "one change every 60 / 3 s");
        assert!(limiter.take_at(&acme, now + Duration::from_secs(19)).is_err());
        assert_eq!(limiter.take_at(&acme, now + Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn each_tenant_has_its_own_allowance() {
        let limiter = WriteLimiter::new(1);
        let now = Instant::now();
        assert_eq!(limiter.take_at(&tenant("acme"), now), Ok(()));
        assert!(limiter.take_at(&tenant("acme"), now).is_err());
        assert_eq!(limiter.take_at(&tenant("globex"), now), Ok(()));
    }

    #[test]
    fn the_bucket_refills_no_further_than_its_capacity() {
        let limiter = WriteLimiter::new(2);
        let now = Instant::now();
        let acme = tenant("acme");
        assert_eq!(limiter.take_at(&acme, now), Ok(()));
        let later = now + Duration::from_secs(3600);
        assert_eq!(limiter.take_at(&acme, later), Ok(()));
        assert_eq!(limiter.take_at(&acme, later), Ok(()));
        assert!(limiter.take_at(&acme, later).is_err());
    }
}

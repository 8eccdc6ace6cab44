//! Limits on verifications that call AWS, per key (the handler uses `{tenant}/{type}`,
//! so a tenant may verify its two configs in a row): at most one in flight per key, and
//! at most one start per interval (10 s by default, start to start).
//!
//! Each verification assumes the customer's role twice and writes to their target, so a
//! client looping on `verify` would fill the customer's CloudTrail, spend STS quota shared
//! with the worker, and pile up verification events. The limits are kept in memory, per
//! replica: with N replicas a tenant may verify up to N times per interval, which still
//! bounds the load; a shared store would cost more than it protects. Operators' forced
//! verifications call no AWS and are not limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Least time between the starts of two verifications of one tenant.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Why a verification may not start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another verification of the tenant is running.
    InFlight {
        /// When the next one may start, at the earliest.
        retry_after: Duration,
    },
    /// The last one started less than the interval ago.
    TooSoon {
        /// When the next one may start.
        retry_after: Duration,
    },
}

impl Refusal {
    /// How long the client should wait before trying again.
    pub fn retry_after(self) -> Duration {
        match self {
            Self::InFlight { retry_after } | Self::TooSoon { retry_after } => retry_after,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    started: Instant,
    in_flight: bool,
}

#[derive(Debug)]
struct Inner {
    interval: Duration,
    tenants: Mutex<HashMap<String, Slot>>,
}

/// The limiter shared by every request of a replica (cheap to clone).
#[derive(Debug, Clone)]
pub struct VerifyLimiter(Arc<Inner>);

impl Default for VerifyLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_INTERVAL)
    }
}

/// Held while a verification runs; dropping it (also when the request is cancelled)
/// lets the next verification of the tenant start once the interval has passed.
#[derive(Debug)]
pub struct Permit {
    limiter: VerifyLimiter,
    tenant_id: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut tenants = self.limiter.lock();
        if let Some(slot) = tenants.get_mut(&self.tenant_id) {
            slot.in_flight = false;
        }
    }
}

impl VerifyLimiter {
    /// A limiter allowing one verification start per tenant per `interval` (tests use
    /// zero, leaving only the one-in-flight rule).
    pub fn new(interval: Duration) -> Self {
        Self(Arc::new(Inner {
            interval,
            tenants: Mutex::new(HashMap::new()),
        }))
    }

    /// The configured interval.
    pub fn interval(&self) -> Duration {
        self.0.interval
    }

    /// Starts a verification of `tenant_id` now, or says when to retry.
    pub fn acquire(&self, tenant_id: &str) -> Result<Permit, Refusal> {
        self.acquire_at(tenant_id, Instant::now())
    }

    fn acquire_at(&self, tenant_id: &str, now: Instant) -> Result<Permit, Refusal> {
        let interval = self.0.interval;
        let mut tenants = self.lock();
        // Forget tenants that could start again anyway, so the map stays small.
        tenants.retain(|_, slot| slot.in_flight || now.duration_since(slot.started) < interval);
        if let Some(slot) = tenants.get(tenant_id) {
            let retry_after = interval.saturating_sub(now.duration_since(slot.started));
            return Err(if slot.in_flight {
                Refusal::InFlight {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                }
            } else {
                Refusal::TooSoon { retry_after }
            });
        }
        let slot = Slot {
            started: now,
            in_flight: true,
        };
        tenants.insert(tenant_id.to_owned(), slot);
        Ok(Permit {
            limiter: self.clone(),
            tenant_id: tenant_id.to_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // The map holds no invariant a panicking holder could break.
        self.0.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(10);

    #[test]
    fn a_second_start_within_the_interval_is_too_soon() {
        let limiter = VerifyLimiter::new(INTERVAL);
        let t0 = Instant::now();
        drop(limiter.acquire_at("acme", t0).unwrap());
        let refusal = limiter
            .acquire_at("acme", t0 + Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::TooSoon {
                retry_after: Duration::from_secs(7)
            }
        );
        assert!(limiter.acquire_at("acme", t0 + INTERVAL).is_ok());
    }

    #[test]
    fn only_one_verification_of_a_tenant_runs_at_a_time_even_without_an_interval() {
        let limiter = VerifyLimiter::new(Duration::ZERO);
        let t0 = Instant::now();
        let running = limiter.acquire_at("acme", t0).unwrap();
        let refusal = limiter
            .acquire_at("acme", t0 + Duration::from_secs(30))
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::InFlight {
                retry_after: Duration::from_secs(1)
            }
        );
        drop(running);
        assert!(limiter.acquire_at("acme", t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn an_interval_counts_from_the_start_not_the_end() {
        let limiter = VerifyLimiter::new(INTERVAL);
        let t0 = Instant::now();
        let running = limiter.acquire_at("acme", t0).unwrap();
        let refusal = limiter
            .acquire_at("acme", t0 + Duration::from_secs(4))
            .unwrap_err();
        assert!(matches!(refusal, Refusal::InFlight { .. }), "{refusal:?}");
        assert_eq!(refusal.retry_after(), Duration::from_secs(6));
        drop(running); // finished 8 s after it started
        let refusal = limiter
            .acquire_at("acme", t0 + Duration::from_secs(8))
            .unwrap_err();
        assert_eq!(refusal.retry_after(), Duration::from_secs(2));
    }

    #[test]
    fn tenants_are_limited_independently() {
        let limiter = VerifyLimiter::new(INTERVAL);
        let t0 = Instant::now();
        let _acme = limiter.acquire_at("acme", t0).unwrap();
        assert!(limiter.acquire_at("beta", t0).is_ok());
    }

    #[test]
    fn tenants_past_their_interval_are_forgotten() {
        let limiter = VerifyLimiter::new(INTERVAL);
        let t0 = Instant::now();
        for tenant in ["a", "b", "c"] {
            drop(limiter.acquire_at(tenant, t0).unwrap());
        }
        let _d = limiter.acquire_at("d", t0 + INTERVAL).unwrap();
        assert_eq!(limiter.lock().len(), 1);
    }
}

//! When the JWKS is fetched again: the refresh policy and the pure bookkeeping behind it.
//!
//! - A fetched set lives for its `Cache-Control: max-age`, or [`RefreshPolicy::default_ttl`]
//!   without one, clamped to `min_ttl..=max_ttl` (so an IdP cannot make us poll it hot, and
//!   a rotation is seen within a day).
//! - After a failed fetch the next attempt is [`RefreshPolicy::retry_after`] away; the last
//!   good set keeps serving meanwhile.
//! - A token naming an unknown key id may cause one fetch per
//!   [`RefreshPolicy::unknown_kid_cooldown`], whatever the number of such tokens.
//!
//! Time is passed in, so the rules are tested without a clock.

use std::time::Duration;

use tokio::time::Instant;

/// How a JWKS fetched from a URL is kept fresh. The defaults suit an identity provider;
/// tests shorten them. Not read from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Lifetime of a set whose response has no `Cache-Control: max-age` (and of a file's).
    pub default_ttl: Duration,
    /// A shorter `max-age` is raised to this.
    pub min_ttl: Duration,
    /// A longer `max-age` is lowered to this.
    pub max_ttl: Duration,
    /// Wait after a failed fetch before the next attempt.
    pub retry_after: Duration,
    /// Least time between two fetches caused by tokens naming unknown key ids.
    pub unknown_kid_cooldown: Duration,
    /// How long one fetch may take.
    pub fetch_timeout: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(10 * 60),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            retry_after: Duration::from_secs(15),
            unknown_kid_cooldown: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

impl RefreshPolicy {
    /// How long a set fetched with this `max-age` is used before it is fetched again.
    pub fn ttl(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_ttl)
            .max(self.min_ttl)
            .min(self.max_ttl)
    }
}

/// When the next scheduled fetch is due, and when an unknown kid last caused one.
#[derive(Debug)]
pub(super) struct Schedule {
    next_refresh: Instant,
    last_unknown_kid_fetch: Option<Instant>,
}

impl Schedule {
    /// A schedule whose first fetch is due at once.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            next_refresh: now,
            last_unknown_kid_fetch: None,
        }
    }

    /// When the background refresh should run next.
    pub(super) fn next_refresh(&self) -> Instant {
        self.next_refresh
    }

    pub(super) fn is_due(&self, now: Instant) -> bool {
        now >= self.next_refresh
    }

    /// Whether an unknown kid may cause a fetch now; if so, the cooldown starts now.
    pub(super) fn claim_unknown_kid_fetch(&mut self, now: Instant, policy: &RefreshPolicy) -> bool {
        let allowed = self
            .last_unknown_kid_fetch
            .is_none_or(|last| now.duration_since(last) >= policy.unknown_kid_cooldown);
        if allowed {
            self.last_unknown_kid_fetch = Some(now);
        }
        allowed
    }

    /// Records a successful fetch; returns how long its set lives.
    pub(super) fn succeeded(
        &mut self,
        now: Instant,
        max_age: Option<Duration>,
        policy: &RefreshPolicy,
    ) -> Duration {
        let ttl = policy.ttl(max_age);
        self.next_refresh = now + ttl;
        ttl
    }

    /// Records a failed fetch: try again after the retry delay.
    pub(super) fn failed(&mut self, now: Instant, policy: &RefreshPolicy) {
        self.next_refresh = now + policy.retry_after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn max_age_sets_the_lifetime_within_one_minute_and_one_day() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.ttl(Some(Duration::from_secs(300))), 5 * MINUTE);
        assert_eq!(policy.ttl(None), 10 * MINUTE, "default without max-age");
        assert_eq!(policy.ttl(Some(Duration::ZERO)), MINUTE, "no-cache is clamped up");
        assert_eq!(policy.ttl(Some(Duration::from_secs(5))), MINUTE);
        assert_eq!(policy.ttl(Some(30 * 24 * 60 * MINUTE)), 24 * 60 * MINUTE);
    }

    #[test]
    fn a_success_schedules_the_next_fetch_after_the_ttl_and_a_failure_after_the_retry_delay() {
        let policy = RefreshPolicy::default();
        let start = Instant::now();
        let mut schedule = Schedule::new(start);
        assert!(schedule.is_due(start));
        let ttl = schedule.succeeded(start, Some(Duration::from_secs(120)), &policy);
        assert_eq!(ttl, 2 * MINUTE);
        assert!(!schedule.is_due(start + MINUTE));
        assert!(schedule.is_due(start + 2 * MINUTE));
        schedule.failed(start + 2 * MINUTE, &policy);
        assert_eq!(schedule.next_refresh(), start + 2 * MINUTE + policy.retry_after);
    }

    #[test]
    fn unknown_kids_cause_at_most_one_fetch_per_cooldown() {
        let policy = RefreshPolicy::default();
        let start = Instant::now();
        let mut schedule = Schedule::new(start);
        let claimed = (0..1000u64)
            .filter(|i| schedule.claim_unknown_kid_fetch(start + Duration::from_millis(i * 50), &policy))
            .count();
        assert_eq!(claimed, 1, "1000 unknown kids within 50 s");
        assert!(!schedule.claim_unknown_kid_fetch(start + MINUTE - Duration::from_millis(1), &policy));
        assert!(schedule.claim_unknown_kid_fetch(start + MINUTE, &policy));
        assert!(!schedule.claim_unknown_kid_fetch(start + MINUTE + Duration::from_secs(1), &policy));
    }
}

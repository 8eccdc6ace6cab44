//! How long to wait before trying again, the one rule for both binaries: a delay bound
//! that starts at `base` and doubles per retry up to `max`, with the jitter the caller
//! needs — full (throttled calls, so workers do not retry in lockstep), equal (the
//! outbox relay: at least half the bound, so a failing relay backs off for sure), or none
//! (a schedule: probing a parked target, retrying a replay's object).

use std::time::Duration;

use rand::Rng;

/// How often and how patiently to retry one call.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay bound before the first retry; doubles per attempt.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (1-based): uniformly random up to
    /// [`Backoff::bound`] ("full jitter"), so throttled workers do not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let millis = u64::try_from(self.bound(retry).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
    }

    /// A delay before retry number `retry` (1-based) of at least half the bound and at
    /// most the bound ("equal jitter"): spread out, yet never much shorter than planned.
    pub fn equal_jitter(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.bound(retry).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
    }

    /// The longest delay before retry number `retry` (1-based): `base`, doubled per
    /// further retry, never more than `max`. Without jitter, the schedule itself.
    pub fn bound(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(16)))
            .min(self.max)
    }
}

/// Consecutive failures of a loop that never gives up (the queue receivers): each failure
/// waits up to twice as long as the one before, up to the cap, and a success starts over.
#[derive(Debug, Clone)]
pub struct FailureStreak {
    backoff: Backoff,
    failures: u32,
}

impl FailureStreak {
    /// A streak of none, waiting as `backoff` says (its `attempts` are ignored).
    pub fn new(backoff: Backoff) -> Self {
        Self { backoff, failures: 0 }
    }

    /// Counts a failure; returns how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.backoff.delay(self.failures)
    }

    /// Ends the streak: the next failure waits the shortest again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The longest the next failure would wait.
    pub fn next_bound(&self) -> Duration {
        self.backoff.bound(self.failures.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_but_stay_under_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: 10,
        };
        for _ in 0..200 {
            assert!(backoff.delay(1) <= Duration::from_millis(100));
            assert!(backoff.delay(3) <= Duration::from_millis(400));
            assert!(backoff.delay(30) <= Duration::from_secs(2));
        }
        let late: Duration = (0..200).map(|_| backoff.delay(6)).sum();
        assert!(
            late > Duration::from_secs(100),
            "jitter should spread up to the bound: {late:?}"
        );
    }

    #[test]
    fn equal_jitter_waits_at_least_half_the_bound() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            attempts: u32::MAX,
        };
        for retry in 1..12 {
            let bound = backoff.bound(retry);
            for _ in 0..50 {
                let delay = backoff.equal_jitter(retry);
                assert!(delay >= bound / 2 && delay <= bound, "{retry}: {delay:?}");
            }
        }
        assert!(backoff.equal_jitter(31) <= Duration::from_secs(5));
    }

    #[test]
    fn bounds_double_from_the_base_up_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: 10,
        };
        let bounds: Vec<u128> = (1..=7).map(|r| backoff.bound(r).as_millis()).collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff.bound(0), Duration::from_millis(100));
        assert_eq!(backoff.bound(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn a_failure_streak_waits_longer_up_to_the_cap_and_a_success_resets_it() {
        let mut streak = FailureStreak::new(Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            attempts: u32::MAX,
        });
        let mut bounds = Vec::new();
        for _ in 0..6 {
            let bound = streak.next_bound();
            assert!(streak.failed() <= bound);
            bounds.push(bound.as_secs());
        }
        assert_eq!(bounds, [1, 2, 4, 8, 8, 8]);
        streak.succeeded();
        assert_eq!(streak.next_bound(), Duration::from_secs(1));
        assert!(streak.failed() <= Duration::from_secs(1));
        assert_eq!(streak.next_bound(), Duration::from_secs(2));
    }
}

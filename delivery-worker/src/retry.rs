//! Retrying transient AWS failures with jittered exponential backoff.

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
    /// The delay before retry number `retry` (1-based): uniformly random up to the
    /// doubled bound ("full jitter"), so throttled workers do not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let bound = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(16)))
            .min(self.max);
        let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
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
}

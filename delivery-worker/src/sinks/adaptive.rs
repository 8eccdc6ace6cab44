//! Adaptive concurrency per destination: how many deliveries a worker has in flight into
//! one customer account's service in one region at once, adjusted by AIMD on throttling.
//!
//! A customer's account has its own quotas (`PutLogEvents` requests per second per account
//! and region; S3 requests per second per bucket prefix), shared with the customer's own
//! workloads. The worker learns what the destination accepts instead of retrying into it:
//!
//! - The limit starts at the ceiling (the replica's in-flight slots) and binds only below
//!   it: a destination that has not throttled (or has grown back) takes every delivery,
//!   live, drain and replay together.
//! - A delivery that ends throttled (past the sink's few quick retries) halves the limit,
//!   down to 1: once per congestion event, so deliveries that were already in flight when
//!   the limit was last cut, and end throttled too, do not cut it again.
//! - A delivery that is not throttled adds `1 / limit`: about one more concurrent delivery
//!   per limit's worth of successes, back up to the ceiling.
//! - A delivery that finds the destination at its limit does not wait in its slot: it is
//!   refused at once as `throttled`, so live delivery parks the object and frees the slot,
//!   and the parked objects drain at the rate the destination's limit lets through.
//!
//! Each replica (and each Lambda execution environment) learns on its own. A destination
//! is where the quota is: an account's CloudWatch Logs in a region, or one bucket — so one
//! tenant's throttled log group never limits another account, nor any bucket. Tenants
//! whose roles are in the same customer account share that account's quota, and its limit. Every path (live, drain, replay, Lambda) acquires its
//! permit in one place, where an attempt is sent (`crate::pipeline::target`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use logspoke_contract::{DeliveryTarget, LiveConfig};

/// The service of a destination: each has its own quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// CloudWatch Logs (`PutLogEvents`).
    Logs,
    /// Amazon S3 (`PutObject`).
    S3,
}

/// Where a delivery goes, as its quotas see it: a customer account's CloudWatch Logs in a
/// region, or an S3 bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The customer's account id (CloudWatch Logs) or the bucket's name (S3, whose request
    /// rates are per bucket and prefix, and whose bucket may be another account's).
    pub scope: String,
    /// The target region.
    pub region: String,
    /// Which service.
    pub service: Service,
}

impl Destination {
    /// Where `config` delivers: its role's account's log groups in its region, or its
    /// bucket.
    pub fn of(config: &LiveConfig) -> Self {
        let (scope, service) = match &config.target {
            DeliveryTarget::CloudWatch { .. } => (config.role_arn.account_id().to_owned(), Service::Logs),
            DeliveryTarget::S3 { bucket_name, .. } => (bucket_name.as_str().to_owned(), Service::S3),
        };
        Self {
            scope,
            region: config.target_region.as_str().to_owned(),
            service,
        }
    }
}

/// One destination's limit and what is in flight to it.
#[derive(Debug)]
struct Aimd {
    /// Concurrent deliveries allowed (fractional: additive increase adds `1 / limit`).
    limit: f64,
    in_flight: usize,
    /// Incremented at each decrease; a permit remembers the one it was acquired under.
    epoch: u64,
}

/// The adaptive limits of every destination a worker delivers to.
#[derive(Debug, Clone)]
pub struct DestinationLimits {
    ceiling: usize,
    destinations: Arc<Mutex<HashMap<Destination, Aimd>>>,
}

/// Destinations tracked before the map forgets the idle ones (a bound on memory, not a
/// working set).
const MAX_DESTINATIONS: usize = 4_096;

impl DestinationLimits {
    /// Limits that start at (and never exceed) `ceiling` concurrent deliveries per
    /// destination.
    pub fn new(ceiling: usize) -> Self {
        Self {
            ceiling: ceiling.max(1),
            destinations: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A permit to deliver to `destination` now, or `None` when it is at its limit (the
    /// caller refuses the delivery as throttled instead of waiting).
    pub fn try_acquire(&self, destination: &Destination) -> Option<Permit> {
        let mut map = self.destinations.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_DESTINATIONS && !map.contains_key(destination) {
            map.retain(|_, aimd| aimd.in_flight > 0);
        }
        let ceiling = self.ceiling as f64;
        let aimd = map.entry(destination.clone()).or_insert(Aimd {
            limit: ceiling,
            in_flight: 0,
            epoch: 0,
        });
        if aimd.limit < ceiling && aimd.in_flight as f64 >= aimd.limit.floor().max(1.0) {
            return None;
        }
        aimd.in_flight += 1;
        Some(Permit {
            limits: self.clone(),
            destination: destination.clone(),
            epoch: aimd.epoch,
            outcome: Outcome::Released,
        })
    }

    /// The current limit of `destination` (the ceiling if it never throttled).
    pub fn limit(&self, destination: &Destination) -> f64 {
        let map = self.destinations.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(destination).map_or(self.ceiling as f64, |a| a.limit)
    }

    fn release(&self, permit: &Permit) {
        let mut map = self.destinations.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(aimd) = map.get_mut(&permit.destination) else {
            return;
        };
        aimd.in_flight = aimd.in_flight.saturating_sub(1);
        match permit.outcome {
            Outcome::Released => {}
            Outcome::Accepted => aimd.limit = (aimd.limit + 1.0 / aimd.limit).min(self.ceiling as f64),
            Outcome::Throttled if permit.epoch == aimd.epoch => {
                aimd.limit = (aimd.limit / 2.0).max(1.0);
                aimd.epoch += 1;
                metrics::counter!("logspoke_worker_destination_limit_cuts_total").increment(1);
            }
            Outcome::Throttled => {}
        }
    }
}

/// How the delivery a permit was for ended, as the destination's limit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Ended without telling anything about the destination's capacity.
    Released,
    /// The destination took it.
    Accepted,
    /// The destination throttled it.
    Throttled,
}

/// One delivery in flight to a destination; dropping it releases the slot and applies
/// what [`Permit::accepted`] or [`Permit::throttled`] said.
#[derive(Debug)]
pub struct Permit {
    limits: DestinationLimits,
    destination: Destination,
    epoch: u64,
    outcome: Outcome,
}

impl Permit {
    /// The destination took the delivery: the limit grows.
    pub fn accepted(mut self) {
        self.outcome = Outcome::Accepted;
    }

    /// The destination throttled the delivery: the limit shrinks.
    pub fn throttled(mut self) {
        self.outcome = Outcome::Throttled;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limits.release(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(account: &str) -> Destination {
        Destination {
            scope: account.into(),
            region: "eu-west-1".into(),
            service: Service::Logs,
        }
    }

    fn hold(deliveries: &DestinationLimits, to: &Destination, n: usize) -> Vec<Permit> {
        (0..n).map_while(|_| deliveries.try_acquire(to)).collect()
    }

    #[test]
    fn a_destination_that_never_throttled_takes_every_delivery() {
        let deliveries = DestinationLimits::new(4);
        let held = hold(&deliveries, &logs("222222222222"), 10);
        assert_eq!(
            held.len(),
            10,
            "live, drain and replay together may pass the ceiling"
        );
        assert!(
            deliveries.try_acquire(&logs("333333333333")).is_some(),
            "another account"
        );
    }

    #[test]
    fn a_throttled_delivery_halves_the_limit_and_refuses_the_excess() {
        let deliveries = DestinationLimits::new(16);
        let to = logs("222222222222");
        let mut held = hold(&deliveries, &to, 16);
        held.pop().expect("held").throttled();
        assert_eq!(deliveries.limit(&to), 8.0);
        assert!(
            deliveries.try_acquire(&to).is_none(),
            "15 in flight over a limit of 8"
        );
        drop(held.split_off(7));
        assert!(
            deliveries.try_acquire(&to).is_some(),
            "7 in flight under a limit of 8"
        );
    }

    #[test]
    fn throttles_of_one_congestion_event_cut_the_limit_once() {
        let deliveries = DestinationLimits::new(16);
        let to = logs("222222222222");
        for permit in hold(&deliveries, &to, 16) {
            permit.throttled();
        }
        assert_eq!(
            deliveries.limit(&to),
            8.0,
            "all were in flight before the first cut"
        );
        hold(&deliveries, &to, 1).pop().expect("held").throttled();
        assert_eq!(
            deliveries.limit(&to),
            4.0,
            "a delivery begun after the cut cuts again"
        );
    }

    #[test]
    fn the_limit_never_falls_below_one() {
        let deliveries = DestinationLimits::new(2);
        let to = logs("222222222222");
        for _ in 0..5 {
            hold(&deliveries, &to, 1)
                .pop()
                .expect("one always passes")
                .throttled();
        }
        assert_eq!(deliveries.limit(&to), 1.0);
    }

    #[test]
    fn accepted_deliveries_grow_the_limit_back_to_the_ceiling() {
        let deliveries = DestinationLimits::new(8);
        let to = logs("222222222222");
        for _ in 0..3 {
            hold(&deliveries, &to, 1).pop().expect("held").throttled();
        }
        assert_eq!(deliveries.limit(&to), 1.0);
        // About one more per limit's worth of successes: 1 → 2 after one, 2 → 3 after two.
        hold(&deliveries, &to, 1).pop().expect("held").accepted();
        assert_eq!(deliveries.limit(&to), 2.0);
        for _ in 0..200 {
            hold(&deliveries, &to, 1).pop().expect("held").accepted();
        }
        assert_eq!(deliveries.limit(&to), 8.0, "capped at the ceiling");
    }

    #[test]
    fn a_released_permit_frees_its_slot_and_leaves_the_limit() {
        let deliveries = DestinationLimits::new(2);
        let to = logs("222222222222");
        hold(&deliveries, &to, 1).pop().expect("held").throttled();
        let permit = deliveries.try_acquire(&to).expect("free");
        assert!(deliveries.try_acquire(&to).is_none());
        drop(permit);
        assert!(deliveries.try_acquire(&to).is_some());
        assert_eq!(deliveries.limit(&to), 1.0);
    }

    #[test]
    fn one_accounts_logs_and_a_bucket_are_separate_destinations() {
        let deliveries = DestinationLimits::new(4);
        let to = logs("222222222222");
        hold(&deliveries, &to, 1).pop().expect("held").throttled();
        assert_eq!(
            hold(&deliveries, &to, 10).len(),
            2,
            "the throttled account, at its limit"
        );
        let bucket = Destination {
            scope: "tenant-logs".into(),
            region: "eu-west-1".into(),
            service: Service::S3,
        };
        assert_eq!(deliveries.limit(&bucket), 4.0);
        assert_eq!(hold(&deliveries, &bucket, 10).len(), 10);
    }
}

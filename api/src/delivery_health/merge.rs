//! One target's health across the provider regions: each region's workers record what
//! they delivered in their own region's ledger, so the api reads a target's item in every
//! configured region and combines them into the one view a health document leads with.
//!
//! The rules ([`merge`], [`TargetHealth::state`]):
//! - counts add up: `parked_objects`, `consecutive_failures` and the counters;
//! - times are the latest: `last_delivered_at` (with the `lag_seconds` of the region that
//!   delivered last), `last_event_time`, and `last_error` (the latest by its time);
//! - `parked_cause` is that of the first region, in configured order, with parked
//!   objects;
//! - the state is the worst of the regions' own states (`failing` over `healthy` over
//!   `idle`; `paused` when the config is not active, as in every region), not the
//!   state of the merged item: a region failing since its own last delivery is failing
//!   even when another region delivered later. Failing anywhere is failing.
//!
//! Ties go to the earlier region in configured order.

use logspoke_contract::ledger::{HealthItem, HealthState, Target};
use logspoke_contract::{EffectiveState, Region};

use super::CounterWindows;

/// What one region's ledger holds of a target.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionItem {
    /// The provider region.
    pub region: Region,
    /// Its health item (empty when that region recorded nothing).
    pub item: HealthItem,
    /// Its counters, when they were read (a single target's health).
    pub counters: Option<CounterWindows>,
}

/// A target's health as read from the configured regions.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    /// The target.
    pub target: Target,
    /// Every region read, in configured order.
    pub regions: Vec<RegionItem>,
    /// The configured regions whose ledger could not be read, in configured order.
    pub unreadable: Vec<Region>,
}

impl TargetHealth {
    /// The regions' items combined ([`merge`]).
    pub fn merged(&self) -> HealthItem {
        merge(&self.target, self.regions.iter().map(|r| &r.item))
    }

    /// The combined state: the worst of the regions' states.
    pub fn state(&self, config: EffectiveState, now_ms: i64) -> HealthState {
        worst(self.regions.iter().map(|r| r.item.state(config, now_ms)))
    }

    /// True when `region` is neither listed nor named unreadable (a pre-filtered
    /// query left the target out there).
    pub fn lacks(&self, region: Region) -> bool {
        !self.regions.iter().any(|r| r.region == region) && !self.unreadable.contains(&region)
    }

    /// Lists the regions, and the unreadable ones, in `order` (the configured one).
    pub fn in_order(&mut self, order: &[Region]) {
        let position = |region: &Region| order.iter().position(|r| r == region).unwrap_or(usize::MAX);
        self.regions.sort_by_key(|r| position(&r.region));
        self.unreadable.sort_by_key(position);
    }

    /// The regions' counters added up; `None` when no region's were read.
    pub fn counters(&self) -> Option<CounterWindows> {
        let mut read = self.regions.iter().filter_map(|r| r.counters).peekable();
        read.peek()?;
        Some(read.fold(CounterWindows::default(), |mut sum, windows| {
            sum.last_hour.add(&windows.last_hour);
            sum.last_day.add(&windows.last_day);
            sum
        }))
    }
}

/// How bad a state is, for [`worst`].
fn severity(state: HealthState) -> u8 {
    match state {
        HealthState::Idle => 0,
        HealthState::Healthy => 1,
        HealthState::Failing => 2,
        HealthState::Paused => 3,
    }
}

/// The worst of `states`; `idle` when there are none.
pub fn worst(states: impl IntoIterator<Item = HealthState>) -> HealthState {
    states
        .into_iter()
        .max_by_key(|state| severity(*state))
        .unwrap_or(HealthState::Idle)
}

/// The items of `target` from several regions, in configured order, as one (see the
/// module's rules); an empty item when there are none.
pub fn merge<'a>(target: &Target, items: impl IntoIterator<Item = &'a HealthItem>) -> HealthItem {
    let mut merged = HealthItem::empty(target.clone());
    for item in items {
        merged.parked_objects = merged.parked_objects.saturating_add(item.parked_objects);
        merged.consecutive_failures = merged
            .consecutive_failures
            .saturating_add(item.consecutive_failures);
        if item.last_delivered_at_ms > merged.last_delivered_at_ms {
            merged.last_delivered_at_ms = item.last_delivered_at_ms;
            merged.lag_seconds = item.lag_seconds;
        }
        merged.last_event_time_ms = merged.last_event_time_ms.max(item.last_event_time_ms);
        let error_at = |item: &HealthItem| item.last_error.as_ref().map(|e| e.at_ms);
        if error_at(item) > error_at(&merged) {
            merged.last_error = item.last_error.clone();
        }
        if merged.parked_cause.is_none() && item.parked_objects > 0 {
            merged.parked_cause = item.parked_cause;
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use logspoke_contract::ledger::{Counters, LastError};
    use logspoke_contract::{Cause, DeliveryType, TenantId};

    use super::*;

    const NOW_MS: i64 = 1_800_000_000_000;
    const MINUTE_MS: i64 = 60_000;

    fn target() -> Target {
        Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
    }

    fn error(cause: Cause, at_ms: i64) -> Option<LastError> {
        Some(LastError {
            cause,
            message: format!("{cause:?}"),
            at_ms,
        })
    }

    fn region(name: &str, item: HealthItem, objects: u64) -> RegionItem {
        let counters = Counters {
            objects,
            ..Counters::default()
        };
        RegionItem {
            region: Region::parse(name).unwrap(),
            item,
            counters: Some(CounterWindows {
                last_hour: counters,
                last_day: counters,
            }),
        }
    }

    fn health(regions: Vec<RegionItem>) -> TargetHealth {
        TargetHealth {
            target: target(),
            regions,
            unreadable: Vec::new(),
        }
    }

    /// eu-west-1 delivered a minute ago after an old error; us-east-1 has parked objects
    /// (its log group is gone) and a recent error; ap-south-1 throttles, also parked.
    fn three() -> TargetHealth {
        let west = HealthItem {
            last_delivered_at_ms: Some(NOW_MS - MINUTE_MS),
            last_event_time_ms: Some(NOW_MS - 3 * MINUTE_MS),
            lag_seconds: Some(120.0),
            last_error: error(Cause::Throttled, NOW_MS - 60 * MINUTE_MS),
            ..HealthItem::empty(target())
        };
        let east = HealthItem {
            target: target(),
            last_delivered_at_ms: Some(NOW_MS - 30 * MINUTE_MS),
            last_event_time_ms: Some(NOW_MS - 2 * MINUTE_MS),
            lag_seconds: Some(5.0),
            last_error: error(Cause::LogGroupMissing, NOW_MS - 2 * MINUTE_MS),
            consecutive_failures: 3,
            parked_objects: 4,
            parked_cause: Some(Cause::LogGroupMissing),
        };
        let south = HealthItem {
            last_error: error(Cause::Throttled, NOW_MS - 5 * MINUTE_MS),
            consecutive_failures: 1,
            parked_objects: 2,
            parked_cause: Some(Cause::Throttled),
            ..HealthItem::empty(target())
        };
        health(vec![
            region("eu-west-1", west, 10),
            region("us-east-1", east, 1),
            region("ap-south-1", south, 0),
        ])
    }

    #[test]
    fn counts_add_up_and_times_errors_and_causes_are_the_latest_or_first() {
        let merged = three().merged();
        assert_eq!(merged.parked_objects, 6);
        assert_eq!(merged.consecutive_failures, 4);
        assert_eq!(merged.last_delivered_at_ms, Some(NOW_MS - MINUTE_MS));
        assert_eq!(
            merged.lag_seconds,
            Some(120.0),
            "the lag of the region that delivered last"
        );
        assert_eq!(
            merged.last_event_time_ms,
            Some(NOW_MS - 2 * MINUTE_MS),
            "the latest of any region"
        );
        assert_eq!(
            merged.last_error,
            error(Cause::LogGroupMissing, NOW_MS - 2 * MINUTE_MS)
        );
        assert_eq!(
            merged.parked_cause,
            Some(Cause::LogGroupMissing),
            "the first region with parked objects"
        );
        let counters = three().counters().unwrap();
        assert_eq!((counters.last_hour.objects, counters.last_day.objects), (11, 11));
    }

    #[test]
    fn failing_in_one_region_is_failing_even_when_another_delivered_since() {
        // us-east-1 failed since its own last delivery, nothing parked; eu-west-1
        // delivered later. The merged item alone would read healthy.
        let west = HealthItem {
            last_delivered_at_ms: Some(NOW_MS - MINUTE_MS),
            ..HealthItem::empty(target())
        };
        let east = HealthItem {
            last_delivered_at_ms: Some(NOW_MS - 30 * MINUTE_MS),
            last_error: error(Cause::PermissionDenied, NOW_MS - 10 * MINUTE_MS),
            consecutive_failures: 2,
            ..HealthItem::empty(target())
        };
        let health = health(vec![region("eu-west-1", west, 0), region("us-east-1", east, 0)]);
        assert_eq!(
            health.merged().state(EffectiveState::Active, NOW_MS),
            HealthState::Healthy
        );
        assert_eq!(health.state(EffectiveState::Active, NOW_MS), HealthState::Failing);
        assert_eq!(
            health.state(EffectiveState::Disabled, NOW_MS),
            HealthState::Paused
        );
    }

    #[test]
    fn the_state_is_the_worst_of_the_regions() {
        use HealthState::*;
        let cases = [
            (vec![], Idle),
            (vec![Idle, Idle], Idle),
            (vec![Idle, Healthy], Healthy),
            (vec![Healthy, Failing, Idle], Failing),
            (vec![Paused, Paused], Paused),
        ];
        for (states, expected) in cases {
            assert_eq!(worst(states.clone()), expected, "{states:?}");
        }
    }

    #[test]
    fn regions_that_recorded_nothing_change_nothing() {
        let empty = |name| region(name, HealthItem::empty(target()), 0);
        let only = health(vec![empty("eu-west-1"), empty("us-east-1")]);
        assert_eq!(only.merged(), HealthItem::empty(target()));
        assert_eq!(only.state(EffectiveState::Active, NOW_MS), HealthState::Idle);
        let mut with = three();
        with.regions.push(empty("eu-central-1"));
        assert_eq!(with.merged(), three().merged());
        let none = TargetHealth {
            regions: Vec::new(),
            ..three()
        };
        assert_eq!(none.counters(), None);
    }

    #[test]
    fn regions_are_put_in_the_configured_order() {
        let order: Vec<Region> = ["eu-west-1", "us-east-1", "ap-south-1"]
            .into_iter()
            .map(|name| Region::parse(name).unwrap())
            .collect();
        let mut health = three();
        health.regions.reverse();
        health.unreadable = vec![order[2], order[0]];
        health.regions.truncate(2);
        health.in_order(&order);
        let listed: Vec<Region> = health.regions.iter().map(|r| r.region).collect();
        assert_eq!(listed, [order[1], order[2]]);
        assert_eq!(health.unreadable, [order[0], order[2]]);
        assert!(!health.lacks(order[0]) && !health.lacks(order[1]));
        assert!(health.lacks(Region::parse("eu-central-1").unwrap()));
    }
}

//! Draining parked objects once their target works again, in the order they were staged.
//!
//! Every replica looks at the targets with parked objects every few seconds
//! ([`Drainer::tick`], run by the replica's timer and after each Lambda batch). A target
//! whose config is active is probed by delivering its oldest parked object: at once when
//! something delivery depends on changed (its delivery version: it was verified again, its
//! role, ExternalId, region, destination or enabled flag changed), otherwise at most once
//! per probe interval (a minute), backing off to 15 minutes while it keeps failing. An
//! edit that does not matter for delivery (an allow-list, a registered cluster) changes
//! neither. A success drains the rest in order, one turn of [`TURN`] objects at a time:
//! each tick goes round the due targets, a turn each and [`CONCURRENT_TARGETS`] targets at
//! once, until none has any left, so a target with a hundred thousand parked objects takes
//! no more of a replica's drain than one with a single object (each tenant's share of the
//! drain), and one slow target does not hold the others up.
//!
//! A lease on the target's health item lets one replica drain a target at a time and
//! spaces probes across replicas. It holds for [`LEASE_HOLD`] and is renewed while a turn
//! works, so a turn longer than the hold never lets a second replica drain the same
//! objects, and a replica that stops mid-turn (a crash, a Lambda invocation cut off)
//! blocks the target for at most the hold. A newer delivery version breaks the lease; the
//! replica that loses it stops its turn. Parked objects older than the staging bucket's
//! retention are gone from the bucket: recorded as `rejected` (`expired`), counted and
//! logged, never silently dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use logspoke_contract::ledger::{Cause, ParkedObject, Target};
use logspoke_contract::{EffectiveState, LiveConfig, ObjectKey};
use logspoke_runtime::backoff::Backoff;

use super::{Deliverer, Delivery, Pipeline, Purpose, Route};
use crate::clock::now_ms;
use crate::event::StagedObject;
use crate::ledger::Ledger;
use crate::tenants::Versions;

/// Parked objects read per query.
const PAGE: usize = 25;

/// Parked objects one target drains before the next due target has its turn.
pub const TURN: u64 = PAGE as u64;

/// Targets a replica drains at once (each one object at a time, in order).
pub const CONCURRENT_TARGETS: usize = 4;

/// How long one tick starts new rounds of turns; the next tick lists the parked targets
/// again.
const TICK_BUDGET: Duration = Duration::from_secs(60);

/// The first probe of a target parked because its account throttles.
const THROTTLED_PROBE: Duration = Duration::from_secs(5);

/// How long a drain lease holds unless renewed; a turn renews it every third of this.
pub const LEASE_HOLD: Duration = Duration::from_secs(120);

/// How a drain of one target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Nothing is parked any more (this many objects were delivered or expired).
    Drained(u64),
    /// The turn is over (this many were delivered or expired) and objects are left: the
    /// target continues at its next turn.
    Paused(u64),
    /// The target still refuses: probe again later.
    Blocked(Cause),
    /// A failure a retry may fix (or the ledger could not be read): try again soon.
    Interrupted,
}

impl<D: Deliverer, L: Ledger> Pipeline<D, L> {
    /// Delivers `target`'s parked objects in order until none is left or one fails.
    pub async fn drain(&self, target: &Target, version: i64, config: &LiveConfig) -> Drain {
        self.drain_turn(target, version, config, u64::MAX).await
    }

    /// Delivers up to `turn` of `target`'s parked objects in order, stopping early when
    /// none is left or one fails.
    pub async fn drain_turn(&self, target: &Target, version: i64, config: &LiveConfig, turn: u64) -> Drain {
        let mut done = 0;
        loop {
            if done >= turn {
                return Drain::Paused(done);
            }
            let page = match self
                .ledger()
                .parked(target, PAGE.min(usize::try_from(turn - done).unwrap_or(PAGE)))
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(%target, error = %err, "cannot read parked objects");
                    return Drain::Interrupted;
                }
            };
            if page.is_empty() {
                return Drain::Drained(done);
            }
            for parked in page {
                match self.drain_one(&parked, version, config).await {
                    Ok(()) => done += 1,
                    Err(drain) => return drain,
                }
            }
        }
    }

    /// One parked object: finished for its target (and unparked), or the reason to stop.
    async fn drain_one(&self, parked: &ParkedObject, version: i64, config: &LiveConfig) -> Result<(), Drain> {
        let target = &parked.target;
        let delivery = match staged_object(parked) {
            None => self.discard(parked).await,
            Some(object) => {
                let route = Route {
                    target: target.clone(),
                    version,
                    config,
                };
                let mut deliveries = self.deliver_to(&object, &[route], Purpose::Drain(parked)).await;
                deliveries
                    .pop()
                    .unwrap_or(Delivery::Retry(super::missing_result()))
            }
        };
        match delivery {
            Delivery::Sent(_) | Delivery::Rejected => {
                metrics::counter!("logspoke_worker_objects_drained_total", "target" => target.delivery_type.as_str())
                    .increment(1);
                Ok(())
            }
            Delivery::Skipped | Delivery::Expired => Ok(()),
            Delivery::Parked(cause) => Err(Drain::Blocked(cause)),
            Delivery::Refused(err) => Err(Drain::Blocked(err.cause().unwrap_or(Cause::AwaitingVerification))),
            Delivery::Retry(_) => Err(Drain::Interrupted),
        }
    }
}

/// The staged object a parked entry names.
fn staged_object(parked: &ParkedObject) -> Option<StagedObject> {
    Some(StagedObject {
        bucket: parked.bucket.clone(),
        key: parked.object_key.clone(),
        layout: ObjectKey::parse(&parked.object_key).ok()?,
        event_time_ms: parked.event_time_ms,
    })
}

/// When to probe a blocked target next.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The delivery version it was blocked under: a newer one probes at once.
    version: i64,
    /// Probes in a row that found it blocked (the backoff's retry number).
    failures: u32,
    next_ms: i64,
}

/// Finds targets with parked objects and drains them when they are due.
pub struct Drainer {
    /// Owner name in the drain lease (one per replica).
    owner: String,
    /// The probe schedule: the first interval, doubling to the longest (no jitter: the
    /// lease spaces replicas).
    probe: Backoff,
    /// The schedule of a target its account throttles: within seconds, so its parked
    /// objects drain about as fast as the account accepts them.
    throttled: Backoff,
    probes: Mutex<HashMap<Target, Probe>>,
    /// How long a lease holds unless renewed.
    lease_hold: Duration,
    /// Now, in ms since the epoch (the wall clock; tests drive their own).
    clock: fn() -> i64,
}

impl Drainer {
    /// Probes at most every `probe`, doubling to `max_probe` while a target keeps failing.
    pub fn new(owner: String, probe: Duration, max_probe: Duration) -> Self {
        Self {
            owner,
            probe: Backoff {
                base: probe,
                max: max_probe,
                attempts: u32::MAX,
            },
            throttled: Backoff {
                base: probe.min(THROTTLED_PROBE),
                max: max_probe.min(THROTTLED_PROBE * 12),
                attempts: u32::MAX,
            },
            probes: Mutex::new(HashMap::new()),
            lease_hold: LEASE_HOLD,
            clock: now_ms,
        }
    }

    /// The same drainer reading time from `clock` (a test's own) and holding leases for
    /// `lease_hold`.
    #[cfg(test)]
    pub fn with_clock(mut self, clock: fn() -> i64, lease_hold: Duration) -> Self {
        self.clock = clock;
        self.lease_hold = lease_hold;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// One look at the parked targets.
    pub async fn tick<D: Deliverer, L: Ledger>(&self, pipeline: &Pipeline<D, L>) {
        let parked = match pipeline.ledger().parked_targets().await {
            Ok(parked) => parked,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list targets with parked objects");
                return;
            }
        };
        let total: u64 = parked.iter().map(|h| h.parked_objects).sum();
        metrics::gauge!("logspoke_worker_parked_objects").set(total as f64);
        metrics::gauge!("logspoke_worker_parked_targets").set(parked.len() as f64);
        let mut due: Vec<Target> = parked.into_iter().map(|h| h.target).collect();
        // Round after round, a turn for each due target, until none has objects left or
        // the tick has run for its budget (a target filling faster than it drains must not
        // keep the tick from listing the targets parked since).
        let started = tokio::time::Instant::now();
        while !due.is_empty() && started.elapsed() < TICK_BUDGET {
            let turns = stream::iter(due)
                .map(|target| async move {
                    let held = pipeline.configs().held(&target.tenant_id, target.delivery_type)?;
                    if held.config.state != EffectiveState::Active
                        || !self.due(&target, held.versions.delivery)
                    {
                        return None;
                    }
                    let paused = matches!(
                        self.drain(pipeline, &target, held.versions, &held.config).await,
                        Some(Drain::Paused(_))
                    );
                    paused.then_some(target)
                })
                .buffer_unordered(CONCURRENT_TARGETS);
            due = turns.filter_map(std::future::ready).collect().await;
        }
    }

    fn due(&self, target: &Target, delivery_version: i64) -> bool {
        let now = self.now();
        let probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
        probes
            .get(target)
            .is_none_or(|p| p.version != delivery_version || now >= p.next_ms)
    }

    /// One turn of `target` under the lease; `None` when another replica holds it.
    async fn drain<D: Deliverer, L: Ledger>(
        &self,
        pipeline: &Pipeline<D, L>,
        target: &Target,
        versions: Versions,
        config: &LiveConfig,
    ) -> Option<Drain> {
        match self
            .lease(pipeline, target, versions.delivery, self.hold_end())
            .await
        {
            Ok(true) => {}
            Ok(false) => return None,
            Err(err) => {
                tracing::warn!(%target, error = %err, "cannot take the drain lease");
                return None;
            }
        }
        let turn = pipeline.drain_turn(target, versions.config, config, TURN);
        let result = self.renewing(pipeline, target, versions.delivery, turn).await;
        let next = self.schedule(target, versions.delivery, result);
        // Hold the lease until the next probe, so other replicas do not probe sooner.
        if let Err(err) = self.lease(pipeline, target, versions.delivery, next).await {
            tracing::warn!(%target, error = %err, "cannot renew the drain lease");
        }
        Some(result)
    }

    /// Runs `turn`, renewing the lease every third of its hold. A lease another replica
    /// took (under a newer delivery version) stops the turn: that replica drains now.
    async fn renewing<D: Deliverer, L: Ledger>(
        &self,
        pipeline: &Pipeline<D, L>,
        target: &Target,
        delivery_version: i64,
        turn: impl std::future::Future<Output = Drain>,
    ) -> Drain {
        let mut turn = std::pin::pin!(turn);
        loop {
            tokio::select! {
                drain = &mut turn => return drain,
                () = tokio::time::sleep(self.lease_hold / 3) => {
                    match self.lease(pipeline, target, delivery_version, self.hold_end()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!(%target, "another replica took the drain lease after a change that matters for delivery; this turn stops");
                            return Drain::Interrupted;
                        }
                        // The lease still holds for two thirds of its time: the next
                        // renewal may succeed.
                        Err(err) => tracing::warn!(%target, error = %err, "cannot renew the drain lease"),
                    }
                }
            }
        }
    }

    fn hold_end(&self) -> i64 {
        self.now() + i64::try_from(self.lease_hold.as_millis()).unwrap_or(i64::MAX)
    }

    async fn lease<D: Deliverer, L: Ledger>(
        &self,
        pipeline: &Pipeline<D, L>,
        target: &Target,
        delivery_version: i64,
        until_ms: i64,
    ) -> Result<bool, logspoke_aws::AwsError> {
        pipeline
            .ledger()
            .lease(target, &self.owner, delivery_version, self.now(), until_ms)
            .await
    }

    /// Records how a drain ended; returns when the target is due again (ms since the epoch).
    fn schedule(&self, target: &Target, delivery_version: i64, result: Drain) -> i64 {
        let now = self.now();
        let mut probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Drain::Drained(count) => {
                tracing::info!(%target, count, "drained the parked objects of a target that works again");
                probes.remove(target);
                now
            }
            Drain::Paused(_) => {
                probes.remove(target);
                now
            }
            Drain::Blocked(cause) => {
                let failures = probes
                    .get(target)
                    .filter(|p| p.version == delivery_version)
                    .map_or(1, |p| p.failures.saturating_add(1));
                let schedule = if cause == Cause::Throttled {
                    &self.throttled
                } else {
                    &self.probe
                };
                let delay = schedule.bound(failures);
                tracing::info!(%target, cause = cause.as_str(), delay_s = delay.as_secs(), "a target with parked objects still refuses them");
                Self::next_probe(&mut probes, target, delivery_version, failures, now, delay)
            }
            Drain::Interrupted => {
                Self::next_probe(&mut probes, target, delivery_version, 1, now, self.probe.bound(1))
            }
        }
    }

    /// Schedules the target's next probe `delay` after `now`; returns when (ms since the
    /// epoch).
    fn next_probe(
        probes: &mut HashMap<Target, Probe>,
        target: &Target,
        version: i64,
        failures: u32,
        now: i64,
        delay: Duration,
    ) -> i64 {
        let next_ms = now + delay.as_millis() as i64;
        let probe = Probe {
            version,
            failures,
            next_ms,
        };
        probes.insert(target.clone(), probe);
        next_ms
    }
}

//! One delivery of one staged object to its targets: the only place that reads what a
//! target has of an object, decides what it needs, sends it, classifies the result and
//! writes the delivery ledger. Live delivery, the drain and replays call it with the
//! [`Purpose`] that says what the ledger's answer means for them.
//!
//! Per object, and for all of its targets at once:
//!
//! 1. **Look up** each target's record and parked count: one batched, strongly
//!    consistent ledger read ([`Ledger::lookup`]).
//! 2. **Plan** per target ([`plan`]): skip a target that has the object (a redelivered
//!    message re-sends to nobody who has it) or has it parked; park it behind the
//!    target's parked objects, or while its config awaits verification, so the target
//!    receives its objects in order; otherwise send it, after the CloudWatch batches an
//!    earlier attempt under the same config version had acknowledged.
//! 3. **Send** to every target being sent to from one read of the object
//!    ([`Deliverer::deliver`]), each with the lines its filter keeps of it
//!    ([`LineFilter::for_object`]); the sinks report each acknowledged batch to this module
//!    ([`ProgressRecord`]), which writes it as an `in_progress` record.
//!    An attempt has a time budget ([`Pipeline::with_attempt_budget`]): past it the attempt
//!    is stopped, what it acknowledged stays recorded, and it is a retry. Each send holds a
//!    permit of its destination's adaptive limit (`crate::sinks::adaptive`): a destination
//!    at its limit is not called, the send ends throttled at once.
//! 4. **Classify and record**: delivered → a `delivered` record and the target's health
//!    (with the lines its filter removed, `events_filtered`; an object it emptied is
//!    delivered with 0 events);
//!    never deliverable → a `rejected` record; refused by the customer's setup, or
//!    throttled by the customer's account past the sink's quick retries → parked (live) or
//!    reported to the scheduler (drain, replay); a failure a retry may fix → reported for a
//!    retry. A drained object is unparked once it is final.

use futures_util::future::join_all;
use logspoke_contract::ledger::{Cause, Counters, ObjectRecord, ObjectState, ParkedObject, Target};
use logspoke_contract::replay::ReplayMode;
use logspoke_contract::{EffectiveState, LiveConfig};

use super::{
    missing_result, resume_from, staged_ms, Attempt, Delivered, Deliverer, Pipeline, Progress, Resume,
};
use crate::clock::now_ms;
use crate::event::{reject, StagedObject};
use crate::filter::LineFilter;
use crate::ledger::{Ledger, TargetLedger};
use crate::sinks::adaptive::{Destination, Permit};
use crate::sinks::{TargetError, PROVIDER_SIDE};

/// The refusal of a delivery to a destination at its adaptive limit: the customer's
/// account throttled recent deliveries, so this one waits (parked, live) instead of adding
/// to them.
fn at_limit() -> TargetError {
    metrics::counter!("logspoke_worker_deliveries_held_back_total").increment(1);
    TargetError::Customer(
        Cause::Throttled,
        "the account throttled recent deliveries; this one waits until it accepts more".into(),
    )
}

/// Tells the destination's adaptive limit how a delivery under `permit` ended.
fn report(permit: Permit, result: Result<Delivered, TargetError>) -> Result<Delivered, TargetError> {
    match &result {
        Ok(_) => permit.accepted(),
        Err(TargetError::Customer(Cause::Throttled, _)) => permit.throttled(),
        Err(_) => drop(permit),
    }
    result
}

/// One target of an object: which, and under which config (and its version).
#[derive(Debug, Clone)]
pub struct Route<'a> {
    /// The tenant and target type.
    pub target: Target,
    /// The config's version (progress resumes only under the same one).
    pub version: i64,
    /// The config.
    pub config: &'a LiveConfig,
}

/// Why an object is delivered: what a target's ledger entry means for the delivery.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// A new object from the delivery queue: a target that has it, or has it parked, is
    /// skipped; it is parked behind a target's parked objects, for a config that awaits
    /// verification, and for a target whose customer-side setup refuses it.
    Live,
    /// This parked object, drained in staged order: a target that has it is done with
    /// it; a refusal leaves it parked. Once final it is unparked; past the staging
    /// bucket's retention it is recorded as expired without a read.
    Drain(&'a ParkedObject),
    /// One object of a replay: `missing` skips what a target has or has parked, `all`
    /// sends it again. A refusal is the replay's to handle (it stops).
    Replay(ReplayMode),
}

/// How the delivery of an object to one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now, and recorded as delivered.
    Sent(Delivered),
    /// Nothing sent: the target has the object, or it waits parked for the target.
    Skipped,
    /// Parked for the target with this cause (live delivery).
    Parked(Cause),
    /// Never deliverable (an unreadable file, a stream name that renders empty); recorded
    /// as rejected.
    Rejected,
    /// A parked object the staging bucket no longer holds; recorded as rejected
    /// (`expired`) and unparked.
    Expired,
    /// The customer's setup refused it; it stays where it was (drain, replay).
    Refused(TargetError),
    /// A retry may pass with nothing changed (throttling, an outage, the ledger).
    Retry(TargetError),
}

impl Delivery {
    /// True when the object must be tried again for this target.
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry(_))
    }
}

/// What becomes of one target of an object, from its ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Nothing to send (the target has it, or it is parked for it); `duplicate` when a
    /// redelivered message found it delivered.
    Skip { duplicate: bool },
    /// Park the object for it, for this cause.
    Park(Cause),
    /// Send it, starting here.
    Send(Resume),
}

/// The plan for a target whose ledger entry is `ledger`, delivering for `purpose` under
/// config `version` of `config`.
fn plan(purpose: Purpose<'_>, ledger: &TargetLedger, version: i64, config: &LiveConfig) -> Plan {
    let record = ledger.record.as_ref();
    let has = record.is_some_and(|r| r.state.is_final());
    let parked_for_it = record.is_some_and(|r| matches!(r.state, ObjectState::Pending { .. }));
    let duplicate = record.is_some_and(|r| matches!(r.state, ObjectState::Delivered { .. }));
    match purpose {
        Purpose::Live if has || parked_for_it => Plan::Skip { duplicate },
        Purpose::Live if config.state != EffectiveState::Active => Plan::Park(Cause::AwaitingVerification),
        // Behind the ones waiting already, so the target receives its objects in order —
        // unless they wait for a throttling account: then live objects still try, in
        // parallel at the rate the account accepts, and only those throttled park, so one
        // tenant's traffic never queues through the drain one object at a time.
        Purpose::Live if ledger.parked_objects > 0 && ledger.parked_cause != Some(Cause::Throttled) => {
            Plan::Park(ledger.parked_cause.unwrap_or(Cause::AwaitingVerification))
        }
        Purpose::Drain(_) if has => Plan::Skip { duplicate: false },
        Purpose::Replay(ReplayMode::Missing) if has || parked_for_it => Plan::Skip { duplicate: false },
        Purpose::Replay(ReplayMode::All) => Plan::Send(Resume::default()),
        Purpose::Live | Purpose::Drain(_) | Purpose::Replay(ReplayMode::Missing) => {
            Plan::Send(resume_from(record, version))
        }
    }
}

impl<D: Deliverer, L: Ledger> Pipeline<D, L> {
    /// Delivers `object` to the targets of `routes` for `purpose`: one result per route,
    /// in order. Every ledger write of a delivery happens here.
    pub async fn deliver_to(
        &self,
        object: &StagedObject,
        routes: &[Route<'_>],
        purpose: Purpose<'_>,
    ) -> Vec<Delivery> {
        if let Purpose::Drain(parked) = purpose {
            if self.retention.expired(parked.staged_ms, now_ms()) {
                let expired = self.expire(parked, routes.first().map_or(0, |r| r.version)).await;
                return vec![expired; routes.len()];
            }
        }
        let targets: Vec<Target> = routes.iter().map(|r| r.target.clone()).collect();
        let ledgers = match self.ledger.lookup(&object.key, &targets).await {
            Ok(ledgers) if ledgers.len() == routes.len() => ledgers,
            Ok(_) => return vec![Delivery::Retry(missing_result()); routes.len()],
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the delivery ledger; the object will be retried");
                let failed = TargetError::Transient(Cause::AwsUnavailable, PROVIDER_SIDE.to_owned());
                return vec![Delivery::Retry(failed); routes.len()];
            }
        };
        let plans: Vec<Plan> = routes
            .iter()
            .zip(&ledgers)
            .map(|(route, ledger)| plan(purpose, ledger, route.version, route.config))
            .collect();
        let deliveries = self.carry_out(object, routes, &plans, purpose).await;
        match purpose {
            Purpose::Drain(parked) => self.unpark_final(parked, deliveries).await,
            Purpose::Live | Purpose::Replay(_) => deliveries,
        }
    }

    /// Carries out `plans` (one per route): parks and sends (all sends from one read of
    /// the object) at once, then parks what a customer-side failure refused (live).
    async fn carry_out(
        &self,
        object: &StagedObject,
        routes: &[Route<'_>],
        plans: &[Plan],
        purpose: Purpose<'_>,
    ) -> Vec<Delivery> {
        let sends: Vec<(&Route<'_>, Resume)> = routes
            .iter()
            .zip(plans)
            .filter_map(|(route, plan)| match plan {
                Plan::Send(resume) => Some((route, *resume)),
                _ => None,
            })
            .collect();
        let parks = routes.iter().zip(plans).map(|(route, plan)| async move {
            match plan {
                Plan::Park(cause) => Some(self.park(object, route, *cause).await),
                Plan::Skip { duplicate } => {
                    if *duplicate {
                        self.count_duplicate_avoided(&route.target);
                    }
                    Some(Delivery::Skipped)
                }
                Plan::Send(_) => None,
            }
        });
        let (planned, sent) = tokio::join!(join_all(parks), self.send(object, &sends));
        let mut sent = sent.into_iter();
        let settled = planned.into_iter().zip(routes).map(|(planned, route)| {
            let result = if planned.is_none() { sent.next() } else { None };
            async move {
                match (planned, result) {
                    (Some(delivery), _) => delivery,
                    (None, Some(result)) => self.settle(object, route, result, purpose).await,
                    (None, None) => Delivery::Retry(missing_result()),
                }
            }
        });
        join_all(settled).await
    }

    /// What a send's `result` makes of the delivery to `route`'s target.
    async fn settle(
        &self,
        object: &StagedObject,
        route: &Route<'_>,
        result: Result<Delivered, TargetError>,
        purpose: Purpose<'_>,
    ) -> Delivery {
        let err = match result {
            Ok(delivered) => return Delivery::Sent(delivered),
            Err(TargetError::Permanent(..)) => return Delivery::Rejected,
            Err(err) => err,
        };
        match (err, purpose) {
            (TargetError::Customer(cause, _), Purpose::Live) => self.park(object, route, cause).await,
            (err @ TargetError::Customer(..), _) => Delivery::Refused(err),
            (err, _) => Delivery::Retry(err),
        }
    }

    /// Sends the object to the targets of `sends` (from one read of it) and records each
    /// result (delivered, rejected, or the failure in the target's health).
    async fn send(
        &self,
        object: &StagedObject,
        sends: &[(&Route<'_>, Resume)],
    ) -> Vec<Result<Delivered, TargetError>> {
        if sends.is_empty() {
            return Vec::new();
        }
        let expires_at = self.retention.expires_at(staged_ms(object));
        let progress: Vec<ProgressRecord<'_, L>> = sends
            .iter()
            .map(|(route, _)| ProgressRecord {
                ledger: &self.ledger,
                object,
                target: &route.target,
                version: route.version,
                expires_at,
            })
            .collect();
        // A destination at its adaptive limit is not called: the attempt is refused as
        // throttled at once, freeing its slot (live parks it; the drain probes later).
        let permits: Vec<Option<Permit>> = sends
            .iter()
            .map(|(route, _)| self.limits.try_acquire(&Destination::of(route.config)))
            .collect();
        let attempts: Vec<Attempt<'_, ProgressRecord<'_, L>>> = sends
            .iter()
            .zip(&progress)
            .zip(&permits)
            .filter(|(_, permit)| permit.is_some())
            .map(|(((route, resume), progress), _)| Attempt {
                config: route.config,
                lines: LineFilter::for_object(&route.config.filter, &object.layout),
                resume: *resume,
                progress,
            })
            .collect();
        let mut delivered = self.attempt(object, &attempts).await.into_iter();
        let results: Vec<Result<Delivered, TargetError>> = permits
            .into_iter()
            .map(|permit| match permit {
                Some(permit) => report(permit, delivered.next().unwrap_or_else(|| Err(missing_result()))),
                None => Err(at_limit()),
            })
            .collect();
        let recorded = progress
            .iter()
            .zip(results)
            .map(|(progress, result)| self.record(progress, result));
        join_all(recorded).await
    }

    /// Sends the object to the targets of `attempts` within the attempt's time budget:
    /// one result per attempt (a short or late answer is a retry, never a success).
    async fn attempt<P: Progress>(
        &self,
        object: &StagedObject,
        attempts: &[Attempt<'_, P>],
    ) -> Vec<Result<Delivered, TargetError>> {
        if attempts.is_empty() {
            return Vec::new();
        }
        let delivering = self.deliverer.deliver(object, attempts);
        let mut results = match tokio::time::timeout(self.attempt_budget, delivering).await {
            Ok(results) => results,
            Err(_) => vec![Err(self.out_of_time()); attempts.len()],
        };
        results.resize_with(attempts.len(), || Err(missing_result()));
        results
    }

    /// The failure of an attempt stopped at its time budget: its slot (and the message's
    /// visibility extension) is freed, and a later attempt resumes after the batches it
    /// had acknowledged.
    fn out_of_time(&self) -> TargetError {
        let budget = self.attempt_budget.as_secs_f64();
        tracing::warn!(
            budget_s = budget,
            "an attempt at an object ran out of its time budget"
        );
        metrics::counter!("logspoke_worker_attempts_out_of_time_total").increment(1);
        TargetError::Transient(
            Cause::AwsUnavailable,
            format!("the attempt took longer than its time budget ({budget} s); it resumes after its last acknowledged batch"),
        )
    }

    /// Records what `result` says of a delivery: in the ledger when it is final, in the
    /// target's health either way.
    async fn record(
        &self,
        progress: &ProgressRecord<'_, L>,
        result: Result<Delivered, TargetError>,
    ) -> Result<Delivered, TargetError> {
        let state = match &result {
            Ok(delivered) => ObjectState::Delivered {
                events: delivered.events,
                bytes: delivered.bytes,
                at_ms: now_ms(),
            },
            Err(TargetError::Permanent(reason, detail)) => {
                reject(reason, detail, &progress.object.key);
                ObjectState::Rejected {
                    reason: (*reason).to_owned(),
                }
            }
            Err(err) => {
                self.failed(progress.target, err);
                return result;
            }
        };
        self.write(progress.record(state)).await;
        if let Ok(delivered) = &result {
            self.succeeded(progress.object, progress.target, delivered);
        }
        result
    }

    /// Parks `object` for `route`'s target; a retry when even that fails.
    async fn park(&self, object: &StagedObject, route: &Route<'_>, cause: Cause) -> Delivery {
        let staged = staged_ms(object);
        let parked = ParkedObject {
            target: route.target.clone(),
            bucket: object.bucket.clone(),
            object_key: object.key.clone(),
            staged_ms: staged,
            event_time_ms: object.event_time_ms,
            cause,
            parked_at_ms: now_ms(),
            expires_at: self.retention.expires_at(staged),
        };
        match self.ledger.park(&parked, route.version).await {
            Ok(()) => {
                tracing::info!(target = %route.target, cause = cause.as_str(), "parked an object until its target works again");
                metrics::counter!("logspoke_worker_objects_parked_total", "cause" => cause.as_str())
                    .increment(1);
                Delivery::Parked(cause)
            }
            Err(err) => {
                tracing::warn!(target = %route.target, error = %err, "cannot park an object; it will be retried");
                Delivery::Retry(TargetError::Transient(
                    Cause::AwsUnavailable,
                    PROVIDER_SIDE.to_owned(),
                ))
            }
        }
    }

    /// Unparks a drained object once the target is done with it (delivered, had it
    /// already, or rejected it for good); a failed unpark is a retry.
    async fn unpark_final(&self, parked: &ParkedObject, deliveries: Vec<Delivery>) -> Vec<Delivery> {
        let final_ = deliveries
            .iter()
            .all(|d| matches!(d, Delivery::Sent(_) | Delivery::Skipped | Delivery::Rejected));
        if !final_ {
            return deliveries;
        }
        match self.unpark(parked).await {
            Ok(()) => deliveries,
            Err(failed) => vec![failed; deliveries.len()],
        }
    }

    /// Drops a parked entry that can never be delivered (its key is not a staged-object
    /// key): rejected, counted and logged, and unparked.
    pub async fn discard(&self, parked: &ParkedObject) -> Delivery {
        reject(
            "bad_key",
            "a parked object's key is not a staged-object key",
            &parked.object_key,
        );
        match self.unpark(parked).await {
            Ok(()) => Delivery::Rejected,
            Err(failed) => failed,
        }
    }

    /// Removes a parked entry (once, however often it is called).
    async fn unpark(&self, parked: &ParkedObject) -> Result<(), Delivery> {
        self.ledger.unpark(parked).await.map_err(|err| {
            tracing::warn!(target = %parked.target, error = %err, "cannot unpark an object");
            Delivery::Retry(TargetError::Transient(
                Cause::AwsUnavailable,
                format!("unparking the object: {err}"),
            ))
        })
    }

    /// A parked object the staging bucket has deleted: recorded as `rejected`
    /// (`expired`), counted, logged and unparked, never silently dropped.
    async fn expire(&self, parked: &ParkedObject, version: i64) -> Delivery {
        tracing::warn!(
            target = %parked.target,
            object_key = %parked.object_key,
            "a parked object outlived the staging bucket's retention and is no longer deliverable"
        );
        metrics::counter!("logspoke_worker_objects_expired_total", "target" => parked.target.delivery_type.as_str())
            .increment(1);
        let record = ObjectRecord {
            target: parked.target.clone(),
            object_key: parked.object_key.clone(),
            config_version: version,
            state: ObjectState::Rejected {
                reason: "expired".into(),
            },
            updated_at_ms: now_ms(),
            expires_at: parked.expires_at,
        };
        self.write(record).await;
        self.health.count(
            &parked.target,
            Counters {
                expired_objects: 1,
                ..Counters::default()
            },
        );
        match self.unpark(parked).await {
            Ok(()) => Delivery::Expired,
            Err(failed) => failed,
        }
    }

    async fn write(&self, record: ObjectRecord) {
        if let Err(err) = self.ledger.record(&record).await {
            // The target has the object; only a later redelivery could send it twice.
            tracing::warn!(target = %record.target, error = %err, "cannot record a delivery in the ledger");
        }
    }

    fn succeeded(&self, object: &StagedObject, target: &Target, delivered: &Delivered) {
        let tenant = target.tenant_id.to_string();
        let kind = target.delivery_type.as_str();
        if let Some(written) = object.event_time_ms {
            let lag = (now_ms() - written).max(0) as f64 / 1000.0;
            metrics::histogram!("logspoke_worker_delivery_lag_seconds", "tenant_id" => tenant.clone())
                .record(lag);
        }
        metrics::counter!("logspoke_worker_objects_delivered_total", "tenant_id" => tenant.clone(), "target" => kind)
            .increment(1);
        if delivered.events_filtered > 0 {
            metrics::counter!("logspoke_worker_events_filtered_total", "tenant_id" => tenant, "target" => kind)
                .increment(delivered.events_filtered);
        }
        let counters = Counters {
            objects: 1,
            events: delivered.events,
            bytes: delivered.bytes,
            rejected_events: delivered.rejected_events,
            events_filtered: delivered.events_filtered,
            ..Counters::default()
        };
        self.health.delivered(target, object.event_time_ms, counters);
    }

    fn failed(&self, target: &Target, err: &TargetError) {
        let tenant = target.tenant_id.to_string();
        let kind = target.delivery_type.as_str();
        let cause = err.cause().unwrap_or(Cause::AwsUnavailable);
        tracing::warn!(
            target = kind,
            cause = cause.as_str(),
            detail = err.message(),
            "delivery failed"
        );
        metrics::counter!("logspoke_worker_delivery_failures_total", "tenant_id" => tenant, "target" => kind)
            .increment(1);
        self.health.failed(target, cause, err.message());
    }

    fn count_duplicate_avoided(&self, target: &Target) {
        metrics::counter!("logspoke_worker_duplicates_avoided_total", "target" => target.delivery_type.as_str())
            .increment(1);
        self.health.count(
            target,
            Counters {
                duplicates_avoided: 1,
                ..Counters::default()
            },
        );
    }
}

/// Where a sink reports each acknowledged batch of one target: written as an
/// `in_progress` record, so a later attempt resumes after it.
struct ProgressRecord<'a, L> {
    ledger: &'a L,
    object: &'a StagedObject,
    target: &'a Target,
    version: i64,
    expires_at: i64,
}

impl<L> ProgressRecord<'_, L> {
    fn record(&self, state: ObjectState) -> ObjectRecord {
        ObjectRecord {
            target: self.target.clone(),
            object_key: self.object.key.clone(),
            config_version: self.version,
            state,
            updated_at_ms: now_ms(),
            expires_at: self.expires_at,
        }
    }
}

impl<L: Ledger> Progress for ProgressRecord<'_, L> {
    async fn acked(&self, batches: u64, events: u64) {
        let record = self.record(ObjectState::InProgress { batches, events });
        if let Err(err) = self.ledger.record(&record).await {
            // A later batch's record covers this one; only a crash before it re-sends.
            tracing::warn!(target = %record.target, error = %err, "cannot record delivery progress");
        }
    }
}

//! Delivering staged objects to their tenant's targets, exactly once each.
//!
//! One module decides, for one object and the targets it goes to, what each target needs
//! and records what it got: [`target`] (ledger lookup → plan → send → classify →
//! record). Everything else here is a *scheduler* that chooses what to deliver when and
//! hands it to that unit:
//!
//! - live delivery ([`Pipeline::deliver`], driven by the queue receivers and the Lambda
//!   handler): an object's targets run concurrently and independently, from one read of
//!   the object; the message is deleted once no target needs a retry. One failing target
//!   never holds back the tenant's other target, and only that tenant's targets are
//!   involved;
//! - the drain ([`drain`]): parked objects, in the order they were staged, once their
//!   target works again;
//! - replays ([`replay`]): one target's objects of a time window.
//!
//! That unit also decides, per object and target, which lines the target's filter keeps
//! ([`crate::filter::LineFilter`], carried to the sinks with each [`Attempt`]) and counts
//! the ones it removed in the target's health (`events_filtered`): every path filters
//! alike because every path goes through it.
//!
//! The delivery to a target sits behind [`Deliverer`], whose real implementation
//! ([`aws::AwsDeliverer`]) assumes the tenant's role and runs the sinks.

pub mod aws;
pub mod drain;
pub mod replay;
pub mod target;
pub mod tee;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use logspoke_contract::ledger::{Cause, ObjectRecord, ObjectState, Target};
use logspoke_contract::{DeliveryType, LiveConfig};

pub use self::target::{Delivery, Purpose, Route};
use crate::clock::now_ms;
use crate::delivery_health::DeliveryHealth;
use crate::event::{self, reject, StagedObject};
use crate::filter::LineFilter;
use crate::ledger::Ledger;
use crate::sinks::adaptive::DestinationLimits;
pub use crate::sinks::{Delivered, Progress, Resume, TargetError};
use crate::tenants::{Targets, TenantConfigs};

/// How an object, or a whole message, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target has it, parked it or refused it for good (or none wanted it): delete.
    Done,
    /// At least one target failed in a way a retry may fix: leave the message for a retry.
    Retry,
}

/// Delivers an object to targets of its tenant: what the pipeline needs of credentials,
/// the staging bucket and the sinks.
pub trait Deliverer: Send + Sync + 'static {
    /// Delivers `object` to every target of `attempts` from one read of it (an object
    /// with a CloudWatch and an S3 target is fetched once), each starting after what its
    /// `resume` says was acknowledged and reporting acknowledged batches to its
    /// `progress`. One result per attempt, in order; one target's failure never fails
    /// another.
    fn deliver<P: Progress>(
        &self,
        object: &StagedObject,
        attempts: &[Attempt<'_, P>],
    ) -> impl Future<Output = Vec<Result<Delivered, TargetError>>> + Send;
}

/// One target's part in delivering an object.
pub struct Attempt<'a, P> {
    /// The target's config.
    pub config: &'a LiveConfig,
    /// Which of the object's lines the target receives (its config's filter, applied to
    /// this object).
    pub lines: LineFilter,
    /// What an earlier attempt had acknowledged.
    pub resume: Resume,
    /// Where acknowledged batches are reported.
    pub progress: &'a P,
}

/// How long the ledger keeps what it knows of a staged object.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// The staging bucket's expiry (`LOGSPOKE_STAGING_RETENTION_DAYS`): a parked object
    /// older than this is gone, reported as expired.
    pub staging: Duration,
}

impl Retention {
    /// TTL of the ledger items of an object staged at `staged_ms`: a week past the
    /// staging bucket's expiry.
    pub fn expires_at(&self, staged_ms: i64) -> i64 {
        staged_ms / 1000 + self.staging.as_secs() as i64 + 7 * 24 * 3600
    }

    /// True when the staging bucket has deleted an object staged at `staged_ms`.
    pub fn expired(&self, staged_ms: i64, now_ms: i64) -> bool {
        now_ms - staged_ms > self.staging.as_millis() as i64
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            staging: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// Routes objects to their tenant's targets and decides what becomes of their message.
pub struct Pipeline<D, L> {
    configs: Arc<TenantConfigs>,
    deliverer: D,
    ledger: L,
    health: Arc<DeliveryHealth>,
    retention: Retention,
    attempt_budget: Duration,
    limits: DestinationLimits,
}

/// Concurrent deliveries to one destination (account, region, service) before it ever
/// throttled, unless [`Pipeline::with_destination_ceiling`] says otherwise: the default of
/// the replica's in-flight slots, so the limit binds only once the destination throttles.
pub const DEFAULT_DESTINATION_CEILING: usize = 16;

/// Default of `LOGSPOKE_WORKER_ATTEMPT_SECONDS`: how long one attempt at an object may
/// take. A collector's largest object (10 MB of events) takes about a second; the budget
/// leaves room for a slow or throttling destination, and bounds what a pathological object
/// can hold a slot for.
pub const DEFAULT_ATTEMPT_BUDGET: Duration = Duration::from_secs(600);

impl<D: Deliverer, L: Ledger> Pipeline<D, L> {
    /// A pipeline delivering to the targets `configs` holds, through `deliverer`,
    /// recording in `ledger` and reporting to `health`.
    pub fn new(
        configs: Arc<TenantConfigs>,
        deliverer: D,
        ledger: L,
        health: Arc<DeliveryHealth>,
        retention: Retention,
    ) -> Self {
        Self {
            configs,
            deliverer,
            ledger,
            health,
            retention,
            attempt_budget: DEFAULT_ATTEMPT_BUDGET,
            limits: DestinationLimits::new(DEFAULT_DESTINATION_CEILING),
        }
    }

    /// The same pipeline, allowing up to `ceiling` concurrent deliveries to a destination
    /// that has not throttled (the replica's in-flight slots): its adaptive limit starts
    /// there ([`crate::sinks::adaptive`]).
    #[must_use]
    pub fn with_destination_ceiling(mut self, ceiling: usize) -> Self {
        self.limits = DestinationLimits::new(ceiling);
        self
    }

    /// The adaptive concurrency limits of the destinations this pipeline delivers to.
    pub fn destination_limits(&self) -> &DestinationLimits {
        &self.limits
    }

    /// The same pipeline, stopping each attempt at an object after `budget`: what it
    /// had acknowledged stays recorded and the object is retried from there.
    #[must_use]
    pub fn with_attempt_budget(mut self, budget: Duration) -> Self {
        self.attempt_budget = budget;
        self
    }

    /// The ledger (for the drain's lease and the health flush).
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The delivery health this pipeline reports to.
    pub fn health(&self) -> &Arc<DeliveryHealth> {
        &self.health
    }

    /// The tenants' configs objects are routed by.
    pub fn configs(&self) -> &TenantConfigs {
        &self.configs
    }

    /// Delivers every object of one message body; `Done` when the message can be
    /// deleted. A body that is not an S3 event, and `s3:TestEvent`, have no objects.
    pub async fn process(&self, body: &str) -> Outcome {
        self.deliver_all(&event::parse(body).objects).await
    }

    /// Delivers the objects of one message, one after the other; `Done` when the message
    /// can be deleted.
    pub async fn deliver_all(&self, objects: &[StagedObject]) -> Outcome {
        let mut outcome = Outcome::Done;
        for object in objects {
            if self.deliver(object).await == Outcome::Retry {
                outcome = Outcome::Retry;
            }
        }
        outcome
    }

    /// Delivers `object` to its tenant's targets that do not have it yet.
    #[tracing::instrument(skip_all, fields(tenant_id = %object.layout.tenant_id(), object_key = %object.key))]
    pub async fn deliver(&self, object: &StagedObject) -> Outcome {
        let targets = match self.route(object) {
            Ok(targets) => targets,
            Err(outcome) => return outcome,
        };
        if targets.is_empty() {
            metrics::counter!("logspoke_worker_objects_skipped_total", "reason" => "no_active_target")
                .increment(1);
            return Outcome::Done;
        }
        let routes: Vec<Route<'_>> = targets
            .iter()
            .map(|(kind, version, config)| Route {
                target: Target::new(object.layout.tenant_id().clone(), *kind),
                version: *version,
                config,
            })
            .collect();
        let deliveries = self.deliver_to(object, &routes, Purpose::Live).await;
        if deliveries.iter().any(Delivery::is_retry) {
            Outcome::Retry
        } else {
            Outcome::Done
        }
    }

    /// The targets `object` goes to (type, config version, config), or the outcome of an
    /// object that has none to go to now (logged and counted here).
    fn route(&self, object: &StagedObject) -> Result<Vec<(DeliveryType, i64, LiveConfig)>, Outcome> {
        let layout = &object.layout;
        match self.configs.targets(layout) {
            Targets::UnknownTenant => {
                reject(
                    "unknown_tenant",
                    "no delivery config for this tenant",
                    &object.key,
                );
                Err(Outcome::Done)
            }
            Targets::UnregisteredCluster => {
                // Never delivered, also not once the cluster is registered later: the
                // object was staged by a cluster the tenant had not vouched for.
                let detail = format!(
                    "cluster '{}' is not registered for this tenant",
                    layout.cluster_id()
                );
                reject("unregistered_cluster", &detail, &object.key);
                Err(Outcome::Done)
            }
            Targets::UnreadableConfig => {
                tracing::warn!("holding an object back: a read-model item of its tenant cannot be parsed");
                metrics::counter!("logspoke_worker_objects_held_total", "reason" => "unreadable_config")
                    .increment(1);
                Err(Outcome::Retry)
            }
            Targets::Deliver(targets) => Ok(targets
                .into_iter()
                .map(|(kind, config)| {
                    let version = self.configs.version(layout.tenant_id(), kind).unwrap_or_default();
                    (kind, version, config)
                })
                .collect()),
        }
    }
}

/// Where an attempt starts: after the batches an earlier attempt under the same config
/// version had acknowledged (another version may name another destination: start over).
fn resume_from(record: Option<&ObjectRecord>, version: i64) -> Resume {
    match record {
        Some(ObjectRecord {
            state: ObjectState::InProgress { batches, events },
            config_version,
            ..
        }) if *config_version == version => Resume {
            batches: *batches,
            events: *events,
        },
        _ => Resume::default(),
    }
}

/// The result of an attempt the deliverer did not answer for: retried, never lost.
fn missing_result() -> TargetError {
    TargetError::Transient(
        Cause::AwsUnavailable,
        "the deliverer returned no result for this target".into(),
    )
}

/// When `object` was staged: when S3 saw it (the time its lifecycle expiry counts from),
/// else its key's timestamp, else now.
pub(crate) fn staged_ms(object: &StagedObject) -> i64 {
    object
        .event_time_ms
        .or_else(|| {
            object
                .layout
                .written_at_unix_seconds()
                .map(|s| s.saturating_mul(1000))
        })
        .unwrap_or_else(now_ms)
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

//! Delivering one staged object to every target of its tenant, exactly once each.
//!
//! The targets of an object run concurrently and independently. Before any of them is
//! sent anything, one batched ledger read tells what each already has
//! ([`crate::ledger`]): a target that has the object is skipped (a redelivered message
//! re-sends to nobody who has it); a CloudWatch target that acknowledged some batches
//! resumes after them. Then, per target:
//!
//! - delivered: a `delivered` record (conditional write);
//! - refused by the customer's setup (role, permission, missing group or bucket, KMS,
//!   region), or the config awaits verification: the object is **parked** for that
//!   target; it drains in order once the target works again ([`drain`]). While a target
//!   has parked objects, new ones queue behind them;
//! - failed in a way a retry may fix (throttling, an outage): the message is retried
//!   through the queue;
//! - never deliverable (an unreadable file): a `rejected` record.
//!
//! The message is deleted once no target needs a retry. One failing target never holds
//! back the tenant's other target, and only that tenant's targets are involved.
//!
//! The delivery to one target sits behind [`Deliverer`], whose real implementation
//! ([`aws::AwsDeliverer`]) assumes the tenant's role and runs the sinks.

pub mod aws;
pub mod drain;
pub mod replay;
pub mod tee;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use logspoke_contract::ledger::{Cause, Counters, ObjectRecord, ObjectState, ParkedObject, Target};
use logspoke_contract::{DeliveryType, EffectiveState, LiveConfig};

use crate::event::{self, reject, StagedObject};
use crate::health::HealthReporter;
use crate::ledger::{Ledger, TargetLedger};
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
    health: Arc<HealthReporter>,
    retention: Retention,
}

/// What becomes of one target of an object.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// It has the object (or it is parked for it already).
    Done,
    /// Park the object for it, for this cause.
    Park(Cause),
    /// Send it, starting here.
    Send(Resume),
}

/// One target of one object, with what the ledger said of it.
struct Job<'a> {
    object: &'a StagedObject,
    target: Target,
    config: &'a LiveConfig,
    version: i64,
    ledger: TargetLedger,
}

impl<D: Deliverer, L: Ledger> Pipeline<D, L> {
    /// A pipeline delivering to the targets `configs` holds, through `deliverer`,
    /// recording in `ledger` and reporting to `health`.
    pub fn new(
        configs: Arc<TenantConfigs>,
        deliverer: D,
        ledger: L,
        health: Arc<HealthReporter>,
        retention: Retention,
    ) -> Self {
        Self {
            configs,
            deliverer,
            ledger,
            health,
            retention,
        }
    }

    /// The ledger (for the drain and the health flush).
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The health reporter.
    pub fn health(&self) -> &Arc<HealthReporter> {
        &self.health
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
        let keys: Vec<Target> = targets
            .iter()
            .map(|(kind, _, _)| Target::new(object.layout.tenant_id().clone(), *kind))
            .collect();
        let ledger = match self.ledger.lookup(&object.key, &keys).await {
            Ok(ledger) => ledger,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the delivery ledger; the object will be retried");
                return Outcome::Retry;
            }
        };
        let jobs: Vec<Job<'_>> = keys
            .into_iter()
            .zip(ledger)
            .zip(&targets)
            .map(|((target, ledger), (_, version, config))| Job {
                object,
                target,
                config,
                version: *version,
                ledger,
            })
            .collect();
        let plans: Vec<Plan> = jobs.iter().map(|job| self.plan(job)).collect();
        let parks = jobs.iter().zip(&plans).filter_map(|(job, plan)| match plan {
            Plan::Park(cause) => Some(self.park(job, *cause)),
            _ => None,
        });
        let sends: Vec<(&Job<'_>, Resume)> = jobs
            .iter()
            .zip(&plans)
            .filter_map(|(job, plan)| match plan {
                Plan::Send(resume) => Some((job, *resume)),
                _ => None,
            })
            .collect();
        let (parked, sent) = tokio::join!(join_all(parks), self.send(&sends));
        if parked.contains(&Outcome::Retry) || sent.contains(&Outcome::Retry) {
            Outcome::Retry
        } else {
            Outcome::Done
        }
    }

    /// What becomes of one target of an object, from what the ledger knows of it and the
    /// state of its config.
    fn plan(&self, job: &Job<'_>) -> Plan {
        match &job.ledger.record {
            Some(record) if record.state.is_final() => {
                if matches!(record.state, ObjectState::Delivered { .. }) {
                    self.count_duplicate_avoided(&job.target);
                }
                return Plan::Done;
            }
            // Parked already: the drain delivers it.
            Some(ObjectRecord {
                state: ObjectState::Pending { .. },
                ..
            }) => return Plan::Done,
            _ => {}
        }
        if job.config.state != EffectiveState::Active {
            return Plan::Park(Cause::AwaitingVerification);
        }
        if job.ledger.parked_objects > 0 {
            // Behind the ones waiting already, so the target receives its objects in order.
            let cause = job.ledger.parked_cause.unwrap_or(Cause::AwaitingVerification);
            return Plan::Park(cause);
        }
        Plan::Send(resume_from(job.ledger.record.as_ref(), job.version))
    }

    /// Sends the object to the targets of `sends` (from one read of it) and parks it for
    /// those whose customer-side setup refused it.
    async fn send(&self, sends: &[(&Job<'_>, Resume)]) -> Vec<Outcome> {
        let results = self.attempt_all(sends).await;
        let outcomes = sends.iter().zip(results).map(|((job, _), result)| async move {
            match result {
                Ok(_) | Err(TargetError::Permanent(..)) => Outcome::Done,
                Err(TargetError::Customer(cause, _)) => self.park(job, cause).await,
                Err(TargetError::Transient(..)) => Outcome::Retry,
            }
        });
        join_all(outcomes).await
    }

    /// Sends `job`'s object to its target and records the result (delivered, rejected,
    /// or the failure in the target's health).
    async fn attempt(&self, job: &Job<'_>, resume: Resume) -> Result<Delivered, TargetError> {
        self.attempt_all(&[(job, resume)])
            .await
            .pop()
            .unwrap_or_else(|| Err(missing_result()))
    }

    /// [`Self::attempt`] for several targets of one object, which the deliverer reads
    /// once for all of them.
    async fn attempt_all(&self, sends: &[(&Job<'_>, Resume)]) -> Vec<Result<Delivered, TargetError>> {
        let Some((first, _)) = sends.first() else {
            return Vec::new();
        };
        let progress: Vec<ProgressRecord<'_, L>> = sends
            .iter()
            .map(|(job, _)| ProgressRecord {
                ledger: &self.ledger,
                job,
                expires_at: self.retention.expires_at(staged_ms(job.object)),
            })
            .collect();
        let attempts: Vec<Attempt<'_, ProgressRecord<'_, L>>> = sends
            .iter()
            .zip(&progress)
            .map(|((job, resume), progress)| Attempt {
                config: job.config,
                resume: *resume,
                progress,
            })
            .collect();
        let mut results = self.deliverer.deliver(first.object, &attempts).await;
        // A result short is a retry, never a silent success.
        results.resize_with(sends.len(), || Err(missing_result()));
        let recorded = progress
            .iter()
            .zip(results)
            .map(|(progress, result)| self.recorded(progress, result));
        join_all(recorded).await
    }

    /// Records what `result` says of a delivery: in the ledger when it is final, in the
    /// target's health either way.
    async fn recorded(
        &self,
        progress: &ProgressRecord<'_, L>,
        result: Result<Delivered, TargetError>,
    ) -> Result<Delivered, TargetError> {
        let job = progress.job;
        let state = match &result {
            Ok(delivered) => ObjectState::Delivered {
                events: delivered.events,
                bytes: delivered.bytes,
                at_ms: now_ms(),
            },
            Err(TargetError::Permanent(reason, detail)) => {
                reject(reason, detail, &job.object.key);
                ObjectState::Rejected {
                    reason: (*reason).to_owned(),
                }
            }
            Err(err) => {
                self.failed(job, err);
                return result;
            }
        };
        self.write(progress.record(state)).await;
        if let Ok(delivered) = &result {
            self.succeeded(job, delivered);
        }
        result
    }

    /// Parks `job`'s object for its target; a retry when even that fails.
    async fn park(&self, job: &Job<'_>, cause: Cause) -> Outcome {
        let staged = staged_ms(job.object);
        let parked = ParkedObject {
            target: job.target.clone(),
            bucket: job.object.bucket.clone(),
            object_key: job.object.key.clone(),
            staged_ms: staged,
            event_time_ms: job.object.event_time_ms,
            cause,
            parked_at_ms: now_ms(),
            expires_at: self.retention.expires_at(staged),
        };
        match self.ledger.park(&parked, job.version).await {
            Ok(()) => {
                tracing::info!(target = %job.target, cause = cause.as_str(), "parked an object until its target works again");
                metrics::counter!("logspoke_worker_objects_parked_total", "cause" => cause.as_str())
                    .increment(1);
                Outcome::Done
            }
            Err(err) => {
                tracing::warn!(target = %job.target, error = %err, "cannot park an object; it will be retried");
                Outcome::Retry
            }
        }
    }

    async fn write(&self, record: ObjectRecord) {
        if let Err(err) = self.ledger.record(&record).await {
            // The target has the object; only a later redelivery could send it twice.
            tracing::warn!(target = %record.target, error = %err, "cannot record a delivery in the ledger");
        }
    }

    fn succeeded(&self, job: &Job<'_>, delivered: &Delivered) {
        let tenant = job.target.tenant_id.to_string();
        let kind = job.target.delivery_type.as_str();
        if let Some(written) = job.object.event_time_ms {
            let lag = (now_ms() - written).max(0) as f64 / 1000.0;
            metrics::histogram!("logspoke_worker_delivery_lag_seconds", "tenant_id" => tenant.clone())
                .record(lag);
        }
        metrics::counter!("logspoke_worker_objects_delivered_total", "tenant_id" => tenant, "target" => kind)
            .increment(1);
        let counters = Counters {
            objects: 1,
            events: delivered.events,
            bytes: delivered.bytes,
            rejected_events: delivered.rejected_events,
            ..Counters::default()
        };
        self.health
            .delivered(&job.target, job.object.event_time_ms, counters);
    }

    fn failed(&self, job: &Job<'_>, err: &TargetError) {
        let tenant = job.target.tenant_id.to_string();
        let kind = job.target.delivery_type.as_str();
        let cause = err.cause().unwrap_or(Cause::AwsUnavailable);
        tracing::warn!(
            target = kind,
            cause = cause.as_str(),
            detail = err.message(),
            "delivery failed"
        );
        metrics::counter!("logspoke_worker_delivery_failures_total", "tenant_id" => tenant, "target" => kind)
            .increment(1);
        self.health.failed(&job.target, cause, err.message());
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

    /// The targets `object` goes to (type, config version, config), or the outcome of an
    /// object that has none to go to now (logged and counted here).
    fn route(&self, object: &StagedObject) -> Result<Vec<(DeliveryType, i64, LiveConfig)>, Outcome> {
        let layout = &object.layout;
        match self
            .configs
            .targets(layout.tenant_id(), layout.cluster_id(), layout.application())
        {
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

/// Writes an `in_progress` record after every acknowledged batch.
struct ProgressRecord<'a, L> {
    ledger: &'a L,
    job: &'a Job<'a>,
    expires_at: i64,
}

impl<L> ProgressRecord<'_, L> {
    fn record(&self, state: ObjectState) -> ObjectRecord {
        ObjectRecord {
            target: self.job.target.clone(),
            object_key: self.job.object.key.clone(),
            config_version: self.job.version,
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

/// Now, in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

//! Delivering one staged object to every active target of its tenant.
//!
//! The targets of an object run concurrently and independently. An object is done when
//! every target either delivered it or refused it for good (a corrupt file, a config that
//! cannot work); any target that failed in a way that may pass (throttling, a denied
//! AssumeRole, an outage) keeps the message for a retry. Only that tenant's targets are
//! involved: one tenant's broken role never affects another's delivery.
//!
//! Which targets an object has, and what their results mean for the message, is decided
//! here ([`Pipeline`]); the delivery to one target sits behind [`Deliverer`], whose real
//! implementation ([`aws::AwsDeliverer`]) assumes the tenant's role and runs the sinks.

pub mod aws;

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use logspoke_contract::{DeliveryType, LiveConfig};

use crate::event::{self, reject, StagedObject};
pub use crate::sinks::TargetError;
use crate::tenants::{Targets, TenantConfigs};

/// How an object, or a whole message, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target has it (or none wanted it, or it can never be delivered): delete.
    Done,
    /// At least one target failed in a way a retry may fix, or the tenant's config must
    /// be waited for: leave the message for a retry.
    Retry,
}

/// Delivers an object to one target of its tenant: what the pipeline needs of
/// credentials, the staging bucket and the sinks.
pub trait Deliverer: Send + Sync + 'static {
    /// Delivers `object` to the target `config` describes (an active config of the
    /// object's tenant that wants it).
    fn deliver(
        &self,
        object: &StagedObject,
        config: &LiveConfig,
    ) -> impl Future<Output = Result<(), TargetError>> + Send;
}

/// Routes objects to their tenant's targets and decides what becomes of their message.
pub struct Pipeline<D> {
    configs: Arc<TenantConfigs>,
    deliverer: D,
}

impl<D: Deliverer> Pipeline<D> {
    /// A pipeline delivering to the targets `configs` holds, through `deliverer`.
    pub fn new(configs: Arc<TenantConfigs>, deliverer: D) -> Self {
        Self { configs, deliverer }
    }

    /// Delivers every object of one message body; `Done` when the message can be
    /// deleted. A body that is not an S3 event, and `s3:TestEvent`, have no objects.
    pub async fn process(&self, body: &str) -> Outcome {
        let parsed = event::parse(body);
        let mut outcome = Outcome::Done;
        for object in &parsed.objects {
            if self.deliver(object).await == Outcome::Retry {
                outcome = Outcome::Retry;
            }
        }
        outcome
    }

    /// Delivers `object` to its tenant's active targets.
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
        let results = join_all(
            targets
                .iter()
                .map(|(_, config)| self.deliverer.deliver(object, config)),
        )
        .await;
        let mut outcome = Outcome::Done;
        for ((kind, _), result) in targets.iter().zip(results) {
            outcome = match record(object, *kind, result) {
                Outcome::Retry => Outcome::Retry,
                Outcome::Done => outcome,
            };
        }
        outcome
    }

    /// The targets `object` goes to, or the outcome of an object that has none to go to
    /// now (logged and counted here).
    fn route(&self, object: &StagedObject) -> Result<Vec<(DeliveryType, LiveConfig)>, Outcome> {
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
            Targets::AwaitingVerification => {
                tracing::info!("holding an object back until the tenant's config is verified again");
                metrics::counter!("logspoke_worker_objects_held_total", "reason" => "awaiting_verification")
                    .increment(1);
                Err(Outcome::Retry)
            }
            Targets::Deliver(targets) => Ok(targets),
        }
    }
}

/// Counts and logs how one target ended, and what that means for the object.
fn record(object: &StagedObject, kind: DeliveryType, result: Result<(), TargetError>) -> Outcome {
    let tenant = object.layout.tenant_id().to_string();
    let target = kind.as_str();
    match result {
        Ok(()) => {
            if let Some(written) = object.event_time_ms {
                let lag = (now_ms() - written).max(0) as f64 / 1000.0;
                metrics::histogram!("logspoke_worker_delivery_lag_seconds", "tenant_id" => tenant.clone())
                    .record(lag);
            }
            metrics::counter!("logspoke_worker_objects_delivered_total", "tenant_id" => tenant, "target" => target)
                .increment(1);
            Outcome::Done
        }
        Err(TargetError::Permanent(reason, detail)) => {
            reject(reason, &detail, &object.key);
            Outcome::Done
        }
        Err(TargetError::Transient(detail)) => {
            tracing::warn!(target, detail, "delivery failed; the object will be retried");
            metrics::counter!("logspoke_worker_delivery_failures_total", "tenant_id" => tenant, "target" => target)
                .increment(1);
            Outcome::Retry
        }
    }
}

/// Now, in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

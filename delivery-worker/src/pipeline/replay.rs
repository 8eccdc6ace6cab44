//! One object of a replay, to one target, through the same routing, ledger, credentials
//! and sinks as live traffic.

use logspoke_contract::ledger::{ObjectState, Target};
use logspoke_contract::replay::ReplayMode;
use logspoke_contract::{DeliveryType, EffectiveState};

use super::{resume_from, Deliverer, Job, Pipeline, Resume, TargetError};
use crate::event::StagedObject;
use crate::ledger::{Ledger, TargetLedger};
use crate::sinks::Delivered;
use crate::tenants::Targets;

/// What became of one object of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// The target received it.
    Delivered(Delivered),
    /// `missing` mode: the target had it (or it is parked and drains on its own).
    Skipped,
    /// The target does not take it: another cluster or application, or a file that can
    /// never be delivered (rejected once, with its reason).
    NotWanted,
    /// The target refused it or failed; the replay stops here (`retriable` when a later
    /// attempt may pass with nothing changed).
    Failed {
        /// The cause and what AWS said.
        message: String,
        /// Throttling or an outage rather than the customer's setup.
        retriable: bool,
    },
}

impl<D: Deliverer, L: Ledger> Pipeline<D, L> {
    /// Delivers `object` to the tenant's `kind` target only, if that target wants it.
    /// `missing` skips what the ledger shows the target has; `all` sends it again.
    pub async fn replay_one(&self, object: &StagedObject, kind: DeliveryType, mode: ReplayMode) -> Replayed {
        let layout = &object.layout;
        let targets =
            match self
                .configs
                .targets(layout.tenant_id(), layout.cluster_id(), layout.application())
            {
                Targets::Deliver(targets) => targets,
                Targets::UnreadableConfig => {
                    return Replayed::Failed {
                        message: "a read-model item of the tenant cannot be parsed".into(),
                        retriable: true,
                    }
                }
                Targets::UnknownTenant | Targets::UnregisteredCluster => return Replayed::NotWanted,
            };
        let Some((_, config)) = targets.into_iter().find(|(k, _)| *k == kind) else {
            return Replayed::NotWanted;
        };
        if config.state != EffectiveState::Active {
            return Replayed::Failed {
                message: format!("the config is {}, not active", config.state.as_str()),
                retriable: false,
            };
        }
        let target = Target::new(layout.tenant_id().clone(), kind);
        let version = self.configs.version(layout.tenant_id(), kind).unwrap_or_default();
        let ledger = match self
            .ledger
            .lookup(&object.key, std::slice::from_ref(&target))
            .await
        {
            Ok(mut found) => found.pop().unwrap_or_default(),
            Err(err) => {
                return Replayed::Failed {
                    message: format!("reading the delivery ledger: {err}"),
                    retriable: true,
                }
            }
        };
        let resume = match (&ledger.record, mode) {
            (Some(record), ReplayMode::Missing) if record.state.is_final() => return Replayed::Skipped,
            (Some(record), ReplayMode::Missing) if matches!(record.state, ObjectState::Pending { .. }) => {
                return Replayed::Skipped
            }
            (record, ReplayMode::Missing) => resume_from(record.as_ref(), version),
            (_, ReplayMode::All) => Resume::default(),
        };
        let job = Job {
            object,
            target,
            config: &config,
            version,
            ledger: TargetLedger::default(),
        };
        match self.attempt(&job, resume).await {
            Ok(delivered) => Replayed::Delivered(delivered),
            Err(TargetError::Permanent(..)) => Replayed::NotWanted,
            Err(err @ (TargetError::Customer(..) | TargetError::Transient(..))) => Replayed::Failed {
                message: format!(
                    "{}: {}",
                    err.cause().map_or("error", |c| c.as_str()),
                    err.message()
                ),
                retriable: matches!(err, TargetError::Transient(..)),
            },
        }
    }
}

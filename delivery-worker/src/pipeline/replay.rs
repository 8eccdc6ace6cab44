//! One object of a replay, to one target, through the same routing and the same delivery
//! unit ([`super::target`]) as live traffic.

use logspoke_contract::ledger::Target;
use logspoke_contract::replay::ReplayMode;
use logspoke_contract::{DeliveryType, EffectiveState};

use super::{Deliverer, Delivery, Pipeline, Purpose, Route, TargetError};
use crate::event::StagedObject;
use crate::ledger::Ledger;
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
        let targets = match self.configs().targets(layout) {
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
        let route = Route {
            target: Target::new(layout.tenant_id().clone(), kind),
            version: self
                .configs()
                .version(layout.tenant_id(), kind)
                .unwrap_or_default(),
            config: &config,
        };
        let delivery = self
            .deliver_to(object, &[route], Purpose::Replay(mode))
            .await
            .pop();
        match delivery {
            Some(Delivery::Sent(delivered)) => Replayed::Delivered(delivered),
            Some(Delivery::Skipped) => Replayed::Skipped,
            Some(Delivery::Rejected | Delivery::Expired) => Replayed::NotWanted,
            // A throttling account may accept it a moment later: retried like an outage.
            Some(Delivery::Refused(err)) => {
                let throttled = err.cause() == Some(logspoke_contract::ledger::Cause::Throttled);
                failed(&err, throttled)
            }
            Some(Delivery::Retry(err)) => failed(&err, true),
            Some(Delivery::Parked(_)) | None => failed(&super::missing_result(), true),
        }
    }
}

/// A replay that stops at a failed object: what went wrong, and whether a retry may pass.
fn failed(err: &TargetError, retriable: bool) -> Replayed {
    Replayed::Failed {
        message: format!(
            "{}: {}",
            err.cause().map_or("error", |c| c.as_str()),
            err.message()
        ),
        retriable,
    }
}

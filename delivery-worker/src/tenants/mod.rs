//! The tenants' delivery configs, held in memory.
//!
//! Filled from the DynamoDB read model at start ([`source`]), kept current by the
//! config-change events every replica receives ([`subscription`]) and by a periodic
//! resync. An item replaces the held one only when its version is newer, so events and
//! resyncs may arrive in any order and more than once.

pub mod source;
pub mod subscription;

use std::collections::HashMap;
use std::sync::RwLock;

use logspoke_contract::{ConfigItem, DeliveryType, EffectiveState, LiveConfig, TenantId};

/// What the cache knows of one tenant.
#[derive(Debug, Default, Clone)]
struct TenantEntry {
    cloudwatch: Option<ConfigItem>,
    s3: Option<ConfigItem>,
}

impl TenantEntry {
    fn get(&self, delivery_type: DeliveryType) -> Option<&ConfigItem> {
        match delivery_type {
            DeliveryType::Cloudwatch => self.cloudwatch.as_ref(),
            DeliveryType::S3 => self.s3.as_ref(),
        }
    }

    fn slot(&mut self, delivery_type: DeliveryType) -> &mut Option<ConfigItem> {
        match delivery_type {
            DeliveryType::Cloudwatch => &mut self.cloudwatch,
            DeliveryType::S3 => &mut self.s3,
        }
    }
}

/// Where one object of a tenant goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// The tenant is not in the read model at all.
    UnknownTenant,
    /// A config that wants this application is enabled but not verified (new, or its
    /// ExternalId was rotated): the object waits (is retried) rather than being dropped.
    AwaitingVerification,
    /// The active configs that want this application (possibly none: all disabled).
    Deliver(Vec<(DeliveryType, LiveConfig)>),
}

/// The in-memory read model.
#[derive(Debug, Default)]
pub struct TenantConfigs {
    tenants: RwLock<HashMap<TenantId, TenantEntry>>,
}

impl TenantConfigs {
    /// Applies `item` if it is newer than what is held; returns whether it was applied.
    pub fn apply(&self, item: ConfigItem) -> bool {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let slot = tenants
            .entry(item.tenant_id.clone())
            .or_default()
            .slot(item.delivery_type);
        if slot.as_ref().is_some_and(|held| held.version >= item.version) {
            return false;
        }
        *slot = Some(item);
        true
    }

    /// The version held for (tenant, type), if any.
    pub fn version(&self, tenant_id: &TenantId, delivery_type: DeliveryType) -> Option<i64> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        tenants
            .get(tenant_id)?
            .get(delivery_type)
            .map(|item| item.version)
    }

    /// The active configs of `tenant_id` whose `desired_logs` allow `application`.
    pub fn targets(&self, tenant_id: &TenantId, application: &str) -> Targets {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = tenants.get(tenant_id) else {
            return Targets::UnknownTenant;
        };
        let wanted: Vec<(DeliveryType, &LiveConfig)> = [&entry.cloudwatch, &entry.s3]
            .into_iter()
            .flatten()
            .filter_map(|item| Some((item.delivery_type, item.config.as_ref()?)))
            .filter(|(_, config)| config.desired_logs.allows(application))
            .collect();
        let waiting = |state| {
            matches!(
                state,
                EffectiveState::PendingVerification | EffectiveState::VerificationFailed
            )
        };
        if wanted.iter().any(|(_, config)| waiting(config.state)) {
            return Targets::AwaitingVerification;
        }
        let active = wanted
            .into_iter()
            .filter(|(_, config)| config.state == EffectiveState::Active)
            .map(|(kind, config)| (kind, config.clone()))
            .collect();
        Targets::Deliver(active)
    }

    /// Number of (tenant, type) items held, tombstones included.
    pub fn len(&self) -> usize {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        tenants
            .values()
            .map(|e| usize::from(e.cloudwatch.is_some()) + usize::from(e.s3.is_some()))
            .sum()
    }

    /// True before anything was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;

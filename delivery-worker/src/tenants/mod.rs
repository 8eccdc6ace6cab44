//! The tenants' delivery configs, held in memory.
//!
//! Filled from the DynamoDB read model at start ([`source`]), kept current by the
//! config-change events every replica receives ([`subscription`]) and by a periodic
//! resync. An item replaces the held one only when its version is newer, so events and
//! resyncs may arrive in any order and more than once.
//!
//! Tenant binding: an object is delivered through a config only when the config lists
//! the object's cluster (the api publishes each tenant's registered clusters with every
//! config item). A read-model item the worker cannot parse marks its (tenant, type)
//! unreadable: the tenant's objects are held (retried), never taken for an unknown
//! tenant's and deleted, until a readable item replaces it.

pub mod source;
pub mod subscription;

use std::collections::HashMap;
use std::sync::RwLock;

use logspoke_contract::{
    ConfigItem, DeliveryType, EffectiveState, LiveConfig, NamespaceName, ObjectKey, TenantId,
};

/// What the cache knows of one tenant.
#[derive(Debug, Default, Clone)]
struct TenantEntry {
    cloudwatch: Option<ConfigItem>,
    s3: Option<ConfigItem>,
    /// Types whose current read-model item could not be parsed.
    unreadable: Vec<DeliveryType>,
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
    /// The tenant has configs, but none lists the object's cluster: a cluster that was
    /// never registered for the tenant (or was deregistered) staged it.
    UnregisteredCluster,
    /// One of the tenant's read-model items could not be parsed: hold the object.
    UnreadableConfig,
    /// The enabled configs that want this namespace's application (possibly none: all
    /// disabled, or no `desired_logs` entry matches):
    /// active ones, and ones waiting for verification (new, or the ExternalId was
    /// rotated), for which the object is parked rather than dropped.
    Deliver(Vec<(DeliveryType, LiveConfig)>),
}

/// A live config as held, with its versions.
#[derive(Debug, Clone)]
pub struct Held {
    pub versions: Versions,
    pub config: LiveConfig,
}

/// The two versions of a held config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// The item's version: what delivery progress is recorded under.
    pub config: i64,
    /// The version at which something delivery depends on last changed: what the drainer
    /// keys its "probe at once" and its lease on.
    pub delivery: i64,
}

/// The in-memory read model.
#[derive(Debug, Default)]
pub struct TenantConfigs {
    tenants: RwLock<HashMap<TenantId, TenantEntry>>,
}

impl TenantConfigs {
    /// Applies `item` if it is newer than what is held; returns whether it was applied.
    /// An applied item also clears an unreadable mark of its (tenant, type); a stale one
    /// (a resync racing a change) does not.
    pub fn apply(&self, item: ConfigItem) -> bool {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let entry = tenants.entry(item.tenant_id.clone()).or_default();
        let delivery_type = item.delivery_type;
        let slot = entry.slot(delivery_type);
        if slot.as_ref().is_some_and(|held| held.version >= item.version) {
            return false;
        }
        *slot = Some(item);
        entry.unreadable.retain(|t| *t != delivery_type);
        true
    }

    /// Records that the current item of (tenant, type) cannot be parsed (`None`: the
    /// type is unknown too, so every type of the tenant is affected).
    pub fn mark_unreadable(&self, tenant_id: &TenantId, delivery_type: Option<DeliveryType>) {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let entry = tenants.entry(tenant_id.clone()).or_default();
        let types = match delivery_type {
            Some(t) => vec![t],
            None => vec![DeliveryType::Cloudwatch, DeliveryType::S3],
        };
        for t in types {
            if !entry.unreadable.contains(&t) {
                entry.unreadable.push(t);
            }
        }
    }

    /// The version held for (tenant, type), if any.
    pub fn version(&self, tenant_id: &TenantId, delivery_type: DeliveryType) -> Option<i64> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        tenants
            .get(tenant_id)?
            .get(delivery_type)
            .map(|item| item.version)
    }

    /// The configs of the key's tenant that list its cluster and whose `desired_logs`
    /// allow its namespace and application. The whole key is matched, not the
    /// application alone: a pod chooses its application label, so only the namespace
    /// (from Kubernetes metadata) tells one namespace's `payments` from another's.
    pub fn targets(&self, key: &ObjectKey) -> Targets {
        let (cluster_id, application) = (key.cluster_id(), key.application());
        let namespace = key.namespace().map(NamespaceName::as_str);
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = tenants.get(key.tenant_id()) else {
            return Targets::UnknownTenant;
        };
        if !entry.unreadable.is_empty() {
            return Targets::UnreadableConfig;
        }
        let live: Vec<(DeliveryType, &LiveConfig)> = [&entry.cloudwatch, &entry.s3]
            .into_iter()
            .flatten()
            .filter_map(|item| Some((item.delivery_type, item.config.as_ref()?)))
            .collect();
        let bound: Vec<(DeliveryType, &LiveConfig)> = live
            .iter()
            .copied()
            .filter(|(_, config)| config.accepts_cluster(cluster_id))
            .collect();
        if bound.is_empty() && !live.is_empty() {
            return Targets::UnregisteredCluster;
        }
        let wanted: Vec<(DeliveryType, &LiveConfig)> = bound
            .into_iter()
            .filter(|(_, config)| config.desired_logs.allows(namespace, application))
            .collect();
        let enabled = wanted
            .into_iter()
            .filter(|(_, config)| config.state != EffectiveState::Disabled)
            .map(|(kind, config)| (kind, config.clone()))
            .collect();
        Targets::Deliver(enabled)
    }

    /// The live config of (tenant, type) and its version; `None` when there is none or it
    /// was deleted.
    pub fn config(&self, tenant_id: &TenantId, delivery_type: DeliveryType) -> Option<(i64, LiveConfig)> {
        let held = self.held(tenant_id, delivery_type)?;
        Some((held.versions.config, held.config))
    }

    /// The live config of (tenant, type) with both its versions; `None` when there is none
    /// or it was deleted.
    pub fn held(&self, tenant_id: &TenantId, delivery_type: DeliveryType) -> Option<Held> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let item = tenants.get(tenant_id)?.get(delivery_type)?;
        Some(Held {
            versions: Versions {
                config: item.version,
                delivery: item.delivery_version,
            },
            config: item.config.clone()?,
        })
    }

    /// Whether anything of `tenant_id` is held (a config, a tombstone or an unreadable mark).
    pub fn knows(&self, tenant_id: &TenantId) -> bool {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        tenants.contains_key(tenant_id)
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

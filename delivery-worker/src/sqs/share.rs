//! Each tenant's share of a replica's in-flight slots.
//!
//! A message of the delivery queue whose tenant already holds its share is not processed
//! here but moved to the overflow lane (`crate::sqs`), so one tenant's backlog never
//! stands between another tenant's object and a free slot. What runs from the overflow
//! lane is counted too (a tenant busy there is at its share in the main lane) but is not
//! limited: with nobody else waiting, a tenant may use every slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use logspoke_contract::TenantId;

/// Slots held per tenant, against the share each may hold from the main lane.
#[derive(Debug)]
pub struct Shares {
    share: usize,
    held: Arc<Mutex<HashMap<TenantId, usize>>>,
}

/// One slot counted for a tenant until dropped.
#[derive(Debug)]
pub struct Held {
    tenant: TenantId,
    held: Arc<Mutex<HashMap<TenantId, usize>>>,
}

impl Shares {
    /// Shares of `share` slots per tenant (at least one).
    pub fn new(share: usize) -> Self {
        Self {
            share: share.max(1),
            held: Arc::default(),
        }
    }

    /// A slot for `tenant` if it holds fewer than its share; `None` when it is at its
    /// share.
    pub fn try_take(&self, tenant: &TenantId) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(tenant.clone()).or_default();
        if *count >= self.share {
            return None;
        }
        *count += 1;
        Some(self.held_by(tenant))
    }

    /// A slot for `tenant`, counted whatever it holds (the overflow lane's work).
    pub fn take(&self, tenant: &TenantId) -> Held {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held.entry(tenant.clone()).or_default() += 1;
        self.held_by(tenant)
    }

    /// Slots `tenant` holds now.
    pub fn held(&self, tenant: &TenantId) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(tenant).copied().unwrap_or(0)
    }

    fn held_by(&self, tenant: &TenantId) -> Held {
        Held {
            tenant: tenant.clone(),
            held: self.held.clone(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    #[test]
    fn a_tenant_at_its_share_gets_no_more_slots_until_one_returns() {
        let shares = Shares::new(2);
        let first = shares.try_take(&tenant("acme"));
        let second = shares.try_take(&tenant("acme"));
        assert!(first.is_some() && second.is_some());
        assert!(shares.try_take(&tenant("acme")).is_none(), "past its share");
        assert!(shares.try_take(&tenant("globex")).is_some(), "others keep theirs");
        drop(first);
        assert!(shares.try_take(&tenant("acme")).is_some());
    }

    #[test]
    fn overflow_work_counts_against_the_share_but_is_never_refused() {
        let shares = Shares::new(1);
        let overflow: Vec<Held> = (0..5).map(|_| shares.take(&tenant("acme"))).collect();
        assert_eq!(shares.held(&tenant("acme")), 5);
        assert!(shares.try_take(&tenant("acme")).is_none());
        drop(overflow);
        assert_eq!(shares.held(&tenant("acme")), 0);
        assert!(shares.try_take(&tenant("acme")).is_some());
    }
}

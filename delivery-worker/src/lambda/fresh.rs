//! Config freshness without a subscription: a Lambda execution environment is frozen
//! between invocations, so it cannot hold a change-event queue the way a replica does.
//! It loads the whole read model at cold start and, before it delivers an object,
//! re-reads that object's tenant (one consistent query of the tenant's items) when its
//! copy is older than [`MAX_AGE`]. A change the api published is in DynamoDB before its
//! event is sent, so it takes effect for the next object of that tenant at most
//! [`MAX_AGE`] later: within the 2 s the long-running worker keeps. A tenant the copy
//! does not know at all is read whatever the copy's age: its object would otherwise be
//! rejected for good as an unknown tenant's.
//!
//! Cost: at most one strongly consistent `Query` per distinct tenant of a batch (a
//! tenant has two items, well under 4 KB: one read unit), and none for a known tenant
//! read in the last second; so at most 10 read units per invocation of 10 messages, ≈ $2.5 per
//! million invocations at $0.25 per million on-demand read units.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use logspoke_aws::AwsError;
use logspoke_contract::TenantId;

use crate::tenants::source::{apply_loaded, ReadModel};
use crate::tenants::TenantConfigs;

/// How old a tenant's copy may be when one of its objects is delivered.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Tenants whose read time is kept before the record starts over (a bound, not a
/// working set: tenant ids come from object keys, which a collector could vary).
const MAX_TRACKED_TENANTS: usize = 10_000;

/// The in-memory read model of one execution environment and when each tenant was read.
pub struct Freshness<R> {
    source: R,
    configs: Arc<TenantConfigs>,
    max_age: Duration,
    /// When the whole table was loaded (cold start).
    loaded_at: Instant,
    /// When each tenant was last re-read on its own.
    read_at: Mutex<HashMap<TenantId, Instant>>,
}

impl<R: ReadModel> Freshness<R> {
    /// The copy in `configs`, loaded whole from `source` at `loaded_at`.
    pub fn new(source: R, configs: Arc<TenantConfigs>, loaded_at: Instant, max_age: Duration) -> Self {
        Self {
            source,
            configs,
            max_age,
            loaded_at,
            read_at: Mutex::new(HashMap::new()),
        }
    }

    /// Re-reads every tenant of `tenants` whose copy is older than the maximum age;
    /// returns those that could not be read (their objects wait for a retry rather than
    /// go out on a copy that may be stale).
    pub async fn refresh(&self, tenants: &[TenantId]) -> Vec<TenantId> {
        let mut stale: Vec<&TenantId> = Vec::new();
        for tenant in tenants {
            if !stale.contains(&tenant) && self.is_stale(tenant) {
                stale.push(tenant);
            }
        }
        let reads = join_all(stale.iter().map(|t| self.read(t))).await;
        stale
            .into_iter()
            .zip(reads)
            .filter_map(|(tenant, read)| match read {
                Ok(()) => None,
                Err(err) => {
                    tracing::warn!(tenant_id = %tenant, error = %err, "cannot re-read a tenant's configs; its objects will be retried");
                    Some(tenant.clone())
                }
            })
            .collect()
    }

    fn is_stale(&self, tenant: &TenantId) -> bool {
        // An object of a tenant the copy does not know would be rejected for good: read it
        // first, however recent the copy (a tenant onboarded since the cold start).
        if !self.configs.knows(tenant) {
            return true;
        }
        let read_at = self
            .read_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let last = read_at
            .get(tenant)
            .copied()
            .unwrap_or(self.loaded_at)
            .max(self.loaded_at);
        last.elapsed() > self.max_age
    }

    async fn read(&self, tenant: &TenantId) -> Result<(), AwsError> {
        // Taken before the read: a change after this instant may not be in what it reads.
        let began = Instant::now();
        let items = self.source.tenant(tenant).await?;
        for item in items {
            apply_loaded(&self.configs, item);
        }
        metrics::counter!("logspoke_worker_config_refreshes_total").increment(1);
        let mut read_at = self
            .read_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if read_at.len() >= MAX_TRACKED_TENANTS {
            // Forgotten tenants are only read again: never served from a stale copy.
            read_at.clear();
        }
        read_at.insert(tenant.clone(), began);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use logspoke_aws::AwsErrorKind;
    use logspoke_contract::{ConfigItem, DeliveryType};

    use super::*;
    use crate::tenants::source::Loaded;

    /// A read model whose items are set by the test; counts tenant reads.
    #[derive(Default)]
    struct Table {
        items: Mutex<Vec<ConfigItem>>,
        reads: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    impl ReadModel for &Table {
        async fn scan(&self) -> Result<Vec<Loaded>, AwsError> {
            Ok(self.items.lock().unwrap().iter().cloned().map(Ok).collect())
        }

        async fn tenant(&self, tenant_id: &TenantId) -> Result<Vec<Loaded>, AwsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(AwsError {
                    code: Some("InternalServerError".into()),
                    message: None,
                    status: Some(500),
                    kind: AwsErrorKind::Service,
                });
            }
            let items = self.items.lock().unwrap();
            Ok(items
                .iter()
                .filter(|i| &i.tenant_id == tenant_id)
                .cloned()
                .map(Ok)
                .collect())
        }

        async fn get(&self, _: &TenantId, _: DeliveryType) -> Result<Option<Loaded>, AwsError> {
            unreachable!("the refresh reads whole tenants")
        }
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    fn item(tenant_id: &str, version: i64) -> ConfigItem {
        ConfigItem {
            tenant_id: tenant(tenant_id),
            delivery_type: DeliveryType::S3,
            version,
            delivery_version: version,
            config: None,
            updated_at: "2026-12-04T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn a_tenant_is_re_read_once_its_copy_is_older_than_the_maximum_age() {
        let table = Table::default();
        table.items.lock().unwrap().push(item("acme", 1));
        let configs = Arc::new(TenantConfigs::default());
        crate::tenants::source::resync(&&table, &configs).await.unwrap();
        let fresh = Freshness::new(
            &table,
            configs.clone(),
            Instant::now(),
            Duration::from_millis(200),
        );

        // Just loaded: nothing to read, however many of its objects arrive.
        assert!(fresh.refresh(&[tenant("acme"), tenant("acme")]).await.is_empty());
        assert_eq!(table.reads.load(Ordering::SeqCst), 0);

        table.items.lock().unwrap()[0].version = 2;
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(fresh.refresh(&[tenant("acme"), tenant("acme")]).await.is_empty());
        assert_eq!(table.reads.load(Ordering::SeqCst), 1, "one read for a batch");
        assert_eq!(configs.version(&tenant("acme"), DeliveryType::S3), Some(2));
        // Read again just now: not again.
        fresh.refresh(&[tenant("acme")]).await;
        assert_eq!(table.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_record_of_read_times_stays_bounded_however_many_tenant_ids_arrive() {
        let table = Table::default();
        let fresh = Freshness::new(&table, Arc::default(), Instant::now(), Duration::ZERO);
        let ids: Vec<TenantId> = (0..MAX_TRACKED_TENANTS + 5)
            .map(|i| tenant(&format!("t{i}")))
            .collect();
        for chunk in ids.chunks(500) {
            fresh.refresh(chunk).await;
        }
        assert!(fresh.read_at.lock().unwrap().len() <= MAX_TRACKED_TENANTS);
    }

    #[tokio::test]
    async fn a_tenant_created_after_the_cold_start_is_found_on_use() {
        let table = Table::default();
        let configs = Arc::new(TenantConfigs::default());
        // However fresh the copy: an unknown tenant is read before its object is rejected.
        let fresh = Freshness::new(&table, configs.clone(), Instant::now(), Duration::from_secs(60));
        table.items.lock().unwrap().push(item("globex", 4));
        assert!(fresh.refresh(&[tenant("globex")]).await.is_empty());
        assert_eq!(configs.version(&tenant("globex"), DeliveryType::S3), Some(4));
    }

    #[tokio::test]
    async fn a_tenant_that_cannot_be_read_is_reported_not_taken_as_fresh() {
        let table = Table::default();
        let configs = Arc::new(TenantConfigs::default());
        let fresh = Freshness::new(&table, configs, Instant::now(), Duration::ZERO);
        table.down.store(true, Ordering::SeqCst);
        assert_eq!(fresh.refresh(&[tenant("acme")]).await, [tenant("acme")]);
        // Still stale: read again next time.
        table.down.store(false, Ordering::SeqCst);
        assert!(fresh.refresh(&[tenant("acme")]).await.is_empty());
        assert_eq!(table.reads.load(Ordering::SeqCst), 2);
    }
}

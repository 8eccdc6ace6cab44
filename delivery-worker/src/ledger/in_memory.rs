//! An in-process ledger for unit tests, with the conditions of the real one: final
//! records are never replaced, a parked object is counted once, a drain lease is held by
//! one owner until it expires or a newer delivery version breaks it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use logspoke_aws::AwsError;
use logspoke_contract::ledger::{Cause, HealthItem, ObjectRecord, ObjectState, ParkedObject, Target};

use super::{HealthReport, Ledger, TargetLedger};

/// The whole table in memory.
#[derive(Default)]
pub struct InMemoryLedger {
    /// (partition, object key) → record.
    pub records: Mutex<BTreeMap<(String, String), ObjectRecord>>,
    /// (partition, sort key) → parked object.
    pub parked: Mutex<BTreeMap<(String, String), ParkedObject>>,
    /// Reports as written.
    pub reports: Mutex<Vec<HealthReport>>,
    /// Calls made, by name.
    pub calls: Mutex<Vec<&'static str>>,
    /// Target → drain lease.
    pub leases: Mutex<BTreeMap<String, Lease>>,
}

/// A drain lease as the health item holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until_ms: i64,
    pub version: i64,
}

impl InMemoryLedger {
    fn call(&self, name: &'static str) {
        self.calls.lock().unwrap().push(name);
    }

    /// The record of `object_key` for `target`.
    pub fn record_of(&self, target: &Target, object_key: &str) -> Option<ObjectRecord> {
        let records = self.records.lock().unwrap();
        records.get(&(target.partition(), object_key.to_owned())).cloned()
    }

    /// The cause of the target's oldest parked object (the real table keeps the cause its
    /// first parked object was parked for).
    fn parked_cause(&self, target: &Target) -> Option<Cause> {
        let parked = self.parked.lock().unwrap();
        parked
            .iter()
            .find(|((pk, _), _)| *pk == target.partition())
            .map(|(_, p)| p.cause)
    }

    fn parked_count(&self, target: &Target) -> u64 {
        let parked = self.parked.lock().unwrap();
        parked.keys().filter(|(pk, _)| *pk == target.partition()).count() as u64
    }
}

impl Ledger for InMemoryLedger {
    async fn lookup(&self, object_key: &str, targets: &[Target]) -> Result<Vec<TargetLedger>, AwsError> {
        self.call("lookup");
        Ok(targets
            .iter()
            .map(|t| TargetLedger {
                record: self.record_of(t, object_key),
                parked_objects: self.parked_count(t),
                parked_cause: self.parked_cause(t),
            })
            .collect())
    }

    async fn record(&self, record: &ObjectRecord) -> Result<bool, AwsError> {
        self.call("record");
        let mut records = self.records.lock().unwrap();
        let key = (record.target.partition(), record.object_key.clone());
        let replaceable = match records.get(&key).map(|r| &r.state) {
            None => true,
            Some(held) if held.is_final() => false,
            Some(ObjectState::InProgress { batches: held, .. }) => match record.state {
                ObjectState::InProgress { batches, .. } => batches > *held,
                _ => true,
            },
            Some(_) => true,
        };
        if replaceable {
            records.insert(key, record.clone());
        }
        Ok(replaceable)
    }

    async fn park(&self, object: &ParkedObject, config_version: i64) -> Result<(), AwsError> {
        self.call("park");
        let key = (object.target.partition(), object.sort_key());
        self.parked
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| object.clone());
        let mut records = self.records.lock().unwrap();
        records
            .entry((object.target.partition(), object.object_key.clone()))
            .or_insert_with(|| ObjectRecord {
                target: object.target.clone(),
                object_key: object.object_key.clone(),
                config_version,
                state: ObjectState::Pending { cause: object.cause },
                updated_at_ms: object.parked_at_ms,
                expires_at: object.expires_at,
            });
        Ok(())
    }

    async fn parked(&self, target: &Target, limit: usize) -> Result<Vec<ParkedObject>, AwsError> {
        self.call("parked");
        let parked = self.parked.lock().unwrap();
        Ok(parked
            .iter()
            .filter(|((pk, _), _)| *pk == target.partition())
            .map(|(_, p)| p.clone())
            .take(limit)
            .collect())
    }

    async fn unpark(&self, object: &ParkedObject) -> Result<(), AwsError> {
        self.call("unpark");
        let key = (object.target.partition(), object.sort_key());
        self.parked.lock().unwrap().remove(&key);
        Ok(())
    }

    async fn parked_targets(&self) -> Result<Vec<HealthItem>, AwsError> {
        let parked = self.parked.lock().unwrap();
        let mut items: Vec<HealthItem> = Vec::new();
        for object in parked.values() {
            match items.iter_mut().find(|h| h.target == object.target) {
                Some(item) => item.parked_objects += 1,
                None => {
                    let mut item = HealthItem::empty(object.target.clone());
                    item.parked_objects = 1;
                    item.parked_cause = Some(object.cause);
                    items.push(item);
                }
            }
        }
        Ok(items)
    }

    async fn lease(
        &self,
        target: &Target,
        owner: &str,
        version: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, AwsError> {
        let mut leases = self.leases.lock().unwrap();
        let held = leases.get(&target.partition());
        let free = held.is_none_or(|l| l.until_ms < now_ms || l.owner == owner || l.version < version);
        if free {
            let lease = Lease {
                owner: owner.to_owned(),
                until_ms,
                version,
            };
            leases.insert(target.partition(), lease);
        }
        Ok(free)
    }

    async fn report(&self, report: &HealthReport) -> Result<(), AwsError> {
        self.reports.lock().unwrap().push(report.clone());
        Ok(())
    }
}

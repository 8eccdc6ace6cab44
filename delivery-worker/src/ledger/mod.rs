//! The delivery ledger as the worker uses it: what each target already has of an object,
//! progress per CloudWatch batch, parked objects, and the health every target reports.
//! The item formats are the contract's (`logspoke_contract::ledger`); the table sits
//! behind [`Ledger`], whose real implementation is [`dynamo::DynamoLedger`].
//!
//! Calls per object and target: one batched read for all of the object's targets
//! ([`Ledger::lookup`]), one conditional write when the target is done
//! ([`Ledger::record`]), and for CloudWatch one progress write per acknowledged batch.
//! Health and counters are written per target every few seconds by [`crate::delivery_health`],
//! not per object.

pub mod dynamo;

use std::future::Future;

use logspoke_aws::AwsError;
use logspoke_contract::ledger::{Cause, Counters, HealthItem, LastError, ObjectRecord, ParkedObject, Target};

/// What the ledger says of one target, for one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLedger {
    /// The target's record of the object, if it has one.
    pub record: Option<ObjectRecord>,
    /// Objects parked for the target now: while there are any, new objects queue behind
    /// them, so the target receives its objects in order.
    pub parked_objects: u64,
    /// Why they were parked.
    pub parked_cause: Option<Cause>,
}

/// What one replica saw of a target since its last report; written by conditional and
/// additive updates so that replicas merge.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// The target.
    pub target: Target,
    /// Counters per bucket start (epoch seconds).
    pub counters: Vec<(i64, Counters)>,
    /// The last delivery: when, the staged time of the object, the lag in seconds.
    pub delivered: Option<LastDelivery>,
    /// The last failure, and how many failures came after the last delivery.
    pub failed: Option<(LastError, u64)>,
}

/// The last object a target received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastDelivery {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The object's staged time, ms since the epoch.
    pub event_time_ms: i64,
    /// `at_ms − event_time_ms`, in seconds.
    pub lag_seconds: f64,
}

/// The ledger table, as narrow as the worker needs it.
pub trait Ledger: Send + Sync + 'static {
    /// Each target's record of `object_key` and its parked count, in `targets`' order: one
    /// batched, strongly consistent read.
    fn lookup(
        &self,
        object_key: &str,
        targets: &[Target],
    ) -> impl Future<Output = Result<Vec<TargetLedger>, AwsError>> + Send;

    /// Writes `record` unless the target is done with the object already (a final
    /// record is never replaced, progress never goes back); `false` when it was not
    /// written for that reason.
    fn record(&self, record: &ObjectRecord) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Parks `object` for its target: the entry, counted once in the target's health, and
    /// a `pending` record unless the object has one (an in-progress record keeps its
    /// progress for the drain).
    fn park(
        &self,
        object: &ParkedObject,
        config_version: i64,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Up to `limit` of the target's parked objects, oldest staged first.
    fn parked(
        &self,
        target: &Target,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ParkedObject>, AwsError>> + Send;

    /// Removes a parked entry and uncounts it (once, however often it is called).
    fn unpark(&self, object: &ParkedObject) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The health items of every target with parked objects.
    fn parked_targets(&self) -> impl Future<Output = Result<Vec<HealthItem>, AwsError>> + Send;

    /// Takes (or renews) the target's drain lease for `owner` until `until_ms`; `false`
    /// when another replica holds it, unexpired, under the same or a newer delivery
    /// `version`.
    fn lease(
        &self,
        target: &Target,
        owner: &str,
        version: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Merges one replica's report into the target's health item and counter buckets.
    fn report(&self, report: &HealthReport) -> impl Future<Output = Result<(), AwsError>> + Send;
}

#[cfg(test)]
pub mod in_memory;

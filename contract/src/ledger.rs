//! The delivery ledger: what the worker did with each staged object, per target, and
//! the state of every target that the api reports as its delivery health.
//!
//! One DynamoDB table (`LOGSPOKE_LEDGER_TABLE`), keys `pk` + `sk` (strings), TTL attribute
//! `expires_at` (epoch seconds). A target is one (tenant, delivery type); its partition is
//! `{tenant_id}#{type}` ([`Target::partition`]) and holds:
//!
//! | `sk` | item | written |
//! |---|---|---|
//! | `o#{object key}` | [`ObjectRecord`]: `in_progress` (CloudWatch batches acknowledged), `delivered`, `pending` (parked) or `rejected` | after every PutLogEvents call, and when a target is done with an object |
//! | `p#{staged ms, 13 digits}#{object key}` | [`ParkedObject`]: an object waiting for its target to work again; the sort key orders the drain | when an object is parked; deleted when it is drained |
//! | `c#{bucket start, 10 digits}` | [`CounterBucket`]: what was delivered in one 5-minute bucket | added to, at most every few seconds per replica |
//!
//! and the partition `health` holds one [`HealthItem`] per target (`sk` = `{tenant_id}#{type}`),
//! so that one query lists every target's health for the operators. Object records,
//! parked objects and counters expire a little after the staging bucket deletes the
//! object; health items stay while the target exists.
//!
//! Delivered, pending and rejected records are what make a redelivered SQS message
//! re-send to nobody who already has the object: the worker reads the records of all of
//! an object's targets (and their health items, for parked targets) in one batched read
//! before it sends anything.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attrs::{n, s, Reader};
use crate::{Attr, Attributes, DeliveryType, EffectiveState, ParseError, TenantId};

/// The cause a parked object or a target's last failure is recorded with, stored as
/// [`Cause::as_str`] and read back with [`Cause::parse`].
pub use crate::Cause;

/// Version of the ledger's item layouts, stored in every item as `schema_version`.
pub const LEDGER_SCHEMA_VERSION: u32 = 1;

/// The partition holding every target's [`HealthItem`].
pub const HEALTH_PARTITION: &str = "health";

/// Width of one [`CounterBucket`], in seconds.
pub const COUNTER_BUCKET_SECONDS: i64 = 300;

/// Sort-key prefix of [`ObjectRecord`]s.
pub const OBJECT_PREFIX: &str = "o#";

/// Sort-key prefix of [`ParkedObject`]s.
pub const PARKED_PREFIX: &str = "p#";

/// Sort-key prefix of [`CounterBucket`]s.
pub const COUNTER_PREFIX: &str = "c#";

/// A target without traffic for this long is `idle`.
pub const IDLE_AFTER_MS: i64 = 60 * 60 * 1000;

/// One delivery target: a tenant's CloudWatch Logs or S3 config.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Whose target.
    pub tenant_id: TenantId,
    /// Which of the tenant's targets.
    pub delivery_type: DeliveryType,
}

impl Target {
    /// The target of `tenant_id`'s `delivery_type` config.
    pub fn new(tenant_id: TenantId, delivery_type: DeliveryType) -> Self {
        Self {
            tenant_id,
            delivery_type,
        }
    }

    /// The partition key of the target's records, parked objects and counters, and the
    /// sort key of its health item: `{tenant_id}#{type}`.
    pub fn partition(&self) -> String {
        format!("{}#{}", self.tenant_id, self.delivery_type.as_str())
    }

    /// Reads a [`Target::partition`] back.
    pub fn parse_partition(raw: &str) -> Result<Self, ParseError> {
        let (tenant, kind) = raw
            .split_once('#')
            .ok_or_else(|| ParseError::new(format!("'{raw}' is not a target partition")))?;
        Ok(Self::new(TenantId::parse(tenant)?, DeliveryType::parse(kind)?))
    }

    /// The key of the record of `object_key` for this target.
    pub fn record_key(&self, object_key: &str) -> Attributes {
        key(self.partition(), format!("{OBJECT_PREFIX}{object_key}"))
    }

    /// The key of this target's health item.
    pub fn health_key(&self) -> Attributes {
        key(HEALTH_PARTITION.to_owned(), self.partition())
    }

    /// The key of the counter bucket that holds `at_ms`.
    pub fn counter_key(&self, at_ms: i64) -> Attributes {
        key(self.partition(), counter_sort_key(bucket_start(at_ms)))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant_id, self.delivery_type.as_str())
    }
}

/// A `pk` + `sk` key.
pub fn key(pk: String, sk: String) -> Attributes {
    Attributes::from([("pk".to_owned(), Attr::S(pk)), ("sk".to_owned(), Attr::S(sk))])
}

/// Start (epoch seconds) of the counter bucket holding `at_ms`.
pub fn bucket_start(at_ms: i64) -> i64 {
    at_ms.div_euclid(1000).div_euclid(COUNTER_BUCKET_SECONDS) * COUNTER_BUCKET_SECONDS
}

/// The sort key of the counter bucket starting at `start_s`.
pub fn counter_sort_key(start_s: i64) -> String {
    format!("{COUNTER_PREFIX}{start_s:010}")
}

/// What became of one object for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectState {
    /// CloudWatch only: the first `batches` batches of the object were acknowledged; a
    /// retry resumes after them.
    InProgress {
        /// Batches acknowledged by PutLogEvents, in the packer's order.
        batches: u64,
        /// Events in those batches.
        events: u64,
    },
    /// The target has the whole object.
    Delivered {
        /// Events delivered (CloudWatch; for S3 the object's line count is not read).
        events: u64,
        /// Bytes delivered: message bytes for CloudWatch, object bytes for S3.
        bytes: u64,
        /// When it finished, ms since the epoch.
        at_ms: i64,
    },
    /// Parked: waiting for the target to work again.
    Pending {
        /// Why.
        cause: Cause,
    },
    /// It never can be delivered (an unreadable file, a missing staged object).
    Rejected {
        /// The rejection reason, as counted in `logspoke_worker_rejected_total`.
        reason: String,
    },
}

impl ObjectState {
    /// The `status` attribute.
    pub fn status(&self) -> &'static str {
        match self {
            Self::InProgress { .. } => "in_progress",
            Self::Delivered { .. } => "delivered",
            Self::Pending { .. } => "pending",
            Self::Rejected { .. } => "rejected",
        }
    }

    /// True when the target is done with the object for good: a redelivery skips it.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Delivered { .. } | Self::Rejected { .. })
    }
}

/// The ledger record of one (target, staged object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The target.
    pub target: Target,
    /// The staged object's key.
    pub object_key: String,
    /// The version of the config the object was (being) delivered through; progress is
    /// only resumed under the same version.
    pub config_version: i64,
    /// What became of it.
    pub state: ObjectState,
    /// Last written, ms since the epoch.
    pub updated_at_ms: i64,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

impl ObjectRecord {
    /// The DynamoDB attributes of this record.
    pub fn to_attributes(&self) -> Attributes {
        let mut item = self.target.record_key(&self.object_key);
        item.insert("schema_version".into(), n(LEDGER_SCHEMA_VERSION));
        item.insert("status".into(), s(self.state.status()));
        item.insert("config_version".into(), n(self.config_version));
        item.insert("updated_at_ms".into(), n(self.updated_at_ms));
        item.insert("expires_at".into(), n(self.expires_at));
        match &self.state {
            ObjectState::InProgress { batches, events } => {
                item.insert("batches".into(), n(batches));
                item.insert("events".into(), n(events));
            }
            ObjectState::Delivered { events, bytes, at_ms } => {
                item.insert("events".into(), n(events));
                item.insert("bytes".into(), n(bytes));
                item.insert("delivered_at_ms".into(), n(at_ms));
            }
            ObjectState::Pending { cause } => {
                item.insert("cause".into(), s(cause.as_str()));
            }
            ObjectState::Rejected { reason } => {
                item.insert("reason".into(), s(reason));
            }
        }
        item
    }

    /// Reads a record back; a missing or invalid attribute is an error naming it.
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let r = Reader(item);
        let target = Target::parse_partition(r.s("pk")?).map_err(|e| r.bad("pk", e))?;
        let object_key = r
            .s("sk")?
            .strip_prefix(OBJECT_PREFIX)
            .ok_or_else(|| Reader::missing("sk"))?
            .to_owned();
        let state = match r.s("status")? {
            "in_progress" => ObjectState::InProgress {
                batches: r.count("batches")?,
                events: r.count("events")?,
            },
            "delivered" => ObjectState::Delivered {
                events: r.count("events")?,
                bytes: r.count("bytes")?,
                at_ms: r.n("delivered_at_ms")?,
            },
            "pending" => ObjectState::Pending {
                cause: Cause::parse(r.s("cause")?).map_err(|e| r.bad("cause", e))?,
            },
            "rejected" => ObjectState::Rejected {
                reason: r.s("reason")?.to_owned(),
            },
            other => {
                return Err(r.bad("status", ParseError::new(format!("unknown status '{other}'"))));
            }
        };
        Ok(Self {
            target,
            object_key,
            config_version: r.n("config_version")?,
            state,
            updated_at_ms: r.n("updated_at_ms")?,
            expires_at: r.n("expires_at")?,
        })
    }
}

/// An object parked for one target, waiting for the target to work again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedObject {
    /// The target it waits for.
    pub target: Target,
    /// The staging bucket.
    pub bucket: String,
    /// The staged object's key.
    pub object_key: String,
    /// When it was staged (the S3 event's time, else the key's timestamp), ms since the
    /// epoch; the drain goes in this order.
    pub staged_ms: i64,
    /// The S3 event's time, if the event had one (the fallback timestamp of lines
    /// without one).
    pub event_time_ms: Option<i64>,
    /// Why it was parked.
    pub cause: Cause,
    /// When, ms since the epoch.
    pub parked_at_ms: i64,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

impl ParkedObject {
    /// The sort key: staged time first, so a query drains in order.
    pub fn sort_key(&self) -> String {
        format!("{PARKED_PREFIX}{:013}#{}", self.staged_ms.max(0), self.object_key)
    }

    /// The staged time a [`ParkedObject::sort_key`] starts with: what the first item of a
    /// target's parked range says of the oldest object waiting, without reading it.
    pub fn staged_ms_of(sort_key: &str) -> Option<i64> {
        sort_key.strip_prefix(PARKED_PREFIX)?.get(..13)?.parse().ok()
    }

    /// The item's key.
    pub fn key(&self) -> Attributes {
        key(self.target.partition(), self.sort_key())
    }

    /// The DynamoDB attributes of this entry.
    pub fn to_attributes(&self) -> Attributes {
        let mut item = self.key();
        item.insert("schema_version".into(), n(LEDGER_SCHEMA_VERSION));
        item.insert("bucket".into(), s(&self.bucket));
        item.insert("object_key".into(), s(&self.object_key));
        item.insert("staged_ms".into(), n(self.staged_ms));
        if let Some(at) = self.event_time_ms {
            item.insert("event_time_ms".into(), n(at));
        }
        item.insert("cause".into(), s(self.cause.as_str()));
        item.insert("parked_at_ms".into(), n(self.parked_at_ms));
        item.insert("expires_at".into(), n(self.expires_at));
        item
    }

    /// Reads an entry back.
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let r = Reader(item);
        Ok(Self {
            target: Target::parse_partition(r.s("pk")?).map_err(|e| r.bad("pk", e))?,
            bucket: r.s("bucket")?.to_owned(),
            object_key: r.s("object_key")?.to_owned(),
            staged_ms: r.n("staged_ms")?,
            event_time_ms: r.opt_n("event_time_ms")?,
            cause: Cause::parse(r.s("cause")?).map_err(|e| r.bad("cause", e))?,
            parked_at_ms: r.n("parked_at_ms")?,
            expires_at: r.n("expires_at")?,
        })
    }
}

/// What a target received in some span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Counters {
    /// Objects delivered.
    pub objects: u64,
    /// Events delivered (CloudWatch).
    pub events: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// Events CloudWatch refused one by one (too old, too new, expired).
    pub rejected_events: u64,
    /// Objects not sent again because the ledger showed the target had them.
    pub duplicates_avoided: u64,
    /// Parked objects the staging bucket deleted before the target worked again.
    pub expired_objects: u64,
    /// Events the config's filter removed (not delivered, not billed to the customer).
    #[serde(default)]
    pub events_filtered: u64,
}

impl Counters {
    /// Attribute names, in the order of [`Counters::values`].
    pub const NAMES: [&'static str; 7] = [
        "objects",
        "events",
        "bytes",
        "rejected_events",
        "duplicates_avoided",
        "expired_objects",
        "events_filtered",
    ];

    /// The values, in the order of [`Counters::NAMES`].
    pub fn values(&self) -> [u64; 7] {
        [
            self.objects,
            self.events,
            self.bytes,
            self.rejected_events,
            self.duplicates_avoided,
            self.expired_objects,
            self.events_filtered,
        ]
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.values().iter().all(|v| *v == 0)
    }

    /// Adds `other` to these.
    pub fn add(&mut self, other: &Self) {
        self.objects += other.objects;
        self.events += other.events;
        self.bytes += other.bytes;
        self.rejected_events += other.rejected_events;
        self.duplicates_avoided += other.duplicates_avoided;
        self.expired_objects += other.expired_objects;
        self.events_filtered += other.events_filtered;
    }

    fn read(r: &Reader<'_>) -> Result<Self, ParseError> {
        Ok(Self {
            objects: r.count("objects")?,
            events: r.count("events")?,
            bytes: r.count("bytes")?,
            rejected_events: r.count("rejected_events")?,
            duplicates_avoided: r.count("duplicates_avoided")?,
            expired_objects: r.count("expired_objects")?,
            events_filtered: r.count("events_filtered")?,
        })
    }
}

/// A target's counters for one [`COUNTER_BUCKET_SECONDS`] bucket, added to by every
/// replica (`ADD`, so replicas never overwrite each other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterBucket {
    /// The target.
    pub target: Target,
    /// Bucket start, epoch seconds.
    pub start_s: i64,
    /// What was counted in it.
    pub counters: Counters,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

impl CounterBucket {
    /// The DynamoDB attributes (as a reader sees the item after the adds).
    pub fn to_attributes(&self) -> Attributes {
        let mut item = key(self.target.partition(), counter_sort_key(self.start_s));
        item.insert("schema_version".into(), n(LEDGER_SCHEMA_VERSION));
        for (name, value) in Counters::NAMES.iter().zip(self.counters.values()) {
            item.insert((*name).into(), n(value));
        }
        item.insert("expires_at".into(), n(self.expires_at));
        item
    }

    /// Reads a bucket back; absent counters are zero.
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let r = Reader(item);
        let start = r
            .s("sk")?
            .strip_prefix(COUNTER_PREFIX)
            .and_then(|start| start.parse().ok())
            .ok_or_else(|| Reader::missing("sk"))?;
        Ok(Self {
            target: Target::parse_partition(r.s("pk")?).map_err(|e| r.bad("pk", e))?,
            start_s: start,
            counters: Counters::read(&r)?,
            expires_at: r.opt_n("expires_at")?.unwrap_or(0),
        })
    }
}

/// The last failure a target had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// What kind of failure.
    pub cause: Cause,
    /// What AWS said, scrubbed of ExternalIds and credentials.
    pub message: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// A target's delivery health as workers last wrote it (each field by conditional or
/// additive updates, so replicas merge instead of overwriting each other).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthItem {
    /// The target.
    pub target: Target,
    /// When an object last reached the target, ms since the epoch.
    pub last_delivered_at_ms: Option<i64>,
    /// The newest event time (staged object's time) delivered, ms since the epoch.
    pub last_event_time_ms: Option<i64>,
    /// Delivery lag of the last delivered object: delivered − staged, seconds.
    pub lag_seconds: Option<f64>,
    /// The last failure.
    pub last_error: Option<LastError>,
    /// Failures since the last delivery.
    pub consecutive_failures: u64,
    /// Objects parked for the target now.
    pub parked_objects: u64,
    /// Why the oldest parked objects were parked.
    pub parked_cause: Option<Cause>,
}

/// A target's state as the api reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Objects reach the target.
    Healthy,
    /// The target refuses objects (they are parked) or its last attempts failed.
    Failing,
    /// Nothing was delivered in the last hour, and nothing failed.
    Idle,
    /// The config is disabled or waits for verification: objects wait (parked) or are
    /// not delivered.
    Paused,
}

impl HealthState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Failing => "failing",
            Self::Idle => "idle",
            Self::Paused => "paused",
        }
    }
}

impl HealthItem {
    /// A target nothing was recorded for yet.
    pub fn empty(target: Target) -> Self {
        Self {
            target,
            last_delivered_at_ms: None,
            last_event_time_ms: None,
            lag_seconds: None,
            last_error: None,
            consecutive_failures: 0,
            parked_objects: 0,
            parked_cause: None,
        }
    }

    /// The state, given the config's effective state and the time now.
    pub fn state(&self, config: EffectiveState, now_ms: i64) -> HealthState {
        if config != EffectiveState::Active {
            return HealthState::Paused;
        }
        let failed_since_delivery = self.consecutive_failures > 0
            && self
                .last_error
                .as_ref()
                .is_some_and(|e| self.last_delivered_at_ms.is_none_or(|d| e.at_ms >= d));
        if self.parked_objects > 0 || failed_since_delivery {
            return HealthState::Failing;
        }
        match self.last_delivered_at_ms {
            Some(at) if now_ms - at < IDLE_AFTER_MS => HealthState::Healthy,
            _ => HealthState::Idle,
        }
    }

    /// The DynamoDB attributes of this item.
    pub fn to_attributes(&self) -> Attributes {
        let mut item = self.target.health_key();
        item.insert("schema_version".into(), n(LEDGER_SCHEMA_VERSION));
        item.insert("tenant_id".into(), s(self.target.tenant_id.as_str()));
        item.insert("type".into(), s(self.target.delivery_type.as_str()));
        let optional = [
            ("last_delivered_at_ms", self.last_delivered_at_ms),
            ("last_event_time_ms", self.last_event_time_ms),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.into(), n(value));
            }
        }
        if let Some(lag) = self.lag_seconds {
            item.insert("lag_seconds".into(), Attr::N(format!("{lag:.3}")));
        }
        if let Some(error) = &self.last_error {
            item.insert("last_error_cause".into(), s(error.cause.as_str()));
            item.insert("last_error_message".into(), s(&error.message));
            item.insert("last_error_at_ms".into(), n(error.at_ms));
        }
        item.insert("consecutive_failures".into(), n(self.consecutive_failures));
        item.insert("parked_objects".into(), n(self.parked_objects));
        if let Some(cause) = self.parked_cause {
            item.insert("parked_cause".into(), s(cause.as_str()));
        }
        item
    }

    /// Reads an item back; absent fields are empty (workers write them one by one).
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let r = Reader(item);
        let target = Target::parse_partition(r.s("sk")?).map_err(|e| r.bad("sk", e))?;
        let cause = |name: &str| {
            r.opt_s(name)
                .map(Cause::parse)
                .transpose()
                .map_err(|e| r.bad(name, e))
        };
        let last_error = match (cause("last_error_cause")?, r.opt_n("last_error_at_ms")?) {
            (Some(cause), Some(at_ms)) => Some(LastError {
                cause,
                message: r.opt_s("last_error_message").unwrap_or_default().to_owned(),
                at_ms,
            }),
            _ => None,
        };
        // A parked count that went below zero (a drain racing a park) reads as none.
        let parked = r.opt_n("parked_objects")?.unwrap_or(0).max(0);
        Ok(Self {
            target,
            last_delivered_at_ms: r.opt_n("last_delivered_at_ms")?,
            last_event_time_ms: r.opt_n("last_event_time_ms")?,
            lag_seconds: r.opt_f("lag_seconds")?,
            last_error,
            consecutive_failures: r.count("consecutive_failures")?,
            parked_objects: u64::try_from(parked).unwrap_or(0),
            parked_cause: cause("parked_cause")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
    }

    #[test]
    fn partitions_round_trip_and_reject_strangers() {
        let target = target();
        assert_eq!(target.partition(), "acme#cloudwatch");
        assert_eq!(Target::parse_partition("acme#cloudwatch").unwrap(), target);
        for bad in ["acme", "acme#kinesis", "Acme#s3", "#s3"] {
            assert!(Target::parse_partition(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_parked_sort_key_gives_back_its_staged_time() {
        let parked = ParkedObject {
            target: Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch),
            bucket: "b".into(),
            object_key: "acme/c1/a/p/1700000000-a.json.gz".into(),
            staged_ms: 1_700_000_000_123,
            event_time_ms: None,
            cause: Cause::LogGroupMissing,
            parked_at_ms: 0,
            expires_at: 0,
        };
        assert_eq!(
            ParkedObject::staged_ms_of(&parked.sort_key()),
            Some(1_700_000_000_123)
        );
        assert_eq!(ParkedObject::staged_ms_of("o#acme/c1/a/p/1-a.json.gz"), None);
        assert_eq!(ParkedObject::staged_ms_of("p#12#x"), None);
    }

    #[test]
    fn parked_objects_sort_by_staged_time_then_key() {
        let parked = |staged_ms: i64, key: &str| ParkedObject {
            target: target(),
            bucket: "staging".into(),
            object_key: key.into(),
            staged_ms,
            event_time_ms: None,
            cause: Cause::LogGroupMissing,
            parked_at_ms: 0,
            expires_at: 0,
        };
        let mut keys = [
            parked(1_700_000_000_000, "acme/c1/a/p/1700000000-b.json.gz").sort_key(),
            parked(999_000, "acme/c1/a/p/999-z.json.gz").sort_key(),
            parked(1_700_000_000_000, "acme/c1/a/p/1700000000-a.json.gz").sort_key(),
        ];
        keys.sort();
        assert!(keys[0].contains("999-z"));
        assert!(keys[1].ends_with("-a.json.gz") && keys[2].ends_with("-b.json.gz"));
    }

    #[test]
    fn counter_buckets_are_five_minutes_wide() {
        assert_eq!(bucket_start(1_700_000_299_999), 1_700_000_100);
        assert_eq!(bucket_start(1_700_000_100_000), 1_700_000_100);
        assert_eq!(counter_sort_key(1_700_000_100), "c#1700000100");
    }

    #[test]
    fn health_state_follows_parking_failures_and_traffic() {
        let now = 1_800_000_000_000;
        let mut health = HealthItem::empty(target());
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Idle);
        health.last_delivered_at_ms = Some(now - 1_000);
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Healthy);
        assert_eq!(health.state(EffectiveState::Disabled, now), HealthState::Paused);
        health.last_error = Some(LastError {
            cause: Cause::Throttled,
            message: "slow down".into(),
            at_ms: now - 500,
        });
        health.consecutive_failures = 1;
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Failing);
        health.consecutive_failures = 0;
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Healthy);
        health.parked_objects = 3;
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Failing);
        health.parked_objects = 0;
        health.last_delivered_at_ms = Some(now - IDLE_AFTER_MS);
        assert_eq!(health.state(EffectiveState::Active, now), HealthState::Idle);
    }

    #[test]
    fn a_negative_parked_count_reads_as_none() {
        let mut item = HealthItem::empty(target()).to_attributes();
        item.insert("parked_objects".into(), Attr::N("-1".into()));
        assert_eq!(HealthItem::from_attributes(&item).unwrap().parked_objects, 0);
    }

    #[test]
    fn bad_records_name_the_attribute() {
        let record = ObjectRecord {
            target: target(),
            object_key: "acme/c1/a/p/1-u.json.gz".into(),
            config_version: 3,
            state: ObjectState::Pending {
                cause: Cause::KmsDenied,
            },
            updated_at_ms: 1,
            expires_at: 2,
        };
        let mut item = record.to_attributes();
        assert_eq!(ObjectRecord::from_attributes(&item).unwrap(), record);
        item.insert("cause".into(), s("gremlins"));
        let err = ObjectRecord::from_attributes(&item).unwrap_err();
        assert!(err.message.starts_with("attribute cause"), "{err}");
        item.insert("status".into(), s("lost"));
        let err = ObjectRecord::from_attributes(&item).unwrap_err();
        assert!(err.message.starts_with("attribute status"), "{err}");
    }
}

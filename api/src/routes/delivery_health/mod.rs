//! Delivery health: whether a target receives its logs, as the workers of every provider
//! region recorded it in their region's delivery ledger ([`crate::delivery_health`]),
//! combined and per region. One target's health is read under its config
//! (`routes/delivery_configs/health.rs`); operators list every target's here.

pub mod list;

use chrono::{DateTime, Utc};
use logspoke_contract::ledger::{Counters, HealthState, LastError};
use logspoke_contract::{Cause, DeliveryType, EffectiveState, Region, TenantId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery_health::{CounterWindows, RegionItem, TargetHealth, UnreadableRegion};
use crate::openapi::fields;

/// A target's delivery health: combined across the provider regions (each region's
/// workers deliver what its clusters staged there), and each region's own.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "tenant_id": "acme",
    "type": "cloudwatch",
    "state": "failing",
    "config_state": "active",
    "last_delivered_at": "2026-12-01T09:58:12.345Z",
    "last_event_time": "2026-12-01T09:58:01Z",
    "lag_seconds": 11.345,
    "last_error": {
        "cause": "log_group_missing",
        "message": "ResourceNotFoundException: The specified log group does not exist.",
        "at": "2026-12-01T10:04:40.120Z"
    },
    "consecutive_failures": 3,
    "parked_objects": 3,
    "parked_cause": "log_group_missing",
    "counters": {
        "last_hour": {"objects": 41, "events": 120_500, "bytes": 48_200_000, "rejected_events": 0, "duplicates_avoided": 1, "expired_objects": 0, "events_filtered": 0},
        "last_day": {"objects": 1_210, "events": 3_610_000, "bytes": 1_440_000_000, "rejected_events": 12, "duplicates_avoided": 4, "expired_objects": 0, "events_filtered": 0}
    },
    "regions": [
        {
            "region": "eu-west-1",
            "state": "healthy",
            "last_delivered_at": "2026-12-01T09:58:12.345Z",
            "last_event_time": "2026-12-01T09:58:01Z",
            "lag_seconds": 11.345,
            "last_error": null,
            "consecutive_failures": 0,
            "parked_objects": 0,
            "parked_cause": null,
            "counters": {
                "last_hour": {"objects": 41, "events": 120_500, "bytes": 48_200_000, "rejected_events": 0, "duplicates_avoided": 1, "expired_objects": 0, "events_filtered": 0},
                "last_day": {"objects": 1_200, "events": 3_600_000, "bytes": 1_430_000_000, "rejected_events": 12, "duplicates_avoided": 4, "expired_objects": 0, "events_filtered": 0}
            }
        },
        {
            "region": "us-east-1",
            "state": "failing",
            "last_delivered_at": "2026-12-01T07:10:00Z",
            "last_event_time": "2026-12-01T07:09:55Z",
            "lag_seconds": 5.0,
            "last_error": {
                "cause": "log_group_missing",
                "message": "ResourceNotFoundException: The specified log group does not exist.",
                "at": "2026-12-01T10:04:40.120Z"
            },
            "consecutive_failures": 3,
            "parked_objects": 3,
            "parked_cause": "log_group_missing",
            "counters": {
                "last_hour": {"objects": 0, "events": 0, "bytes": 0, "rejected_events": 0, "duplicates_avoided": 0, "expired_objects": 0, "events_filtered": 0},
                "last_day": {"objects": 10, "events": 10_000, "bytes": 10_000_000, "rejected_events": 0, "duplicates_avoided": 0, "expired_objects": 0, "events_filtered": 0}
            }
        }
    ],
    "unreadable_regions": [
        {"region": "ap-southeast-2", "reason": "the delivery ledger of this region could not be read; retry later"}
    ]
}))]
pub struct DeliveryHealth {
    /// The owning tenant.
    #[schema(value_type = String, example = "acme")]
    pub tenant_id: TenantId,
    /// `cloudwatch` or `s3`.
    #[serde(rename = "type")]
    pub delivery_type: DeliveryType,
    /// Across the regions read, the worst of their states: `failing` (in some region
    /// objects are parked, or the attempts since its last delivery failed: see
    /// `regions`), else `healthy` (objects arrive somewhere), else `idle` (nothing
    /// delivered in the last hour, nothing failing); `paused` when the config is not
    /// `active`.
    pub state: HealthState,
    /// The config's effective state, as its document shows it.
    pub config_state: EffectiveState,
    /// When an object last reached the target, in any region.
    #[schema(required = true)]
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// The newest event time (the staged object's time) delivered, in any region.
    #[schema(required = true)]
    pub last_event_time: Option<DateTime<Utc>>,
    /// Delivery lag of the last delivered object (delivered − staged), in seconds: that
    /// of the region that delivered last.
    #[schema(required = true)]
    pub lag_seconds: Option<f64>,
    /// The latest failure in any region, also after deliveries resumed.
    #[schema(required = true)]
    pub last_error: Option<DeliveryError>,
    /// Failed attempts since the last delivery, added up over the regions (each counts
    /// since its own last delivery).
    pub consecutive_failures: u64,
    /// Objects waiting for the target to work again, in all regions; they are delivered
    /// in order once it does.
    pub parked_objects: u64,
    /// Why the oldest parked objects were parked, in the first region (in `regions`
    /// order) that has parked objects.
    #[schema(required = true)]
    pub parked_cause: Option<Cause>,
    /// What the target received (5-minute buckets), added up over the regions. Always in
    /// a single target's health; not in the operators' list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub counters: Option<HealthCounters>,
    /// Each provider region whose delivery ledger was read, in the configured order,
    /// with what its workers recorded (a region that recorded nothing for the target is
    /// listed `idle`, or `paused`, with zeros).
    pub regions: Vec<RegionHealth>,
    /// The provider regions whose delivery ledger could not be read: what they recorded
    /// is missing from this document (empty when every region was read).
    pub unreadable_regions: Vec<UnreadableRegion>,
}

/// A target's delivery health in one provider region, as that region's workers recorded
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RegionHealth {
    /// The provider region.
    #[schema(schema_with = fields::delivery_region)]
    pub region: Region,
    /// The target's state as this region's deliveries show it (`healthy`, `failing`,
    /// `idle` or `paused`, as the top-level `state`).
    pub state: HealthState,
    /// When this region last delivered an object to the target.
    #[schema(required = true)]
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// The newest event time this region delivered.
    #[schema(required = true)]
    pub last_event_time: Option<DateTime<Utc>>,
    /// Delivery lag of the last object this region delivered, in seconds.
    #[schema(required = true)]
    pub lag_seconds: Option<f64>,
    /// This region's last failure.
    #[schema(required = true)]
    pub last_error: Option<DeliveryError>,
    /// Failed attempts in this region since its last delivery.
    pub consecutive_failures: u64,
    /// Objects parked in this region.
    pub parked_objects: u64,
    /// Why this region's oldest parked objects were parked.
    #[schema(required = true)]
    pub parked_cause: Option<Cause>,
    /// What this region delivered (5-minute buckets). Only in a single target's health.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub counters: Option<HealthCounters>,
}

/// A target's last failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryError {
    /// What kind of failure, and so what to do about it.
    pub cause: Cause,
    /// What AWS said, scrubbed of ExternalIds and credentials.
    pub message: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// What a target received recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthCounters {
    /// The 5-minute buckets starting in the last hour (60 to 65 minutes).
    pub last_hour: Counters,
    /// The 5-minute buckets starting in the last 24 hours.
    pub last_day: Counters,
}

impl From<CounterWindows> for HealthCounters {
    fn from(windows: CounterWindows) -> Self {
        Self {
            last_hour: windows.last_hour,
            last_day: windows.last_day,
        }
    }
}

/// Milliseconds since the epoch as a time (`None` beyond chrono's range).
fn time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

impl DeliveryHealth {
    /// The health of a target (as read from the regions) whose config is in
    /// `config_state`, at `now_ms`; with the counters when they were read.
    pub fn new(health: &TargetHealth, config_state: EffectiveState, now_ms: i64) -> Self {
        let item = health.merged();
        Self {
            tenant_id: item.target.tenant_id.clone(),
            delivery_type: item.target.delivery_type,
            state: health.state(config_state, now_ms),
            config_state,
            last_delivered_at: item.last_delivered_at_ms.and_then(time),
            last_event_time: item.last_event_time_ms.and_then(time),
            lag_seconds: item.lag_seconds,
            last_error: item.last_error.as_ref().and_then(DeliveryError::new),
            consecutive_failures: item.consecutive_failures,
            parked_objects: item.parked_objects,
            parked_cause: item.parked_cause,
            counters: health.counters().map(HealthCounters::from),
            regions: health
                .regions
                .iter()
                .map(|region| RegionHealth::new(region, config_state, now_ms))
                .collect(),
            unreadable_regions: UnreadableRegion::all(&health.unreadable),
        }
    }
}

impl RegionHealth {
    /// What `read` (one region's item) says, for a config in `config_state`.
    fn new(read: &RegionItem, config_state: EffectiveState, now_ms: i64) -> Self {
        let item = &read.item;
        Self {
            region: read.region,
            state: item.state(config_state, now_ms),
            last_delivered_at: item.last_delivered_at_ms.and_then(time),
            last_event_time: item.last_event_time_ms.and_then(time),
            lag_seconds: item.lag_seconds,
            last_error: item.last_error.as_ref().and_then(DeliveryError::new),
            consecutive_failures: item.consecutive_failures,
            parked_objects: item.parked_objects,
            parked_cause: item.parked_cause,
            counters: read.counters.map(HealthCounters::from),
        }
    }
}

impl DeliveryError {
    fn new(error: &LastError) -> Option<Self> {
        Some(Self {
            cause: error.cause,
            message: error.message.clone(),
            at: time(error.at_ms)?,
        })
    }
}

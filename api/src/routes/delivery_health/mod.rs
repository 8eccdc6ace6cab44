//! Delivery health: whether a target receives its logs, as the workers recorded it in
//! the delivery ledger ([`crate::delivery_health`]). One target's health is read under its config
//! (`routes/delivery_configs/health.rs`); operators list every target's here.

pub mod list;

use chrono::{DateTime, Utc};
use logspoke_contract::ledger::{Counters, HealthItem, HealthState, LastError};
use logspoke_contract::{Cause, DeliveryType, EffectiveState, TenantId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery_health::CounterWindows;

/// A target's delivery health.
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
        "last_hour": {"objects": 41, "events": 120_500, "bytes": 48_200_000, "rejected_events": 0, "duplicates_avoided": 1, "expired_objects": 0},
        "last_day": {"objects": 1_210, "events": 3_610_000, "bytes": 1_440_000_000, "rejected_events": 12, "duplicates_avoided": 4, "expired_objects": 0}
    }
}))]
pub struct DeliveryHealth {
    /// The owning tenant.
    #[schema(value_type = String, example = "acme")]
    pub tenant_id: TenantId,
    /// `cloudwatch` or `s3`.
    #[serde(rename = "type")]
    pub delivery_type: DeliveryType,
    /// `healthy` (objects arrive), `failing` (objects are parked, or the attempts since
    /// the last delivery failed: see `last_error`), `idle` (nothing delivered in the last
    /// hour, nothing failing) or `paused` (the config is not `active`).
    pub state: HealthState,
    /// The config's effective state, as its document shows it.
    pub config_state: EffectiveState,
    /// When an object last reached the target.
    #[schema(required = true)]
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// The newest event time (the staged object's time) delivered.
    #[schema(required = true)]
    pub last_event_time: Option<DateTime<Utc>>,
    /// Delivery lag of the last delivered object (delivered − staged), in seconds.
    #[schema(required = true)]
    pub lag_seconds: Option<f64>,
    /// The last failure, also after deliveries resumed.
    #[schema(required = true)]
    pub last_error: Option<DeliveryError>,
    /// Failed attempts since the last delivery.
    pub consecutive_failures: u64,
    /// Objects waiting for the target to work again; they are delivered in order once
    /// it does.
    pub parked_objects: u64,
    /// Why the oldest parked objects were parked.
    #[schema(required = true)]
    pub parked_cause: Option<Cause>,
    /// What the target received (5-minute buckets). Always in a single target's health;
    /// not in the operators' list.
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
    /// The health of `item`'s target whose config is in `config_state`, at `now_ms`.
    pub fn new(
        item: &HealthItem,
        config_state: EffectiveState,
        now_ms: i64,
        counters: Option<HealthCounters>,
    ) -> Self {
        Self {
            tenant_id: item.target.tenant_id.clone(),
            delivery_type: item.target.delivery_type,
            state: item.state(config_state, now_ms),
            config_state,
            last_delivered_at: item.last_delivered_at_ms.and_then(time),
            last_event_time: item.last_event_time_ms.and_then(time),
            lag_seconds: item.lag_seconds,
            last_error: item.last_error.as_ref().and_then(DeliveryError::new),
            consecutive_failures: item.consecutive_failures,
            parked_objects: item.parked_objects,
            parked_cause: item.parked_cause,
            counters,
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

//! `ConfigChanged`: the event the api's outbox relay publishes to the config-changes SNS
//! topic after the read model holds the new version, so every worker replica can apply
//! the change within seconds instead of waiting for its periodic resync.
//!
//! Delivery is at least once and, per (tenant, type), in version order from one relay;
//! a consumer must ignore an event whose version is not newer than what it holds.

use serde::{Deserialize, Serialize};

use crate::{DeliveryType, TenantId};

/// Version of the event layout, carried in every event as `schema_version`.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// What happened to the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Created or changed (including its effective state).
    Upserted,
    /// Deleted (the read model holds a tombstone at `version`).
    Deleted,
}

impl ChangeKind {
    /// The wire and storage name (`upserted`, `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upserted => "upserted",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Result<Self, crate::ParseError> {
        match raw {
            "upserted" => Ok(Self::Upserted),
            "deleted" => Ok(Self::Deleted),
            other => Err(crate::ParseError::new(format!(
                "{} is not a change kind (upserted or deleted)",
                crate::error::quoted(other)
            ))),
        }
    }
}

/// A committed change of one delivery config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChanged {
    /// Layout version; consumers reject versions they do not know.
    pub schema_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The config type.
    #[serde(rename = "type")]
    pub delivery_type: DeliveryType,
    /// The read-model version this change produced.
    pub version: i64,
    /// Upserted or deleted.
    pub change: ChangeKind,
    /// When the change was committed (RFC 3339).
    pub occurred_at: String,
}

impl ConfigChanged {
    /// Parses an event, refusing unknown layout versions.
    pub fn from_json(text: &str) -> Result<Self, crate::ParseError> {
        let event: Self = serde_json::from_str(text)
            .map_err(|e| crate::ParseError::new(format!("not a ConfigChanged event: {e}")))?;
        if event.schema_version != EVENT_SCHEMA_VERSION {
            return Err(crate::ParseError::new(format!(
                "unsupported ConfigChanged schema_version {}",
                event.schema_version
            )));
        }
        Ok(event)
    }

    /// The JSON text published to SNS.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_kinds_stored_name_is_its_wire_name() {
        for kind in [ChangeKind::Upserted, ChangeKind::Deleted] {
            let wire = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(wire.as_str(), Some(kind.as_str()));
            assert_eq!(ChangeKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(ChangeKind::parse("Upserted").is_err());
    }
}

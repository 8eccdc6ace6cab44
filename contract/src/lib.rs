//! What crosses a Logspoke process boundary, defined once.
//!
//! The API, the delivery worker and the tools exchange tenant ids, AWS names and
//! delivery settings through HTTP, the database and queues. Each such value has one
//! type here with a `parse` constructor that enforces AWS's or Kubernetes' rules, so a
//! value that reached a struct is known to be valid everywhere, and every rejection
//! is a [`ParseError`] whose message can go straight into an API error response.
//! Serde deserialisation goes through the same `parse`.

mod account_id;
mod application_name;
mod attrs;
mod bucket_name;
mod bucket_prefix;
mod cause;
mod cluster_id;
mod delivery_type;
mod desired_logs;
mod dns_label;
mod error;
mod events;
mod external_id;
mod filter;
mod key_layout;
pub mod ledger;
mod log_group_name;
mod log_stream_name;
mod log_stream_template;
mod message_format;
mod namespace_name;
mod newtype;
mod object_key;
mod partition;
#[cfg(test)]
mod pattern_tests;
mod read_model;
mod region;
pub mod replay;
mod role_arn;
mod s3_event;
mod s3_options;
mod tenant_id;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod vector_key_tests;
#[cfg(test)]
mod wire_tests;

pub use account_id::AccountId;
pub use application_name::ApplicationName;
pub use bucket_name::BucketName;
pub use bucket_prefix::BucketPrefix;
pub use cause::Cause;
pub use cluster_id::{ClusterId, MAX_CLUSTER_ID_CHARS};
pub use delivery_type::DeliveryType;
pub use desired_logs::{DesiredLog, DesiredLogs};
pub use error::ParseError;
pub use events::{ChangeKind, ConfigChanged, EVENT_SCHEMA_VERSION};
pub use external_id::ExternalId;
pub use filter::{
    Filter, FilterError, FilterField, FilterRuleSpec, FilterSpec, LineFields, MAX_PATTERN_BYTES,
    MAX_REGEX_BYTES, MAX_RULES,
};
pub use key_layout::{KeyLayout, HIVE_DEFAULT_PARTITION};
pub use log_group_name::LogGroupName;
pub use log_stream_name::LogStreamName;
pub use log_stream_template::LogStreamTemplate;
pub use message_format::{MessageField, MessageFormat};
pub use namespace_name::NamespaceName;
pub use object_key::ObjectKey;
pub use partition::Partition;
pub use read_model::{
    Attr, Attributes, ColumnError, ConfigItem, DeliveryTarget, EffectiveState, LiveConfig, TargetColumns,
    ITEM_SCHEMA_VERSION,
};
pub use region::Region;
pub use role_arn::{RoleArn, CUSTOMER_ROLE_PATH};
pub use s3_event::{decode_s3_event_key, parse_message_body, EventError, MessageContent, ObjectCreated};
pub use s3_options::{KmsKeyArn, StorageClass};
pub use tenant_id::TenantId;

//! The document of a config: what the API returns for it and what the audit log records
//! of it (without the health summary, which is not part of the config's state). One
//! type for both, so the audit trail shows a config exactly as a client saw it.

use chrono::{DateTime, Utc};
use logspoke_contract::{DeliveryType, EffectiveState, FilterSpec, MessageField, TenantId};
use serde::Serialize;
use utoipa::ToSchema;

use super::Config;
use crate::delivery_health::summary::HealthSummary;
use crate::verification::Verification;

/// A delivery config as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryConfig {
    /// The owning tenant.
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// `cloudwatch` or `s3`.
    #[serde(rename = "type")]
    pub delivery_type: DeliveryType,
    /// The customer's intent to receive logs through this config.
    pub enabled: bool,
    /// Effective state: logs flow only when `active` (enabled and verified).
    pub state: EffectiveState,
    /// AWS region of the target.
    #[schema(example = "eu-west-1")]
    pub target_region: String,
    /// The customer's role Logspoke assumes to deliver.
    #[schema(example = "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery")]
    pub role_arn: String,
    /// Allow-list of `application` (any namespace) and `namespace/application` entries;
    /// empty means every application.
    pub desired_logs: Vec<String>,
    /// CloudWatch only: the customer's log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// CloudWatch only: stream name template (default
    /// `{cluster_id}/{namespace}/{application}/{pod_name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_template: Option<String>,
    /// CloudWatch only: `raw` (each event's message is the log line's text) or `json`
    /// (an object with the text as `message` and the fields of `message_fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "raw")]
    pub message_format: Option<String>,
    /// CloudWatch only, with `json`: the metadata fields each message carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_fields: Option<Vec<MessageField>>,
    /// S3 only: the customer's bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// S3 only: key prefix inside the bucket, normalised to end in `/` (or empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_prefix: Option<String>,
    /// S3 only: `staged` (the staged key under the prefix) or `hive`
    /// (`cluster=…/namespace=…/dt=YYYY-MM-DD/hour=HH/` partitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "hive")]
    pub key_layout: Option<String>,
    /// S3 only: the copies' storage class (absent: the bucket's default, STANDARD).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "STANDARD_IA")]
    pub storage_class: Option<String>,
    /// S3 only: the KMS key the copies are encrypted with (absent: the bucket's default
    /// encryption).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Which log lines are delivered: when `include` has rules, only lines matching one;
    /// never lines matching an `exclude` rule. Empty lists: every line.
    #[schema(schema_with = crate::openapi::fields::filter)]
    pub filter: FilterSpec,
    /// The last trial AssumeRole; reset when the role, region or target changes.
    pub verification: Verification,
    /// Increases with every change; not a count. One sequence numbers every tenant and
    /// config write, so a value never repeats (even across delete and re-create) and
    /// the next value may skip ahead. The ETag is this value quoted.
    pub version: i64,
    /// When the config was created.
    pub created_at: DateTime<Utc>,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
    /// Whether logs reach the target (up to 5 s old; `…/health` has the details). Absent
    /// when delivery health could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub health: Option<HealthSummary>,
}

impl From<&Config> for DeliveryConfig {
    fn from(config: &Config) -> Self {
        let settings = &config.settings;
        let target = settings.target.columns();
        let owned = |value: Option<&str>| value.map(str::to_owned);
        Self {
            tenant_id: config.tenant_id.clone(),
            delivery_type: config.delivery_type(),
            enabled: settings.enabled,
            state: config.state(),
            target_region: settings.target_region.as_str().to_owned(),
            role_arn: settings.role_arn.as_str().to_owned(),
            desired_logs: settings.desired_logs.to_strings(),
            log_group_name: owned(target.log_group_name),
            log_stream_template: owned(target.log_stream_template),
            message_format: target
                .log_group_name
                .map(|_| settings.message_format.as_str().to_owned()),
            message_fields: settings
                .message_format
                .field_names()
                .map(|_| settings.message_format.fields().to_vec()),
            bucket_name: owned(target.bucket_name),
            bucket_prefix: owned(target.bucket_prefix),
            key_layout: target
                .bucket_name
                .map(|_| settings.key_layout.as_str().to_owned()),
            storage_class: settings.storage_class.map(|c| c.as_str().to_owned()),
            kms_key_arn: settings.kms_key_arn.as_ref().map(|k| k.as_str().to_owned()),
            filter: settings.filter.spec(),
            verification: config.verification.clone(),
            version: config.version,
            created_at: config.created_at,
            updated_at: config.updated_at,
            health: None,
        }
    }
}

impl Config {
    /// The document its audit entries record.
    pub fn audit_document(&self) -> serde_json::Value {
        serde_json::to_value(DeliveryConfig::from(self)).unwrap_or_default()
    }
}

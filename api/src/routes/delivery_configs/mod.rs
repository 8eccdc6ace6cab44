//! Delivery configs: one per (tenant, type), saying where and how a tenant's logs go.

pub mod delete;
pub mod get;
pub mod list;
pub mod patch;
pub mod put;
pub mod verify;

use chrono::{DateTime, Utc};
use logspoke_contract::{
    BucketName, BucketPrefix, DeliveryType, DesiredLogs, EffectiveState, LogGroupName, LogStreamTemplate,
    Region, RoleArn,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::audit::{self, Actor, Change};
use crate::error::{ApiError, FieldError};
use crate::openapi::fields;
use crate::verification::{Check, Verification, VerificationStatus};

/// Whether logs flow through a config: only `active` configs reach the worker.
pub type ConfigState = EffectiveState;

/// The effective state of a config from its own settings (the read model also folds in
/// the tenant's `enabled`).
pub fn config_state(enabled: bool, verification: VerificationStatus) -> ConfigState {
    match (enabled, verification) {
        (false, _) => ConfigState::Disabled,
        (true, VerificationStatus::Verified) => ConfigState::Active,
        (true, VerificationStatus::Unverified) => ConfigState::PendingVerification,
        (true, VerificationStatus::Failed) => ConfigState::VerificationFailed,
    }
}

/// A delivery config as stored (what the queries return).
#[derive(Debug, Clone)]
pub struct ConfigRow {
    pub tenant_id: String,
    pub delivery_type: String,
    pub enabled: bool,
    pub target_region: String,
    pub role_arn: String,
    pub desired_logs: Vec<String>,
    pub log_group_name: Option<String>,
    pub log_stream_template: Option<String>,
    pub bucket_name: Option<String>,
    pub bucket_prefix: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub verification_status: String,
    pub verification_checked_at: Option<DateTime<Utc>>,
    pub verification_checks: serde_json::Value,
}

impl From<ConfigRow> for DeliveryConfig {
    fn from(row: ConfigRow) -> Self {
        let status = VerificationStatus::from_db(&row.verification_status);
        let checks: Vec<Check> = serde_json::from_value(row.verification_checks).unwrap_or_default();
        Self {
            state: config_state(row.enabled, status),
            tenant_id: row.tenant_id,
            delivery_type: row.delivery_type,
            enabled: row.enabled,
            target_region: row.target_region,
            role_arn: row.role_arn,
            desired_logs: row.desired_logs,
            log_group_name: row.log_group_name,
            log_stream_template: row.log_stream_template,
            bucket_name: row.bucket_name,
            bucket_prefix: row.bucket_prefix,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            verification: Verification {
                status,
                checked_at: row.verification_checked_at,
                checks,
            },
        }
    }
}

/// A delivery config as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryConfig {
    /// The owning tenant.
    pub tenant_id: String,
    /// `cloudwatch` or `s3`.
    #[serde(rename = "type")]
    #[schema(value_type = DeliveryType)]
    pub delivery_type: String,
    /// The customer's intent to receive logs through this config.
    pub enabled: bool,
    /// Effective state: logs flow only when `active` (enabled and verified).
    pub state: ConfigState,
    /// AWS region of the target.
    #[schema(example = "eu-west-1")]
    pub target_region: String,
    /// The customer's role Logspoke assumes to deliver.
    #[schema(example = "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery")]
    pub role_arn: String,
    /// Application allow-list; empty means every application.
    pub desired_logs: Vec<String>,
    /// CloudWatch only: the customer's log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// CloudWatch only: stream name template (default `{cluster_id}/{application}/{pod_name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_template: Option<String>,
    /// S3 only: the customer's bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// S3 only: key prefix inside the bucket, normalised to end in `/` (or empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_prefix: Option<String>,
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
}

impl DeliveryConfig {
    /// The document recorded in the audit log.
    pub fn audit_document(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The writable fields, as a PUT body would carry them (the base of a merge patch).
    pub fn as_input(&self) -> DeliveryConfigInput {
        DeliveryConfigInput {
            enabled: Some(self.enabled),
            target_region: Some(self.target_region.clone()),
            role_arn: Some(self.role_arn.clone()),
            desired_logs: Some(self.desired_logs.clone()),
            log_group_name: self.log_group_name.clone(),
            log_stream_template: self.log_stream_template.clone(),
            bucket_name: self.bucket_name.clone(),
            bucket_prefix: self.bucket_prefix.clone(),
        }
    }
}

/// The writable fields of a delivery config (the body of PUT; PATCH merges into it).
///
/// `target_region` and `role_arn` are required for both types; `log_group_name` for
/// `cloudwatch`; `bucket_name` for `s3`. Fields of the other type are refused.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfigInput {
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A region of the role ARN's partition (`aws`, `aws-cn` or `aws-us-gov`).
    #[schema(schema_with = fields::region)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_region: Option<String>,
    /// `arn:{aws|aws-cn|aws-us-gov}:iam::{12 digits}:role/logspoke/{name}`: the role the
    /// onboarding template creates, in the customer's account (never the provider's).
    #[schema(schema_with = fields::customer_role_arn)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Application names (Kubernetes label values), at most 100, duplicates removed;
    /// empty (the default) means every application.
    #[schema(schema_with = fields::application_names)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_logs: Option<Vec<String>>,
    /// CloudWatch: 1–512 of `[.\-_/#A-Za-z0-9]`.
    #[schema(schema_with = fields::log_group_name)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// CloudWatch: placeholders `{tenant_id}`, `{cluster_id}`, `{application}`,
    /// `{pod_name}`; no `:` or `*` outside them. Default `{cluster_id}/{application}/{pod_name}`.
    #[schema(schema_with = fields::log_stream_template)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_template: Option<String>,
    /// S3: a bucket name following the S3 naming rules.
    #[schema(schema_with = fields::bucket_name)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// S3: key prefix, at most 512 characters; normalised to end in `/` (empty: the
    /// bucket root). No `*`, `?`, `$`, `\`, control characters, `.` or `..` segments.
    #[schema(schema_with = fields::bucket_prefix)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_prefix: Option<String>,
}

/// A validated config, ready to store.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// The customer's intent.
    pub enabled: bool,
    /// Target region (same partition as the role).
    pub target_region: Region,
    /// The customer's role.
    pub role_arn: RoleArn,
    /// Application allow-list.
    pub desired_logs: DesiredLogs,
    /// Type-specific target.
    pub target: Target,
}

/// The writable fields every config has, whatever its type.
pub const COMMON_FIELDS: [&str; 4] = ["enabled", "target_region", "role_arn", "desired_logs"];

/// The writable fields of a type's target: a body of the other type may not name them.
pub fn target_fields(delivery_type: DeliveryType) -> [&'static str; 2] {
    match delivery_type {
        DeliveryType::Cloudwatch => ["log_group_name", "log_stream_template"],
        DeliveryType::S3 => ["bucket_name", "bucket_prefix"],
    }
}

/// Every writable field of a config of this type.
pub fn writable_fields(delivery_type: DeliveryType) -> Vec<&'static str> {
    COMMON_FIELDS
        .into_iter()
        .chain(target_fields(delivery_type))
        .collect()
}

/// The fields a stored config of this type always has (a PUT must carry them).
pub fn required_fields(delivery_type: DeliveryType) -> [&'static str; 3] {
    match delivery_type {
        DeliveryType::Cloudwatch => ["target_region", "role_arn", "log_group_name"],
        DeliveryType::S3 => ["target_region", "role_arn", "bucket_name"],
    }
}

/// Where logs go, by type: the same shape the read model carries.
pub use logspoke_contract::DeliveryTarget as Target;

/// Collects field errors while parsing, so one response lists every bad field.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn required<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        value: Option<&String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match value {
            None => {
                self.0.push(FieldError::new(field, "is required"));
                None
            }
            Some(v) => self.check(field, parse(v)),
        }
    }

    fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result
            .map_err(|e| self.0.push(FieldError::new(field, e.to_string())))
            .ok()
    }

    fn forbid(&mut self, field: &str, value: Option<&String>, delivery_type: DeliveryType) {
        if value.is_some() {
            let message = format!("does not apply to {} configs", delivery_type.as_str());
            self.0.push(FieldError::new(field, message));
        }
    }
}

impl DeliveryConfigInput {
    /// Parses every field for `delivery_type`, reporting all problems at once. The role
    /// must be one `provider` may assume: see [`RoleArn::check_customer_role`].
    pub fn parse(&self, delivery_type: DeliveryType, provider: &RoleArn) -> Result<ValidConfig, ApiError> {
        let mut errors = Errors::default();
        let role_arn = errors.required("role_arn", self.role_arn.as_ref(), |raw| {
            let arn = RoleArn::parse(raw)?;
            arn.check_customer_role(provider).map(|()| arn)
        });
        let target_region = match &role_arn {
            Some(arn) => errors.required("target_region", self.target_region.as_ref(), |r| {
                Region::parse_in(r, arn.partition())
            }),
            None => errors.required("target_region", self.target_region.as_ref(), Region::parse),
        };
        let desired_logs = errors.check(
            "desired_logs",
            DesiredLogs::parse(self.desired_logs.as_deref().unwrap_or_default()),
        );
        let target = self.parse_target(delivery_type, &mut errors);
        match (role_arn, target_region, desired_logs, target) {
            (Some(role_arn), Some(target_region), Some(desired_logs), Some(target))
                if errors.0.is_empty() =>
            {
                Ok(ValidConfig {
                    enabled: self.enabled.unwrap_or(true),
                    target_region,
                    role_arn,
                    desired_logs,
                    target,
                })
            }
            _ => Err(ApiError::Validation(errors.0)),
        }
    }

    fn parse_target(&self, delivery_type: DeliveryType, errors: &mut Errors) -> Option<Target> {
        match delivery_type {
            DeliveryType::Cloudwatch => {
                errors.forbid("bucket_name", self.bucket_name.as_ref(), delivery_type);
                errors.forbid("bucket_prefix", self.bucket_prefix.as_ref(), delivery_type);
                let log_group_name = errors.required(
                    "log_group_name",
                    self.log_group_name.as_ref(),
                    LogGroupName::parse,
                );
                let log_stream_template = match &self.log_stream_template {
                    None => Some(None),
                    Some(t) => errors
                        .check("log_stream_template", LogStreamTemplate::parse(t))
                        .map(Some),
                };
                Some(Target::CloudWatch {
                    log_group_name: log_group_name?,
                    log_stream_template: log_stream_template?,
                })
            }
            DeliveryType::S3 => {
                errors.forbid("log_group_name", self.log_group_name.as_ref(), delivery_type);
                errors.forbid(
                    "log_stream_template",
                    self.log_stream_template.as_ref(),
                    delivery_type,
                );
                let bucket_name =
                    errors.required("bucket_name", self.bucket_name.as_ref(), BucketName::parse);
                let bucket_prefix = errors.check(
                    "bucket_prefix",
                    BucketPrefix::parse(self.bucket_prefix.as_deref().unwrap_or("")),
                );
                Some(Target::S3 {
                    bucket_name: bucket_name?,
                    bucket_prefix: bucket_prefix?,
                })
            }
        }
    }
}

/// Column values of a validated config, in storage form.
pub struct Columns<'a> {
    pub enabled: bool,
    pub target_region: &'a str,
    pub role_arn: &'a str,
    pub desired_logs: Vec<String>,
    pub log_group_name: Option<&'a str>,
    pub log_stream_template: Option<&'a str>,
    pub bucket_name: Option<&'a str>,
    pub bucket_prefix: Option<&'a str>,
}

impl ValidConfig {
    /// Whether storing this config over `current` changes what verification proved: the
    /// role, the region or the target. Such a change resets the config to unverified.
    pub fn changes_target_of(&self, current: &DeliveryConfig) -> bool {
        let c = self.columns();
        c.role_arn != current.role_arn
            || c.target_region != current.target_region
            || c.log_group_name != current.log_group_name.as_deref()
            || c.bucket_name != current.bucket_name.as_deref()
            || c.bucket_prefix != current.bucket_prefix.as_deref()
    }

    /// The storage form of this config.
    pub fn columns(&self) -> Columns<'_> {
        let (log_group_name, log_stream_template, bucket_name, bucket_prefix) = match &self.target {
            Target::CloudWatch {
                log_group_name,
                log_stream_template,
            } => (
                Some(log_group_name.as_str()),
                log_stream_template.as_ref().map(LogStreamTemplate::as_str),
                None,
                None,
            ),
            Target::S3 {
                bucket_name,
                bucket_prefix,
            } => (
                None,
                None,
                Some(bucket_name.as_str()),
                Some(bucket_prefix.as_str()),
            ),
        };
        Columns {
            enabled: self.enabled,
            target_region: self.target_region.as_str(),
            role_arn: self.role_arn.as_str(),
            desired_logs: self
                .desired_logs
                .as_slice()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            log_group_name,
            log_stream_template,
            bucket_name,
            bucket_prefix,
        }
    }
}

/// Parses the `{type}` path segment; an unknown type is a 404 (there is no such resource).
pub fn parse_type(raw: &str) -> Result<DeliveryType, ApiError> {
    DeliveryType::parse(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "there is no delivery config type '{raw}' (use cloudwatch or s3)"
        ))
    })
}

/// Location of a config resource.
pub fn location(tenant_id: &str, delivery_type: &str) -> String {
    format!("/v1/tenants/{tenant_id}/delivery-configs/{delivery_type}")
}

/// The 404 for a config that does not exist.
pub fn not_found(tenant_id: &str, delivery_type: DeliveryType) -> ApiError {
    ApiError::NotFound(format!(
        "tenant '{tenant_id}' has no {} delivery config",
        delivery_type.as_str()
    ))
}

/// Reads one config, locking its row for the transaction when `lock` is set.
#[tracing::instrument(skip_all)]
pub async fn fetch(
    conn: &mut PgConnection,
    tenant_id: &str,
    delivery_type: DeliveryType,
    lock: bool,
) -> Result<Option<DeliveryConfig>, sqlx::Error> {
    let ty = delivery_type.as_str();
    let row = if lock {
        sqlx::query_as!(
            ConfigRow,
            "select tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                    log_group_name, log_stream_template, bucket_name, bucket_prefix,
                    version, created_at, updated_at,
                    verification_status, verification_checked_at, verification_checks
             from delivery_configs where tenant_id = $1 and delivery_type = $2 for update",
            tenant_id,
            ty
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            ConfigRow,
            "select tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                    log_group_name, log_stream_template, bucket_name, bucket_prefix,
                    version, created_at, updated_at,
                    verification_status, verification_checked_at, verification_checks
             from delivery_configs where tenant_id = $1 and delivery_type = $2",
            tenant_id,
            ty
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(row.map(DeliveryConfig::from))
}

/// Deletes every config of a tenant, auditing each (part of deleting the tenant);
/// returns the deleted types.
#[tracing::instrument(skip_all)]
pub async fn delete_all(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    tenant_id: &str,
) -> Result<Vec<String>, ApiError> {
    let deleted = sqlx::query_as!(
        ConfigRow,
        "delete from delivery_configs where tenant_id = $1
         returning tenant_id, delivery_type, enabled, target_region, role_arn, desired_logs,
                   log_group_name, log_stream_template, bucket_name, bucket_prefix,
                   version, created_at, updated_at,
                   verification_status, verification_checked_at, verification_checks",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut types = Vec::new();
    for config in deleted.into_iter().map(DeliveryConfig::from) {
        let change = Change {
            tenant_id,
            action: "delivery_config.deleted",
            delivery_type: Some(&config.delivery_type),
            before: Some(config.audit_document()),
            after: None,
        };
        audit::record(conn, actor, change).await?;
        types.push(config.delivery_type);
    }
    Ok(types)
}

#[cfg(test)]
mod tests;

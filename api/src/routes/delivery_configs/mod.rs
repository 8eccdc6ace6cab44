//! Delivery configs: one per (tenant, type), saying where and how a tenant's logs go.

pub mod delete;
pub mod get;
pub mod health;
pub mod list;
pub mod patch;
pub mod put;
pub mod verify;

use chrono::Utc;
use logspoke_contract::ledger::Target;
use logspoke_contract::{
    BucketName, BucketPrefix, DeliveryTarget, DeliveryType, DesiredLogs, Filter, FilterSpec, KeyLayout,
    KmsKeyArn, LogGroupName, LogStreamTemplate, MessageFormat, Region, RoleArn, StorageClass, TenantId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::configs::document::DeliveryConfig;
use crate::configs::{Config, Settings};
use crate::delivery_health::summary::HealthSummary;
use crate::error::{ApiError, FieldError};
use crate::openapi::fields;
use crate::state::AppState;

/// The documents of `configs`, each with its health summary when it could be read
/// (one cached, batched read for all of them).
pub async fn with_health(state: &AppState, configs: &[Config]) -> Vec<DeliveryConfig> {
    let targets: Vec<Target> = configs
        .iter()
        .map(|c| Target::new(c.tenant_id.clone(), c.delivery_type()))
        .collect();
    let mut items = if targets.is_empty() {
        None
    } else {
        state.health.summaries(&targets).await
    };
    let now_ms = Utc::now().timestamp_millis();
    configs
        .iter()
        .zip(&targets)
        .map(|(config, target)| {
            let mut document = DeliveryConfig::from(config);
            document.health = items
                .as_mut()
                .and_then(|items| items.remove(target))
                .map(|health| HealthSummary::new(&health, config.state(), now_ms));
            document
        })
        .collect()
}

impl DeliveryConfigInput {
    /// The writable fields of a stored config, as a PUT body would carry them (the base
    /// of a merge patch).
    pub fn of(config: &Config) -> Self {
        let view = DeliveryConfig::from(config);
        Self {
            enabled: Some(view.enabled),
            target_region: Some(view.target_region),
            role_arn: Some(view.role_arn),
            desired_logs: Some(view.desired_logs),
            filter: (!config.settings.filter.is_empty())
                .then(|| serde_json::to_value(&view.filter).ok())
                .flatten(),
            log_group_name: view.log_group_name,
            log_stream_template: view.log_stream_template,
            message_format: view.message_format,
            message_fields: config.settings.message_format.field_names(),
            bucket_name: view.bucket_name,
            bucket_prefix: view.bucket_prefix,
            key_layout: view.key_layout,
            storage_class: view.storage_class,
            kms_key_arn: view.kms_key_arn,
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
    /// Entries `application` (a Kubernetes label value, any namespace) or
    /// `namespace/application` (only that namespace), at most 100, duplicates removed;
    /// empty (the default) means every application.
    #[schema(schema_with = fields::desired_logs)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_logs: Option<Vec<String>>,
    /// Which log lines are delivered: `{"include": [rule…], "exclude": [rule…]}`, each
    /// rule `{"field": …, "equals"|"contains"|"regex": …}`. Absent: every line.
    #[schema(schema_with = fields::filter)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
    /// CloudWatch: 1–512 of `[.\-_/#A-Za-z0-9]`.
    #[schema(schema_with = fields::log_group_name)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// CloudWatch: placeholders `{tenant_id}`, `{cluster_id}`, `{namespace}`, `{application}`,
    /// `{pod_name}`; no `:` or `*` outside them. Default
    /// `{cluster_id}/{namespace}/{application}/{pod_name}`.
    #[schema(schema_with = fields::log_stream_template)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_template: Option<String>,
    /// CloudWatch: `raw` (the default: the line's text) or `json`.
    #[schema(schema_with = fields::message_format)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_format: Option<String>,
    /// CloudWatch, with `json`: the fields each message carries (default: all).
    #[schema(schema_with = fields::message_fields)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_fields: Option<Vec<String>>,
    /// S3: a bucket name following the S3 naming rules.
    #[schema(schema_with = fields::bucket_name)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// S3: key prefix, at most 512 characters; normalised to end in `/` (empty: the
    /// bucket root). No `*`, `?`, `$`, `\`, control characters, `.` or `..` segments.
    #[schema(schema_with = fields::bucket_prefix)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_prefix: Option<String>,
    /// S3: `staged` (the default: the staged key under the prefix) or `hive`
    /// (`cluster=…/namespace=…/dt=YYYY-MM-DD/hour=HH/{file}`, by the first event's time).
    #[schema(schema_with = fields::key_layout)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_layout: Option<String>,
    /// S3: the copies' storage class (default: the bucket's, STANDARD).
    #[schema(schema_with = fields::storage_class)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// S3: a KMS key ARN (in `target_region`) to encrypt the copies with; the role needs
    /// `kms:GenerateDataKey` on it through S3 (the onboarding stack grants it).
    #[schema(schema_with = fields::kms_key_arn)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

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
    pub fn parse(&self, delivery_type: DeliveryType, provider: &RoleArn) -> Result<Settings, ApiError> {
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
        let filter = self.parse_filter(&mut errors);
        let message_format = self.parse_message_format(delivery_type, &mut errors);
        let key_layout = self.parse_key_layout(delivery_type, &mut errors);
        let storage = self.parse_storage(delivery_type, target_region.as_ref(), &mut errors);
        let target = self.parse_target(delivery_type, &mut errors);
        let shaping = filter.zip(message_format).zip(key_layout).zip(storage);
        match (role_arn, target_region, desired_logs, target, shaping) {
            (
                Some(role_arn),
                Some(target_region),
                Some(desired_logs),
                Some(target),
                Some((((filter, message_format), key_layout), (storage_class, kms_key_arn))),
            ) if errors.0.is_empty() => Ok(Settings {
                enabled: self.enabled.unwrap_or(true),
                target_region,
                role_arn,
                desired_logs,
                target,
                filter,
                message_format,
                key_layout,
                storage_class,
                kms_key_arn,
            }),
            _ => Err(ApiError::Validation(errors.0)),
        }
    }

    /// The filter, each problem named by where it is (`filter.include[2].regex`).
    fn parse_filter(&self, errors: &mut Errors) -> Option<Filter> {
        let Some(value) = &self.filter else {
            return Some(Filter::default());
        };
        let spec: FilterSpec = errors.check("filter", serde_json::from_value(value.clone()))?;
        Filter::parse(&spec)
            .map_err(|e| {
                let field = if e.path.is_empty() {
                    "filter".to_owned()
                } else {
                    format!("filter.{}", e.path)
                };
                errors.0.push(FieldError::new(&field, e.message));
            })
            .ok()
    }

    /// An S3 config's key layout; CloudWatch configs take none.
    fn parse_key_layout(&self, delivery_type: DeliveryType, errors: &mut Errors) -> Option<KeyLayout> {
        if delivery_type == DeliveryType::Cloudwatch {
            errors.forbid("key_layout", self.key_layout.as_ref(), delivery_type);
            return Some(KeyLayout::Staged);
        }
        errors.check(
            "key_layout",
            KeyLayout::parse(self.key_layout.as_deref().unwrap_or("staged")),
        )
    }

    /// An S3 config's storage class and KMS key (the key in the target's region, where
    /// the bucket is); CloudWatch configs take neither.
    fn parse_storage(
        &self,
        delivery_type: DeliveryType,
        region: Option<&Region>,
        errors: &mut Errors,
    ) -> Option<(Option<StorageClass>, Option<KmsKeyArn>)> {
        if delivery_type == DeliveryType::Cloudwatch {
            errors.forbid("storage_class", self.storage_class.as_ref(), delivery_type);
            errors.forbid("kms_key_arn", self.kms_key_arn.as_ref(), delivery_type);
            return Some((None, None));
        }
        let class = match &self.storage_class {
            None => Some(None),
            Some(c) => errors.check("storage_class", StorageClass::parse(c)).map(Some),
        };
        let key = match &self.kms_key_arn {
            None => Some(None),
            Some(k) => errors
                .check("kms_key_arn", KmsKeyArn::parse(k))
                .and_then(|key| match region {
                    Some(region) if key.region() != region.as_str() => {
                        let message =
                            format!("must be a key in the target_region {region} (where the bucket is)");
                        errors.0.push(FieldError::new("kms_key_arn", message));
                        None
                    }
                    _ => Some(Some(key)),
                }),
        };
        class.zip(key)
    }

    /// CloudWatch's message format; S3 configs take none.
    fn parse_message_format(
        &self,
        delivery_type: DeliveryType,
        errors: &mut Errors,
    ) -> Option<MessageFormat> {
        if delivery_type == DeliveryType::S3 {
            errors.forbid("message_format", self.message_format.as_ref(), delivery_type);
            if self.message_fields.is_some() {
                errors
                    .0
                    .push(FieldError::new("message_fields", "does not apply to s3 configs"));
            }
            return Some(MessageFormat::Raw);
        }
        let format = self.message_format.as_deref().unwrap_or("raw");
        MessageFormat::parse(format, self.message_fields.as_deref())
            .map_err(|(field, e)| errors.0.push(FieldError::new(field, e.message)))
            .ok()
    }

    fn parse_target(&self, delivery_type: DeliveryType, errors: &mut Errors) -> Option<DeliveryTarget> {
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
                Some(DeliveryTarget::CloudWatch {
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
                Some(DeliveryTarget::S3 {
                    bucket_name: bucket_name?,
                    bucket_prefix: bucket_prefix?,
                })
            }
        }
    }
}

/// Location of a config resource.
pub fn location(tenant_id: &TenantId, delivery_type: DeliveryType) -> String {
    format!(
        "/v1/tenants/{tenant_id}/delivery-configs/{}",
        delivery_type.as_str()
    )
}

/// The 404 for a config that does not exist.
pub fn not_found(tenant_id: &TenantId, delivery_type: DeliveryType) -> ApiError {
    ApiError::NotFound(format!(
        "tenant '{tenant_id}' has no {} delivery config",
        delivery_type.as_str()
    ))
}

#[cfg(test)]
mod tests;

//! The one conversion from a stored `delivery_configs` row into a typed [`Config`].
//! Values were validated on write, so a row that does not parse is corrupt: an error,
//! never a silently different config.

use chrono::{DateTime, Utc};
use logspoke_contract::{
    DeliveryTarget, DeliveryType, DesiredLogs, Filter, KeyLayout, KmsKeyArn, MessageFormat, Region, RoleArn,
    StorageClass, TargetColumns, TenantId,
};

use super::{Config, Settings};
use crate::store::StoreError;
use crate::verification::{Check, Verification, VerificationStatus};

/// A delivery config as stored: one field per column of `delivery_configs`, the column
/// list every query of [`super::repository`] selects or returns as `*`.
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
    pub delivery_version: i64,
    pub filter: Option<serde_json::Value>,
    pub message_format: String,
    pub message_fields: Option<Vec<String>>,
    pub key_layout: String,
    pub storage_class: Option<String>,
    pub kms_key_arn: Option<String>,
}

impl ConfigRow {
    /// The settings columns, typed.
    pub fn settings(&self) -> Result<Settings, StoreError> {
        let target = DeliveryTarget::from_columns(TargetColumns {
            log_group_name: self.log_group_name.as_deref(),
            log_stream_template: self.log_stream_template.as_deref(),
            bucket_name: self.bucket_name.as_deref(),
            bucket_prefix: self.bucket_prefix.as_deref(),
        })
        .map_err(|e| StoreError::corrupt("delivery target", e))?;
        Ok(Settings {
            enabled: self.enabled,
            target_region: Region::parse(&self.target_region)
                .map_err(|e| StoreError::corrupt("region", e))?,
            role_arn: RoleArn::parse(&self.role_arn).map_err(|e| StoreError::corrupt("role ARN", e))?,
            desired_logs: DesiredLogs::parse(&self.desired_logs)
                .map_err(|e| StoreError::corrupt("desired logs", e))?,
            target,
            filter: match &self.filter {
                None => Filter::default(),
                Some(filter) => {
                    serde_json::from_value(filter.clone()).map_err(|e| StoreError::corrupt("filter", e))?
                }
            },
            message_format: MessageFormat::parse(&self.message_format, self.message_fields.as_deref())
                .map_err(|(_, e)| StoreError::corrupt("message format", e))?,
            key_layout: KeyLayout::parse(&self.key_layout)
                .map_err(|e| StoreError::corrupt("key layout", e))?,
            storage_class: self
                .storage_class
                .as_deref()
                .map(StorageClass::parse)
                .transpose()
                .map_err(|e| StoreError::corrupt("storage class", e))?,
            kms_key_arn: self
                .kms_key_arn
                .as_deref()
                .map(KmsKeyArn::parse)
                .transpose()
                .map_err(|e| StoreError::corrupt("KMS key ARN", e))?,
        })
    }
}

impl TryFrom<ConfigRow> for Config {
    type Error = StoreError;

    fn try_from(row: ConfigRow) -> Result<Self, StoreError> {
        let settings = row.settings()?;
        let delivery_type =
            DeliveryType::parse(&row.delivery_type).map_err(|e| StoreError::corrupt("delivery type", e))?;
        if settings.target.delivery_type() != delivery_type {
            return Err(StoreError::corrupt(
                "delivery target",
                "does not match the config's type",
            ));
        }
        let status = VerificationStatus::parse(&row.verification_status)
            .map_err(|e| StoreError::corrupt("verification status", e))?;
        let checks: Vec<Check> = serde_json::from_value(row.verification_checks)
            .map_err(|e| StoreError::corrupt("verification checks", e))?;
        Ok(Config {
            tenant_id: TenantId::parse(&row.tenant_id).map_err(|e| StoreError::corrupt("tenant id", e))?,
            settings,
            verification: Verification {
                status,
                checked_at: row.verification_checked_at,
                checks,
            },
            version: row.version,
            delivery_version: row.delivery_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ConfigRow {
        let now = Utc::now();
        ConfigRow {
            tenant_id: "acme".into(),
            delivery_type: "s3".into(),
            enabled: true,
            target_region: "eu-west-1".into(),
            role_arn: "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery".into(),
            desired_logs: vec!["web".into()],
            log_group_name: None,
            log_stream_template: None,
            bucket_name: Some("acme-logs".into()),
            bucket_prefix: Some("k8s/".into()),
            version: 7,
            created_at: now,
            updated_at: now,
            verification_status: "verified".into(),
            verification_checked_at: Some(now),
            verification_checks: serde_json::json!([]),
            delivery_version: 7,
            filter: None,
            message_format: "raw".into(),
            message_fields: None,
            key_layout: "staged".into(),
            storage_class: None,
            kms_key_arn: None,
        }
    }

    #[test]
    fn a_stored_row_becomes_a_typed_config() {
        let config = Config::try_from(row()).expect("valid row");
        assert_eq!(config.tenant_id.as_str(), "acme");
        assert_eq!(config.delivery_type(), DeliveryType::S3);
        assert_eq!(config.state(), logspoke_contract::EffectiveState::Active);
        assert_eq!(config.settings.target.columns().bucket_prefix, Some("k8s/"));
    }

    #[test]
    fn checks_stored_with_the_previous_releases_cause_spellings_read_as_the_new_ones() {
        let mut stored = row();
        stored.verification_status = "failed".into();
        stored.verification_checks = serde_json::json!([
            {"name": "assume_role", "status": "passed", "message": "assumed"},
            {"name": "external_id_required", "status": "passed", "message": "refused"},
            {"name": "s3_write", "status": "failed", "cause": "bucket_not_found", "message": "no bucket"},
        ]);
        let config = Config::try_from(stored).expect("old spellings are read");
        let check = &config.verification.checks[2];
        assert_eq!(check.cause, Some(logspoke_contract::Cause::BucketMissing));
        let answered = serde_json::to_value(check).expect("serialisable");
        assert_eq!(answered["cause"], "bucket_missing");
    }

    #[test]
    fn a_corrupt_row_is_an_error_naming_the_value() {
        type Spoil = fn(&mut ConfigRow);
        let cases: [(&str, Spoil); 5] = [
            ("verification checks", |r| {
                r.verification_checks = serde_json::json!({"x": 1})
            }),
            ("verification status", |r| r.verification_status = "maybe".into()),
            ("region", |r| r.target_region = "mars-1".into()),
            ("delivery target", |r| r.delivery_type = "cloudwatch".into()),
            ("delivery target", |r| r.bucket_name = None),
        ];
        for (what, spoil) in cases {
            let mut bad = row();
            spoil(&mut bad);
            match Config::try_from(bad) {
                Err(StoreError::Corrupt { what: named, .. }) => assert_eq!(named, what),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}

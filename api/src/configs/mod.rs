//! Delivery configs as the domain sees them: one per (tenant, type), built from the
//! `contract` types, so every layer (routes, outbox, verification, CLI) handles the
//! same typed [`Config`] and nothing re-parses strings.
//!
//! - this module: the typed config, its settings and the effective-state rule;
//! - [`row`]: the one conversion from a stored row into a [`Config`];
//! - [`repository`]: every query on `delivery_configs`;
//! - [`document`]: the config as the API shows it and the audit log records it.

pub mod document;
pub mod repository;
pub mod row;

use chrono::{DateTime, Utc};
use logspoke_contract::{
    DeliveryTarget, DeliveryType, DesiredLogs, EffectiveState, Filter, KeyLayout, KmsKeyArn, MessageFormat,
    Region, RoleArn, StorageClass, TenantId,
};

use crate::verification::{Verification, VerificationStatus};

/// The effective state of a config from its own settings (the read model also folds in
/// the tenant's `enabled`): only `active` configs reach the worker.
pub fn config_state(enabled: bool, verification: VerificationStatus) -> EffectiveState {
    match (enabled, verification) {
        (false, _) => EffectiveState::Disabled,
        (true, VerificationStatus::Verified) => EffectiveState::Active,
        (true, VerificationStatus::Unverified) => EffectiveState::PendingVerification,
        (true, VerificationStatus::Failed) => EffectiveState::VerificationFailed,
    }
}

/// The writable settings of a config, validated: what a PUT stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The customer's intent.
    pub enabled: bool,
    /// Target region (same partition as the role).
    pub target_region: Region,
    /// The customer's role.
    pub role_arn: RoleArn,
    /// Application allow-list.
    pub desired_logs: DesiredLogs,
    /// Type-specific target.
    pub target: DeliveryTarget,
    /// Which lines are delivered (applies to objects delivered after it changed, replays
    /// included).
    pub filter: Filter,
    /// CloudWatch: the shape of each message (`raw` for S3).
    pub message_format: MessageFormat,
    /// S3: how copies are laid out under the prefix (`staged` for CloudWatch).
    pub key_layout: KeyLayout,
    /// S3: the copies' storage class (`None`: the bucket's default).
    pub storage_class: Option<StorageClass>,
    /// S3: the KMS key the copies are encrypted with (`None`: the bucket's default).
    pub kms_key_arn: Option<KmsKeyArn>,
}

impl Settings {
    /// Whether storing these settings over `current` changes what verification proved:
    /// the role, the region or the destination. Such a change resets the config to
    /// unverified.
    pub fn changes_target_of(&self, current: &Settings) -> bool {
        self.role_arn != current.role_arn
            || self.target_region != current.target_region
            || !self.target.same_destination(&current.target)
            || self.kms_key_arn != current.kms_key_arn
    }

    /// Whether storing these settings over `current` (`None`: a new config) matters for
    /// delivery: a target change or the `enabled` flag. An edit of the allow-list, the
    /// filter, the message format or the stream template does not, so it neither makes a failing target due at once nor
    /// breaks the drain lease of the replica draining it.
    pub fn matters_for_delivery(&self, current: Option<&Settings>) -> bool {
        current.is_none_or(|c| self.changes_target_of(c) || self.enabled != c.enabled)
    }
}

/// A stored delivery config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The owning tenant.
    pub tenant_id: TenantId,
    /// What the customer configured; its target's type is the config's type.
    pub settings: Settings,
    /// The last trial AssumeRole.
    pub verification: Verification,
    /// Increases with every change; the ETag is this value quoted.
    pub version: i64,
    /// The version at which something delivery depends on last changed (see
    /// `logspoke_contract::ConfigItem::delivery_version`).
    pub delivery_version: i64,
    /// When the config was created.
    pub created_at: DateTime<Utc>,
    /// When the config last changed.
    pub updated_at: DateTime<Utc>,
}

impl Config {
    /// `cloudwatch` or `s3`: the type of its target.
    pub fn delivery_type(&self) -> DeliveryType {
        self.settings.target.delivery_type()
    }

    /// Whether logs flow through this config (the tenant's `enabled` aside).
    pub fn state(&self) -> EffectiveState {
        config_state(self.settings.enabled, self.verification.status)
    }
}

/// The writable fields every config has, whatever its type.
pub const COMMON_FIELDS: [&str; 5] = ["enabled", "target_region", "role_arn", "desired_logs", "filter"];

/// The writable fields of a type's target: a body of the other type may not name them.
pub fn target_fields(delivery_type: DeliveryType) -> &'static [&'static str] {
    match delivery_type {
        DeliveryType::Cloudwatch => &[
            "log_group_name",
            "log_stream_template",
            "message_format",
            "message_fields",
        ],
        DeliveryType::S3 => &[
            "bucket_name",
            "bucket_prefix",
            "key_layout",
            "storage_class",
            "kms_key_arn",
        ],
    }
}

/// Every writable field of a config of this type.
pub fn writable_fields(delivery_type: DeliveryType) -> Vec<&'static str> {
    COMMON_FIELDS
        .into_iter()
        .chain(target_fields(delivery_type).iter().copied())
        .collect()
}

/// The fields a stored config of this type always has (a PUT must carry them).
pub fn required_fields(delivery_type: DeliveryType) -> [&'static str; 3] {
    match delivery_type {
        DeliveryType::Cloudwatch => ["target_region", "role_arn", "log_group_name"],
        DeliveryType::S3 => ["target_region", "role_arn", "bucket_name"],
    }
}

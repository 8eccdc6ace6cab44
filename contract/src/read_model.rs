//! The DynamoDB read model the delivery worker reads instead of Postgres: one item per
//! (tenant, delivery type), keyed `tenant_id` + `type`.
//!
//! The api's outbox relay writes an item for every committed change, with a `version`
//! that only grows, conditionally (`attribute_not_exists(version) OR version < :v`), so
//! an older version never overwrites a newer one and a replay changes nothing. A deleted
//! config is written as a tombstone (`deleted = true`), so a worker can tell "deleted"
//! from "never existed". The item carries only the *effective* state: the config's own
//! `enabled`, its verification and the tenant's `enabled` are folded into `state`.
//!
//! Each live item also carries the tenant's registered clusters (`clusters`, a list of
//! cluster ids): the worker delivers an object only when the `{cluster_id}` segment of
//! its key is one of them. A cluster change republishes every config of the tenant. An
//! item without the attribute (schema version 1) registers no cluster, so nothing is
//! delivered through it until the api republishes it (`logspoke-api resync`).
//!
//! `delivery_version` is the version at which something delivery depends on last
//! changed: the role, the ExternalId, the region, the destination, the effective state or
//! a verification. It only grows and is at most `version`. The worker's drainer keys its
//! "probe at once" and its drain lease on it, so a change that does not matter for
//! delivery (an allow-list, a registered cluster) neither makes a failing target due nor
//! takes a target away from the replica draining it. An item without the attribute reads
//! it as its `version`.
//!
//! Line shaping: `filter` (the config's filter as a JSON string, absent when it has no
//! rule) and, for a `json` message format, `message_format` = `json` with
//! `message_fields` (a list); absent, every line is delivered as its text. An S3 item's
//! `key_layout` (`hive`; absent: `staged`) says how copies are laid out, `storage_class`
//! and `kms_key_arn` how they are stored. A worker of a
//! release before these attributes would ignore them, so workers upgrade first.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::attrs::Reader;
use crate::{
    BucketName, BucketPrefix, ClusterId, DeliveryType, DesiredLogs, ExternalId, Filter, KeyLayout, KmsKeyArn,
    LogGroupName, LogStreamTemplate, MessageFormat, ParseError, Region, RoleArn, StorageClass, TenantId,
};

/// Version of the item layout, stored in every item as `schema_version`.
pub const ITEM_SCHEMA_VERSION: u32 = 3;

/// One DynamoDB attribute value, serialised exactly as DynamoDB JSON (`{"S": "…"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attr {
    /// A string.
    S(String),
    /// A number, as DynamoDB transmits it: decimal text.
    N(String),
    /// A boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// A list.
    L(Vec<Attr>),
}

/// An item: attribute name → value (ordered, so golden files are stable).
pub type Attributes = BTreeMap<String, Attr>;

/// Whether logs may flow through a config, everything folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EffectiveState {
    /// Enabled, verified, tenant enabled: the worker delivers.
    Active,
    /// Enabled but not verified since it was created or its target changed.
    PendingVerification,
    /// Enabled but its last verification failed.
    VerificationFailed,
    /// The config or its tenant is disabled.
    Disabled,
}

impl EffectiveState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PendingVerification => "pending_verification",
            Self::VerificationFailed => "verification_failed",
            Self::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "active" => Ok(Self::Active),
            "pending_verification" => Ok(Self::PendingVerification),
            "verification_failed" => Ok(Self::VerificationFailed),
            "disabled" => Ok(Self::Disabled),
            other => Err(ParseError::new(format!("unknown state '{other}'"))),
        }
    }
}

/// Where a config delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    /// The customer's CloudWatch Logs log group.
    CloudWatch {
        /// Log group name.
        log_group_name: LogGroupName,
        /// Stream name template; `None` means [`LogStreamTemplate::DEFAULT`].
        log_stream_template: Option<LogStreamTemplate>,
    },
    /// The customer's S3 bucket.
    S3 {
        /// Bucket name.
        bucket_name: BucketName,
        /// Normalised key prefix.
        bucket_prefix: BucketPrefix,
    },
}

/// A target in the flat form of columns and attributes: the fields of the other type
/// are `None`. What Postgres rows and read-model items store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetColumns<'a> {
    /// CloudWatch: the log group.
    pub log_group_name: Option<&'a str>,
    /// CloudWatch: the stream template, when not the default.
    pub log_stream_template: Option<&'a str>,
    /// S3: the bucket.
    pub bucket_name: Option<&'a str>,
    /// S3: the normalised prefix.
    pub bucket_prefix: Option<&'a str>,
}

/// A stored target column that does not parse: which column, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {error}")]
pub struct ColumnError {
    /// The column (or attribute) name.
    pub column: &'static str,
    /// Why its value was refused.
    pub error: ParseError,
}

impl DeliveryTarget {
    /// The type of config this target belongs to.
    pub fn delivery_type(&self) -> DeliveryType {
        match self {
            Self::CloudWatch { .. } => DeliveryType::Cloudwatch,
            Self::S3 { .. } => DeliveryType::S3,
        }
    }

    /// Whether `other` delivers to the same place: the same log group, or the same bucket
    /// and prefix. The stream template only names streams inside the group.
    pub fn same_destination(&self, other: &Self) -> bool {
        let (a, b) = (self.columns(), other.columns());
        a.log_group_name == b.log_group_name
            && a.bucket_name == b.bucket_name
            && a.bucket_prefix == b.bucket_prefix
    }

    /// The flat form.
    pub fn columns(&self) -> TargetColumns<'_> {
        match self {
            Self::CloudWatch {
                log_group_name,
                log_stream_template,
            } => TargetColumns {
                log_group_name: Some(log_group_name.as_str()),
                log_stream_template: log_stream_template.as_ref().map(LogStreamTemplate::as_str),
                ..TargetColumns::default()
            },
            Self::S3 {
                bucket_name,
                bucket_prefix,
            } => TargetColumns {
                bucket_name: Some(bucket_name.as_str()),
                bucket_prefix: Some(bucket_prefix.as_str()),
                ..TargetColumns::default()
            },
        }
    }

    /// Parses the flat form: a log group makes a CloudWatch target, otherwise the bucket
    /// is required; an absent prefix is the bucket root.
    pub fn from_columns(columns: TargetColumns<'_>) -> Result<Self, ColumnError> {
        let bad = |column: &'static str| move |error: ParseError| ColumnError { column, error };
        if let Some(group) = columns.log_group_name {
            return Ok(Self::CloudWatch {
                log_group_name: LogGroupName::parse(group).map_err(bad("log_group_name"))?,
                log_stream_template: columns
                    .log_stream_template
                    .map(LogStreamTemplate::parse)
                    .transpose()
                    .map_err(bad("log_stream_template"))?,
            });
        }
        let bucket = columns.bucket_name.ok_or_else(|| ColumnError {
            column: "bucket_name",
            error: ParseError::new("is missing or of the wrong type"),
        })?;
        Ok(Self::S3 {
            bucket_name: BucketName::parse(bucket).map_err(bad("bucket_name"))?,
            bucket_prefix: BucketPrefix::parse(columns.bucket_prefix.unwrap_or(""))
                .map_err(bad("bucket_prefix"))?,
        })
    }
}

/// A live (not deleted) config as the worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Effective state; the worker delivers only when `Active`.
    pub state: EffectiveState,
    /// Region of the target.
    pub target_region: Region,
    /// The customer's role.
    pub role_arn: RoleArn,
    /// The tenant's ExternalId (absent until onboarding issued one).
    pub external_id: Option<ExternalId>,
    /// Application allow-list; empty = all.
    pub desired_logs: DesiredLogs,
    /// Where to deliver.
    pub target: DeliveryTarget,
    /// The clusters registered for the tenant: the only ones whose objects it receives.
    pub clusters: BTreeSet<ClusterId>,
    /// Which lines it delivers (the default: all of them).
    pub filter: Filter,
    /// The shape of CloudWatch messages (the default: the line's text).
    pub message_format: MessageFormat,
    /// S3: how copies are laid out under the prefix (the default: the staged key).
    pub key_layout: KeyLayout,
    /// S3: the copies' storage class (`None`: the bucket's default, STANDARD).
    pub storage_class: Option<StorageClass>,
    /// S3: the KMS key copies are encrypted with (`None`: the bucket's default
    /// encryption).
    pub kms_key_arn: Option<KmsKeyArn>,
}

impl LiveConfig {
    /// Whether objects staged by `cluster_id` may be delivered through this config.
    pub fn accepts_cluster(&self, cluster_id: &str) -> bool {
        self.clusters.iter().any(|c| c.as_str() == cluster_id)
    }
}

/// One read-model item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// Partition key.
    pub tenant_id: TenantId,
    /// Sort key.
    pub delivery_type: DeliveryType,
    /// Only grows; conditional writes compare it.
    pub version: i64,
    /// The version at which something delivery depends on last changed (≤ `version`).
    pub delivery_version: i64,
    /// `None` for a tombstone.
    pub config: Option<LiveConfig>,
    /// When the change was committed (RFC 3339).
    pub updated_at: String,
}

impl ConfigItem {
    /// Whether the worker should deliver through this config.
    pub fn is_active(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.state == EffectiveState::Active)
    }

    /// The DynamoDB attributes of this item.
    pub fn to_attributes(&self) -> Attributes {
        let mut item = Attributes::new();
        let s = |v: &str| Attr::S(v.to_owned());
        item.insert("tenant_id".into(), s(self.tenant_id.as_str()));
        item.insert("type".into(), s(self.delivery_type.as_str()));
        item.insert("version".into(), Attr::N(self.version.to_string()));
        item.insert(
            "delivery_version".into(),
            Attr::N(self.delivery_version.to_string()),
        );
        item.insert("schema_version".into(), Attr::N(ITEM_SCHEMA_VERSION.to_string()));
        item.insert("updated_at".into(), s(&self.updated_at));
        item.insert("deleted".into(), Attr::Bool(self.config.is_none()));
        if let Some(config) = &self.config {
            live_attributes(config, &mut item);
        }
        item
    }

    /// Reads an item back; any missing or invalid attribute is an error naming it.
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let reader = Reader(item);
        let deleted = reader.bool("deleted")?;
        let version = reader.n("version")?;
        let delivery_version = match item.get("delivery_version") {
            None => version,
            Some(_) => reader.n("delivery_version")?,
        };
        Ok(Self {
            tenant_id: TenantId::parse(reader.s("tenant_id")?).map_err(|e| reader.bad("tenant_id", e))?,
            delivery_type: DeliveryType::parse(reader.s("type")?).map_err(|e| reader.bad("type", e))?,
            version,
            delivery_version,
            updated_at: reader.s("updated_at")?.to_owned(),
            config: if deleted { None } else { Some(read_live(&reader)?) },
        })
    }
}

fn live_attributes(config: &LiveConfig, item: &mut Attributes) {
    let s = |v: &str| Attr::S(v.to_owned());
    item.insert("state".into(), s(config.state.as_str()));
    item.insert("target_region".into(), s(config.target_region.as_str()));
    item.insert("role_arn".into(), s(config.role_arn.as_str()));
    if let Some(external_id) = &config.external_id {
        item.insert("external_id".into(), s(external_id.as_str()));
    }
    let logs = config
        .desired_logs
        .to_strings()
        .into_iter()
        .map(Attr::S)
        .collect();
    item.insert("desired_logs".into(), Attr::L(logs));
    let clusters = config.clusters.iter().map(|c| s(c.as_str())).collect();
    item.insert("clusters".into(), Attr::L(clusters));
    if !config.filter.is_empty() {
        let spec = serde_json::to_string(&config.filter).unwrap_or_default();
        item.insert("filter".into(), s(&spec));
    }
    if let Some(fields) = config.message_format.field_names() {
        item.insert("message_format".into(), s(config.message_format.as_str()));
        item.insert(
            "message_fields".into(),
            Attr::L(fields.into_iter().map(Attr::S).collect()),
        );
    }
    if config.key_layout != KeyLayout::Staged {
        item.insert("key_layout".into(), s(config.key_layout.as_str()));
    }
    if let Some(class) = config.storage_class {
        item.insert("storage_class".into(), s(class.as_str()));
    }
    if let Some(key) = &config.kms_key_arn {
        item.insert("kms_key_arn".into(), s(key.as_str()));
    }
    let columns = config.target.columns();
    let targets = [
        ("log_group_name", columns.log_group_name),
        ("log_stream_template", columns.log_stream_template),
        ("bucket_name", columns.bucket_name),
        ("bucket_prefix", columns.bucket_prefix),
    ];
    for (name, value) in targets {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
}

fn read_live(reader: &Reader<'_>) -> Result<LiveConfig, ParseError> {
    let target = DeliveryTarget::from_columns(TargetColumns {
        log_group_name: reader.opt_s("log_group_name"),
        log_stream_template: reader.opt_s("log_stream_template"),
        bucket_name: reader.opt_s("bucket_name"),
        bucket_prefix: reader.opt_s("bucket_prefix"),
    })
    .map_err(|e| match e.column {
        "bucket_name" if reader.opt_s("bucket_name").is_none() => Reader::missing("bucket_name"),
        column => reader.bad(column, e.error),
    })?;
    Ok(LiveConfig {
        state: EffectiveState::parse(reader.s("state")?).map_err(|e| reader.bad("state", e))?,
        target_region: Region::parse(reader.s("target_region")?)
            .map_err(|e| reader.bad("target_region", e))?,
        role_arn: RoleArn::parse(reader.s("role_arn")?).map_err(|e| reader.bad("role_arn", e))?,
        external_id: reader
            .opt_s("external_id")
            .map(ExternalId::parse)
            .transpose()
            .map_err(|e| reader.bad("external_id", e))?,
        desired_logs: DesiredLogs::parse(&reader.strings("desired_logs")?)
            .map_err(|e| reader.bad("desired_logs", e))?,
        target,
        clusters: reader
            .strings("clusters")?
            .iter()
            .map(|c| ClusterId::parse(c))
            .collect::<Result<_, _>>()
            .map_err(|e| reader.bad("clusters", e))?,
        filter: read_filter(reader)?,
        message_format: read_message_format(reader)?,
        key_layout: reader
            .opt_s("key_layout")
            .map(KeyLayout::parse)
            .transpose()
            .map_err(|e| reader.bad("key_layout", e))?
            .unwrap_or_default(),
        storage_class: reader
            .opt_s("storage_class")
            .map(StorageClass::parse)
            .transpose()
            .map_err(|e| reader.bad("storage_class", e))?,
        kms_key_arn: reader
            .opt_s("kms_key_arn")
            .map(KmsKeyArn::parse)
            .transpose()
            .map_err(|e| reader.bad("kms_key_arn", e))?,
    })
}

/// The `filter` attribute (a JSON object); absent: every line.
fn read_filter(reader: &Reader<'_>) -> Result<Filter, ParseError> {
    match reader.opt_s("filter") {
        None => Ok(Filter::default()),
        Some(json) => {
            serde_json::from_str(json).map_err(|e| reader.bad("filter", ParseError::new(e.to_string())))
        }
    }
}

/// `message_format` and `message_fields`; absent: raw.
fn read_message_format(reader: &Reader<'_>) -> Result<MessageFormat, ParseError> {
    let Some(format) = reader.opt_s("message_format") else {
        return Ok(MessageFormat::Raw);
    };
    let fields = match reader.0.get("message_fields") {
        None => None,
        Some(_) => Some(reader.strings("message_fields")?),
    };
    MessageFormat::parse(format, fields.as_deref()).map_err(|(name, e)| reader.bad(name, e))
}

#[cfg(test)]
mod target_tests {
    use super::*;

    fn cloudwatch(group: &str, template: Option<&str>) -> DeliveryTarget {
        DeliveryTarget::from_columns(TargetColumns {
            log_group_name: Some(group),
            log_stream_template: template,
            ..TargetColumns::default()
        })
        .expect("valid")
    }

    fn s3(bucket: &str, prefix: Option<&str>) -> DeliveryTarget {
        DeliveryTarget::from_columns(TargetColumns {
            bucket_name: Some(bucket),
            bucket_prefix: prefix,
            ..TargetColumns::default()
        })
        .expect("valid")
    }

    #[test]
    fn columns_and_targets_round_trip() {
        for target in [
            cloudwatch("/acme/app", None),
            cloudwatch("/acme/app", Some("{pod_name}")),
            s3("acme-logs", None),
            s3("acme-logs", Some("k8s/")),
        ] {
            assert_eq!(DeliveryTarget::from_columns(target.columns()), Ok(target.clone()));
        }
        assert_eq!(s3("acme-logs", None).columns().bucket_prefix, Some(""));
    }

    #[test]
    fn a_bad_column_is_named() {
        let err = DeliveryTarget::from_columns(TargetColumns {
            log_group_name: Some("bad group*"),
            ..TargetColumns::default()
        })
        .expect_err("invalid");
        assert_eq!(err.column, "log_group_name");
        let err = DeliveryTarget::from_columns(TargetColumns::default()).expect_err("no target");
        assert_eq!(err.column, "bucket_name");
    }

    #[test]
    fn the_stream_template_does_not_change_the_destination() {
        let group = cloudwatch("/acme/app", None);
        assert!(group.same_destination(&cloudwatch("/acme/app", Some("{pod_name}"))));
        assert!(!group.same_destination(&cloudwatch("/acme/other", None)));
        assert!(!s3("acme-logs", Some("a/")).same_destination(&s3("acme-logs", Some("b/"))));
        assert!(!group.same_destination(&s3("acme-logs", None)));
        assert_eq!(group.delivery_type(), DeliveryType::Cloudwatch);
    }
}

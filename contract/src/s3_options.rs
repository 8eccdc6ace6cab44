//! How an S3 target's copies are stored: their storage class and the KMS key they are
//! encrypted with (SSE-KMS). Both are sent with every copy (`x-amz-storage-class`,
//! `x-amz-server-side-encryption: aws:kms` with the key), and by `verify`'s probe, so a
//! role that may not use the key fails verification rather than the first delivery.

use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::{ParseError, Partition, Region};

/// An S3 storage class a copy may be written in. Not `REDUCED_REDUNDANCY` (deprecated)
/// nor the directory-bucket classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageClass {
    /// S3 Standard (S3's default).
    Standard,
    /// Standard-Infrequent Access.
    StandardIa,
    /// One Zone-Infrequent Access.
    OnezoneIa,
    /// Intelligent-Tiering.
    IntelligentTiering,
    /// Glacier Instant Retrieval.
    GlacierIr,
    /// Glacier Flexible Retrieval (restored before it can be read).
    Glacier,
    /// Glacier Deep Archive (restored before it can be read).
    DeepArchive,
}

impl StorageClass {
    /// Every class, in S3's names.
    pub const ALL: [StorageClass; 7] = [
        Self::Standard,
        Self::StandardIa,
        Self::OnezoneIa,
        Self::IntelligentTiering,
        Self::GlacierIr,
        Self::Glacier,
        Self::DeepArchive,
    ];

    /// S3's name of the class (the `x-amz-storage-class` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::StandardIa => "STANDARD_IA",
            Self::OnezoneIa => "ONEZONE_IA",
            Self::IntelligentTiering => "INTELLIGENT_TIERING",
            Self::GlacierIr => "GLACIER_IR",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// Parses S3's name of a class.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            ParseError::new(
                "is STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE",
            )
        })
    }
}

crate::newtype::str_conversions!(StorageClass);

/// The ARN of a KMS key (not an alias: an IAM grant names the key, and an alias would
/// pass S3 yet fail the grant): `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`, the id a
/// UUID or a multi-Region key's `mrk-` id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KmsKeyArn(String);

string_newtype!(KmsKeyArn);

impl KmsKeyArn {
    /// The rule of [`KmsKeyArn::parse`] as an ECMA-262 pattern, for API documents.
    pub const PATTERN: &'static str = "^arn:aws(-cn|-us-gov)?:kms:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$";

    /// Validates a key ARN.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad =
            || ParseError::new("must be a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (not an alias)");
        let fields: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = fields[..] else {
            return Err(bad());
        };
        let partition = Partition::parse(partition).map_err(|_| bad())?;
        Region::parse_in(region, partition).map_err(|_| bad())?;
        let id = resource.strip_prefix("key/").ok_or_else(bad)?;
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if arn != "arn" || service != "kms" || !account_ok || !(is_uuid(id) || is_multi_region_id(id)) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The key's region (SSE-KMS needs a key in the bucket's region).
    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| is_hex(g))
}

fn is_multi_region_id(id: &str) -> bool {
    id.strip_prefix("mrk-")
        .is_some_and(|hex| hex.len() == 32 && is_hex(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_of_every_partition_and_multi_region_keys_parse() {
        for arn in [
            "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-us-gov:kms:us-gov-west-1:222222222222:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws-cn:kms:cn-north-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(KmsKeyArn::parse(arn).unwrap().as_str(), arn);
        }
        let key =
            KmsKeyArn::parse("arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(key.unwrap().region(), "eu-west-1");
    }

    #[test]
    fn aliases_other_services_and_malformed_ids_are_refused() {
        for arn in [
            "arn:aws:kms:eu-west-1:222222222222:alias/logs",
            "arn:aws:s3:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:mars-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:cn-north-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:2222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:222222222222:key/1234ABCD-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:222222222222:key/*",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(KmsKeyArn::parse(arn).is_err(), "{arn}");
        }
    }

    #[test]
    fn storage_classes_parse_by_s3s_names() {
        for class in StorageClass::ALL {
            assert_eq!(StorageClass::parse(class.as_str()), Ok(class));
        }
        assert!(StorageClass::parse("REDUCED_REDUNDANCY").is_err());
        assert!(StorageClass::parse("standard").is_err());
    }
}

//! AWS regions Logspoke can deliver to.

use crate::error::quoted;
use crate::newtype::str_conversions;
use crate::{ParseError, Partition};
use serde::{Deserialize, Serialize};

/// Every region Logspoke accepts, with its partition.
///
/// A fixed list rather than a pattern: a typo such as `us-east1` would otherwise only
/// fail later, inside an AWS call made by the worker. Add new regions here.
const REGIONS: &[(&str, Partition)] = &[
    ("us-east-1", Partition::Aws),
    ("us-east-2", Partition::Aws),
    ("us-west-1", Partition::Aws),
    ("us-west-2", Partition::Aws),
    ("af-south-1", Partition::Aws),
    ("ap-east-1", Partition::Aws),
    ("ap-east-2", Partition::Aws),
    ("ap-south-1", Partition::Aws),
    ("ap-south-2", Partition::Aws),
    ("ap-southeast-1", Partition::Aws),
    ("ap-southeast-2", Partition::Aws),
    ("ap-southeast-3", Partition::Aws),
    ("ap-southeast-4", Partition::Aws),
    ("ap-southeast-5", Partition::Aws),
    ("ap-southeast-6", Partition::Aws),
    ("ap-southeast-7", Partition::Aws),
    ("ap-northeast-1", Partition::Aws),
    ("ap-northeast-2", Partition::Aws),
    ("ap-northeast-3", Partition::Aws),
    ("ca-central-1", Partition::Aws),
    ("ca-west-1", Partition::Aws),
    ("eu-central-1", Partition::Aws),
    ("eu-central-2", Partition::Aws),
    ("eu-west-1", Partition::Aws),
    ("eu-west-2", Partition::Aws),
    ("eu-west-3", Partition::Aws),
    ("eu-south-1", Partition::Aws),
    ("eu-south-2", Partition::Aws),
    ("eu-north-1", Partition::Aws),
    ("il-central-1", Partition::Aws),
    ("me-south-1", Partition::Aws),
    ("me-central-1", Partition::Aws),
    ("mx-central-1", Partition::Aws),
    ("sa-east-1", Partition::Aws),
    ("cn-north-1", Partition::AwsCn),
    ("cn-northwest-1", Partition::AwsCn),
    ("us-gov-east-1", Partition::AwsUsGov),
    ("us-gov-west-1", Partition::AwsUsGov),
];

/// A real AWS region name, such as `eu-west-1`, together with its partition.
///
/// Held as a reference into the built-in list, so it is `Copy` and can only ever be a
/// region that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region {
    name: &'static str,
    partition: Partition,
}

impl Region {
    /// Accepts a region from the built-in list, in any partition.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        REGIONS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|&(name, partition)| Self { name, partition })
            .ok_or_else(|| ParseError::new(format!("{} is not a known AWS region", quoted(s))))
    }

    /// Accepts a region only if it is in `partition`, e.g. the partition of the role
    /// that will deliver to it.
    pub fn parse_in(s: &str, partition: Partition) -> Result<Self, ParseError> {
        let region = Self::parse(s)?;
        if region.partition != partition {
            return Err(ParseError::new(format!(
                "region '{}' belongs to partition {}, not {}",
                region.name, region.partition, partition
            )));
        }
        Ok(region)
    }

    /// Every accepted region of `partition`, in the built-in list's order.
    pub fn names_in(partition: Partition) -> impl Iterator<Item = &'static str> {
        REGIONS
            .iter()
            .filter(move |(_, p)| *p == partition)
            .map(|(name, _)| *name)
    }

    /// The region name, as AWS SDKs and endpoints expect it.
    pub fn as_str(&self) -> &'static str {
        self.name
    }

    /// The partition the region belongs to.
    pub fn partition(&self) -> Partition {
        self.partition
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.name.to_owned()
    }
}

str_conversions!(Region);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_every_listed_region() {
        let names: Vec<&str> = REGIONS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.len(), 38);
        assert_accepts(Region::parse, &names);
    }

    #[test]
    fn knows_each_regions_partition() {
        let cases = [
            ("us-east-1", Partition::Aws),
            ("eu-west-1", Partition::Aws),
            ("mx-central-1", Partition::Aws),
            ("ap-southeast-7", Partition::Aws),
            ("cn-north-1", Partition::AwsCn),
            ("cn-northwest-1", Partition::AwsCn),
            ("us-gov-east-1", Partition::AwsUsGov),
            ("us-gov-west-1", Partition::AwsUsGov),
        ];
        for (input, partition) in cases {
            let got = Region::parse(input).map(|r| r.partition());
            assert_eq!(got, Ok(partition), "input {input:?}");
        }
    }

    #[test]
    fn rejects_unknown_regions() {
        let long = "x".repeat(100);
        let long_message = format!("'{}…' is not a known AWS region", "x".repeat(64));
        assert_rejects(
            Region::parse,
            &[
                ("", "'' is not a known AWS region"),
                ("us-east1", "'us-east1' is not a known AWS region"),
                ("US-EAST-1", "'US-EAST-1' is not a known AWS region"),
                (" us-east-1", "' us-east-1' is not a known AWS region"),
                ("us-east-1 ", "'us-east-1 ' is not a known AWS region"),
                ("us-east-9", "'us-east-9' is not a known AWS region"),
                ("eu-west-4", "'eu-west-4' is not a known AWS region"),
                ("us-iso-east-1", "'us-iso-east-1' is not a known AWS region"),
                ("global", "'global' is not a known AWS region"),
                ("use1", "'use1' is not a known AWS region"),
                (&long, &long_message),
            ],
        );
    }

    #[test]
    fn parse_in_requires_the_partition() {
        let cases = [
            ("us-east-1", Partition::Aws, Ok("us-east-1")),
            ("cn-north-1", Partition::AwsCn, Ok("cn-north-1")),
            ("us-gov-west-1", Partition::AwsUsGov, Ok("us-gov-west-1")),
            (
                "cn-north-1",
                Partition::Aws,
                Err("region 'cn-north-1' belongs to partition aws-cn, not aws"),
            ),
            (
                "us-east-1",
                Partition::AwsUsGov,
                Err("region 'us-east-1' belongs to partition aws, not aws-us-gov"),
            ),
            (
                "us-gov-east-1",
                Partition::AwsCn,
                Err("region 'us-gov-east-1' belongs to partition aws-us-gov, not aws-cn"),
            ),
            (
                "mars-1",
                Partition::Aws,
                Err("'mars-1' is not a known AWS region"),
            ),
        ];
        for (input, partition, expected) in cases {
            let got = Region::parse_in(input, partition);
            let got = got.as_ref().map(Region::as_str).map_err(|e| e.message.as_str());
            assert_eq!(got, expected, "input {input:?} in {partition}");
        }
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let region: Region = serde_json::from_str("\"eu-west-1\"")?;
        assert_eq!(region.partition(), Partition::Aws);
        assert_eq!(serde_json::to_string(&region)?, "\"eu-west-1\"");
        assert!(serde_json::from_str::<Region>("\"eu-west-9\"").is_err());
        Ok(())
    }
}

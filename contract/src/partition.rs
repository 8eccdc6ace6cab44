//! AWS partitions.

use crate::newtype::str_conversions;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// An AWS partition: a separate copy of AWS with its own accounts, ARNs and console.
///
/// A role in one partition cannot be assumed from another, so a region and a role ARN
/// must agree on it, and the console link for onboarding depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Partition {
    /// Commercial AWS (`aws`).
    Aws,
    /// AWS China (`aws-cn`).
    AwsCn,
    /// AWS GovCloud (US) (`aws-us-gov`).
    AwsUsGov,
}

impl Partition {
    /// Every partition, for listing allowed values.
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

    /// Parses the partition name as it appears in ARNs (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|partition| partition.as_str() == s)
            .ok_or_else(|| ParseError::new("partition must be aws, aws-cn or aws-us-gov"))
    }

    /// The name as it appears in ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }
}

impl From<Partition> for String {
    fn from(value: Partition) -> Self {
        value.as_str().to_owned()
    }
}

str_conversions!(Partition);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_partition_name() {
        let cases = [
            ("aws", Partition::Aws),
            ("aws-cn", Partition::AwsCn),
            ("aws-us-gov", Partition::AwsUsGov),
        ];
        for (input, expected) in cases {
            assert_eq!(Partition::parse(input), Ok(expected), "input {input:?}");
            assert_eq!(expected.as_str(), input);
        }
    }

    #[test]
    fn rejects_unknown_names() {
        for input in ["", "AWS", "aws ", "aws-iso", "aws-iso-b", "aws-eusc", "cn", "gov"] {
            assert_eq!(
                Partition::parse(input).map_err(|e| e.message),
                Err("partition must be aws, aws-cn or aws-us-gov".to_owned()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn serde_uses_the_arn_name() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Partition::AwsUsGov)?, "\"aws-us-gov\"");
        assert_eq!(serde_json::from_str::<Partition>("\"aws-cn\"")?, Partition::AwsCn);
        assert!(serde_json::from_str::<Partition>("\"AwsCn\"").is_err());
        Ok(())
    }
}

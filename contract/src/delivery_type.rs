//! Delivery destinations.

use crate::error::quoted;
use crate::newtype::str_conversions;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Where a delivery config sends logs in the customer's account; decides which
/// destination fields the config needs and which sink the worker uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeliveryType {
    /// CloudWatch Logs: a log group, with streams named from a template.
    Cloudwatch,
    /// S3: objects under a prefix in a bucket.
    S3,
}

impl DeliveryType {
    /// Every delivery type, for listing allowed values.
    pub const ALL: [DeliveryType; 2] = [DeliveryType::Cloudwatch, DeliveryType::S3];

    /// Parses the wire name (`cloudwatch` or `s3`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|delivery_type| delivery_type.as_str() == s)
            .ok_or_else(|| {
                ParseError::new(format!(
                    "unknown delivery type {}; expected cloudwatch or s3",
                    quoted(s)
                ))
            })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryType::Cloudwatch => "cloudwatch",
            DeliveryType::S3 => "s3",
        }
    }
}

impl From<DeliveryType> for String {
    fn from(value: DeliveryType) -> Self {
        value.as_str().to_owned()
    }
}

str_conversions!(DeliveryType);

/// The OpenAPI schema: a string enum of the wire names.
#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for DeliveryType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(DeliveryType::ALL.iter().map(|t| t.as_str())))
            .description(Some("Delivery config type: CloudWatch Logs or S3."))
            .into()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for DeliveryType {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_rejects;

    #[test]
    fn parses_wire_names() {
        let cases = [("cloudwatch", DeliveryType::Cloudwatch), ("s3", DeliveryType::S3)];
        for (input, expected) in cases {
            assert_eq!(DeliveryType::parse(input), Ok(expected), "input {input:?}");
            assert_eq!(expected.as_str(), input);
        }
    }

    #[test]
    fn rejects_other_names_listing_the_allowed_ones() {
        assert_rejects(
            DeliveryType::parse,
            &[
                ("", "unknown delivery type ''; expected cloudwatch or s3"),
                ("S3", "unknown delivery type 'S3'; expected cloudwatch or s3"),
                (
                    "CloudWatch",
                    "unknown delivery type 'CloudWatch'; expected cloudwatch or s3",
                ),
                (
                    "cloudwatch_logs",
                    "unknown delivery type 'cloudwatch_logs'; expected cloudwatch or s3",
                ),
                (
                    "kinesis",
                    "unknown delivery type 'kinesis'; expected cloudwatch or s3",
                ),
                (" s3", "unknown delivery type ' s3'; expected cloudwatch or s3"),
            ],
        );
    }

    #[test]
    fn serde_uses_wire_names() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_string(&DeliveryType::Cloudwatch)?,
            "\"cloudwatch\""
        );
        assert_eq!(serde_json::from_str::<DeliveryType>("\"s3\"")?, DeliveryType::S3);
        assert!(serde_json::from_str::<DeliveryType>("\"S3\"").is_err());
        Ok(())
    }
}

//! CloudWatch Logs group names.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// The CloudWatch Logs group in the customer's account that receives a tenant's logs.
///
/// CloudWatch allows 1 to 512 characters of `[.\-_/#A-Za-z0-9]`; checking here turns
/// a later `InvalidParameterException` in the worker into a 422 at save time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogGroupName(String);

impl LogGroupName {
    /// The rule of [`LogGroupName::parse`] as an ECMA-262 pattern, for API documents.
    pub const PATTERN: &'static str = r"^[.\-_/#A-Za-z0-9]{1,512}$";

    /// Validates `s` as a log group name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let len = s.chars().count();
        if !(1..=512).contains(&len) {
            return Err(ParseError::new("must be 1 to 512 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/#".contains(c);
        if !s.chars().all(allowed) {
            return Err(ParseError::new("may contain only letters, digits and . _ - / #"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(LogGroupName);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_names() {
        let longest = "g".repeat(512);
        assert_accepts(
            LogGroupName::parse,
            &[
                "a",
                "/",
                "#",
                "/aws/eks/prod/containers",
                "/logspoke/acme",
                "my-app_logs.v2",
                "#ops#",
                "UPPER/lower/123",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = "g".repeat(513);
        let length = "must be 1 to 512 characters";
        let chars = "may contain only letters, digits and . _ - / #";
        assert_rejects(
            LogGroupName::parse,
            &[
                ("", length),
                (&too_long, length),
                ("a b", chars),
                ("a:b", chars),
                ("a*b", chars),
                ("a\\b", chars),
                ("a+b", chars),
                ("a@b", chars),
                ("grüße", chars),
                ("a\tb", chars),
                (" /logs", chars),
            ],
        );
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let name: LogGroupName = serde_json::from_str("\"/logspoke/acme\"")?;
        assert_eq!(serde_json::to_string(&name)?, "\"/logspoke/acme\"");
        assert!(serde_json::from_str::<LogGroupName>("\"\"").is_err());
        Ok(())
    }
}

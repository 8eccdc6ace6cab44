//! The tenant identifier.

use crate::dns_label;
use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Identifies a tenant (one customer) everywhere: API paths, tokens, storage keys.
///
/// It becomes an S3 key segment and part of DNS-like names, so it is restricted to
/// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`: 1 to 63 lowercase letters, digits and
/// hyphens that start and end with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// The rule of [`TenantId::parse`] as an ECMA-262 pattern, for API documents.
    pub const PATTERN: &'static str = dns_label::PATTERN;

    /// Validates `s` as a tenant id.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        dns_label::check(s)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(TenantId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_ids() {
        let longest = "a".repeat(63);
        assert_accepts(
            TenantId::parse,
            &[
                "a",
                "0",
                "ab",
                "a1",
                "9z",
                "abc",
                "a-b",
                "a--b",
                "123",
                "acme-corp",
                "tenant-42",
                "0-0",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_invalid_ids() {
        let too_long = "a".repeat(64);
        let length = "must be at most 63 characters";
        let chars = "may contain only lowercase letters, digits and '-'";
        let ends = "must start and end with a lowercase letter or digit";
        assert_rejects(
            TenantId::parse,
            &[
                ("", "must not be empty"),
                (&too_long, length),
                ("-", ends),
                ("a-", ends),
                ("-a", ends),
                ("-abc", ends),
                ("abc-", ends),
                ("---", ends),
                ("Acme", chars),
                ("ac_me", chars),
                ("ac.me", chars),
                ("ac me", chars),
                ("acme/x", chars),
                ("acmé", chars),
                (" abc", chars),
            ],
        );
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let id: TenantId = serde_json::from_str("\"acme\"")?;
        assert_eq!(id.as_str(), "acme");
        assert_eq!(serde_json::to_string(&id)?, "\"acme\"");
        assert!(serde_json::from_str::<TenantId>("\"Ab\"").is_err());
        Ok(())
    }

    #[test]
    fn display_and_from_str_agree() {
        let parsed: Result<TenantId, _> = "acme".parse();
        assert_eq!(parsed.map(|id| id.to_string()), Ok("acme".to_owned()));
    }
}

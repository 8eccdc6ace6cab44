//! Kubernetes application names.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// The value of a pod's `application` label, used to choose which logs a tenant wants.
///
/// Follows the Kubernetes label value rules (1 to 63 characters of `[A-Za-z0-9._-]`,
/// starting and ending alphanumeric; empty is not accepted here) so a name that no pod
/// could ever carry is refused when it is saved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationName(String);

impl ApplicationName {
    /// The rule of [`ApplicationName::parse`] as an ECMA-262 pattern, for API documents.
    pub const PATTERN: &'static str = "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$";

    /// Validates `s` as a Kubernetes label value naming an application.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let len = s.chars().count();
        if len == 0 {
            return Err(ParseError::new("must not be empty"));
        }
        if len > 63 {
            return Err(ParseError::new("must be at most 63 characters"));
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if !s.bytes().all(allowed) {
            return Err(ParseError::new(
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        let alphanumeric = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
        if !alphanumeric(s.as_bytes().first()) || !alphanumeric(s.as_bytes().last()) {
            return Err(ParseError::new("must start and end with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(ApplicationName);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_label_values() {
        let longest = "a".repeat(63);
        assert_accepts(
            ApplicationName::parse,
            &[
                "a",
                "Z",
                "9",
                "checkout",
                "Checkout-API",
                "my_app.v2",
                "a-b_c.d",
                "a..b",
                "a--b",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_invalid_label_values() {
        let too_long = "a".repeat(64);
        let chars = "may contain only letters, digits, '.', '_' and '-'";
        let ends = "must start and end with a letter or digit";
        assert_rejects(
            ApplicationName::parse,
            &[
                ("", "must not be empty"),
                (&too_long, "must be at most 63 characters"),
                ("-app", ends),
                ("app-", ends),
                ("_app", ends),
                ("app.", ends),
                (".", ends),
                ("my app", chars),
                ("app/v1", chars),
                ("app:1", chars),
                ("app*", chars),
                ("äpp", chars),
                (" app", chars),
            ],
        );
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let name: ApplicationName = serde_json::from_str("\"checkout\"")?;
        assert_eq!(serde_json::to_string(&name)?, "\"checkout\"");
        assert!(serde_json::from_str::<ApplicationName>("\"-x\"").is_err());
        Ok(())
    }
}

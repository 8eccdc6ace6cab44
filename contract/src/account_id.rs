//! AWS account ids.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// A 12-digit AWS account id, such as the customer account a role lives in.
///
/// Kept as a string, not a number: leading zeros are significant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Validates `s` as exactly 12 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("must be exactly 12 digits"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(AccountId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_twelve_digits() {
        assert_accepts(
            AccountId::parse,
            &["123456789012", "000000000000", "012345678901", "999999999999"],
        );
    }

    #[test]
    fn rejects_anything_else() {
        let message = "must be exactly 12 digits";
        let cases: Vec<(&str, &str)> = [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "1234-5678-9012",
            " 123456789012",
            "123456789012 ",
            "+12345678901",
            "１２３４５６７８９０１２",
            "12345678901٣",
        ]
        .into_iter()
        .map(|input| (input, message))
        .collect();
        assert_rejects(AccountId::parse, &cases);
    }

    #[test]
    fn serde_keeps_leading_zeros() -> Result<(), serde_json::Error> {
        let id: AccountId = serde_json::from_str("\"000000000042\"")?;
        assert_eq!(serde_json::to_string(&id)?, "\"000000000042\"");
        assert!(serde_json::from_str::<AccountId>("42").is_err());
        Ok(())
    }
}

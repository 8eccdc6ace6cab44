//! CloudWatch Logs stream names.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Longest stream name CloudWatch accepts.
const MAX_LEN: usize = 512;

/// A CloudWatch Logs stream inside a tenant's log group.
///
/// CloudWatch allows 1 to 512 characters without `:` or `*`. Stream names are built
/// from pod metadata the tenant controls, so [`LogStreamName::sanitized`] turns any
/// such text into a valid name instead of failing delivery.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogStreamName(String);

impl LogStreamName {
    /// Validates `s` as a stream name, rejecting rather than repairing bad input.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let len = s.chars().count();
        if !(1..=MAX_LEN).contains(&len) {
            return Err(ParseError::new("must be 1 to 512 characters"));
        }
        if s.contains([':', '*']) {
            return Err(ParseError::new("must not contain ':' or '*'"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Makes a valid stream name out of arbitrary text: replaces `:` and `*` with `_`
    /// and cuts the result to 512 bytes on a character boundary. Returns `None` only
    /// for empty input.
    pub fn sanitized(raw: &str) -> Option<Self> {
        let mut name = String::with_capacity(raw.len().min(MAX_LEN));
        for c in raw.chars() {
            let c = if matches!(c, ':' | '*') { '_' } else { c };
            if name.len() + c.len_utf8() > MAX_LEN {
                break;
            }
            name.push(c);
        }
        (!name.is_empty()).then_some(Self(name))
    }
}

string_newtype!(LogStreamName);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_names() {
        let longest = "s".repeat(512);
        let longest_multibyte = "é".repeat(512);
        assert_accepts(
            LogStreamName::parse,
            &[
                "a",
                "prod/checkout/checkout-7d9f-abcde",
                "with spaces",
                "#/.-_+=@[]{}",
                "ünïcødé",
                &longest,
                &longest_multibyte,
            ],
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = "s".repeat(513);
        let length = "must be 1 to 512 characters";
        let forbidden = "must not contain ':' or '*'";
        assert_rejects(
            LogStreamName::parse,
            &[
                ("", length),
                (&too_long, length),
                (":", forbidden),
                ("*", forbidden),
                ("pod:1", forbidden),
                ("logs/*", forbidden),
                ("a:b*c", forbidden),
            ],
        );
    }

    #[test]
    fn sanitized_repairs_arbitrary_text() {
        let long = "x".repeat(600);
        let expected_long = "x".repeat(512);
        // 511 ASCII bytes then a 2-byte char: the char would cross 512 bytes, so it goes.
        let straddling = format!("{}é", "x".repeat(511));
        let expected_straddling = "x".repeat(511);
        let cases: [(&str, Option<&str>); 9] = [
            ("", None),
            ("a", Some("a")),
            (":", Some("_")),
            ("*", Some("_")),
            ("ns:pod*name", Some("ns_pod_name")),
            ("already/valid", Some("already/valid")),
            (&long, Some(&expected_long)),
            (&straddling, Some(&expected_straddling)),
            ("日本:語", Some("日本_語")),
        ];
        for (input, expected) in cases {
            let got = LogStreamName::sanitized(input);
            assert_eq!(
                got.as_ref().map(LogStreamName::as_str),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn sanitized_output_always_parses() {
        let inputs = ["a:b", "*", &"é".repeat(400), &":".repeat(1000)];
        for input in inputs {
            let sanitized = LogStreamName::sanitized(input);
            let reparsed = sanitized.as_ref().map(|name| LogStreamName::parse(name.as_str()));
            assert_eq!(reparsed, sanitized.clone().map(Ok), "input {input:?}");
        }
    }
}

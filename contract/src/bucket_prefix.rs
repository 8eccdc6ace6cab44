//! S3 key prefixes.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Longest prefix accepted, in characters as written: leaves room in S3's 1024-byte key
/// limit for the tenant, date and object name that follow. Counted in characters (not
/// bytes) so that the API document can state the rule exactly (`maxLength`).
const MAX_LEN: usize = 512;

/// Where in the customer's bucket log objects go: empty (the bucket root) or a
/// normalised prefix such as `logs/app/`.
///
/// Normalised on input — no leading `/`, no `//`, exactly one trailing `/` — so keys
/// can be built by plain concatenation and two spellings of one prefix compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketPrefix(String);

impl BucketPrefix {
    /// The rule of [`BucketPrefix::parse`] as an ECMA-262 pattern (with at most
    /// [`BucketPrefix::MAX_CHARS`] characters), for API documents.
    pub const PATTERN: &'static str = r"^(?!(.*/)?\.{1,2}(/|$))[^\u0000-\u001f\u007f-\u009f\\*?$]*$";
    /// Longest prefix, in characters as written.
    pub const MAX_CHARS: usize = MAX_LEN;

    /// Validates and normalises `s`; empty or slashes-only input gives the empty prefix.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.chars().count() > MAX_LEN {
            return Err(ParseError::new("must be at most 512 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError::new("must not contain control characters"));
        }
        if s.contains('\\') {
            return Err(ParseError::new("must not contain '\\'"));
        }
        // The onboarding template scopes the customer role's s3:PutObject to
        // `${BucketPrefix}*`: a wildcard or policy variable in it would widen the grant.
        if s.contains(['*', '?', '$']) {
            return Err(ParseError::new(
                "must not contain '*', '?' or '$' (the customer role's IAM policy is scoped to it)",
            ));
        }
        let segments: Vec<&str> = s.split('/').filter(|seg| !seg.is_empty()).collect();
        if segments.iter().any(|seg| matches!(*seg, "." | "..")) {
            return Err(ParseError::new("must not contain '.' or '..' segments"));
        }
        let prefix: String = segments.iter().flat_map(|seg| [*seg, "/"]).collect();
        Ok(Self(prefix))
    }

    /// True for the bucket root.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

string_newtype!(BucketPrefix);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_parses_to, assert_rejects};

    #[test]
    fn normalises_valid_prefixes() {
        let longest = format!("{}/", "p".repeat(511));
        let slashed_longest = format!("/{}", "p".repeat(511));
        let longest_unslashed = "p".repeat(512);
        let longest_multibyte = "é".repeat(512);
        assert_parses_to(
            BucketPrefix::parse,
            &[
                ("", ""),
                ("/", ""),
                ("///", ""),
                ("logs", "logs/"),
                ("logs/", "logs/"),
                ("/logs", "logs/"),
                ("logs//", "logs/"),
                ("/logs//x/", "logs/x/"),
                ("logs/app", "logs/app/"),
                ("a//b///c", "a/b/c/"),
                ("k8s/prod-eu/2024", "k8s/prod-eu/2024/"),
                ("with space/x", "with space/x/"),
                ("...", ".../"),
                (".hidden/x", ".hidden/x/"),
                ("a.b/c..d", "a.b/c..d/"),
                ("ünïcødé", "ünïcødé/"),
                (&slashed_longest, &longest),
                (&longest_unslashed, &format!("{longest_unslashed}/")),
                (&longest_multibyte, &format!("{longest_multibyte}/")),
            ],
        );
    }

    #[test]
    fn rejects_invalid_prefixes() {
        let too_long = "p".repeat(513);
        let multibyte_too_long = "é".repeat(513);
        let dots = "must not contain '.' or '..' segments";
        let control = "must not contain control characters";
        let wildcard = "must not contain '*', '?' or '$' (the customer role's IAM policy is scoped to it)";
        assert_rejects(
            BucketPrefix::parse,
            &[
                (".", dots),
                ("..", dots),
                ("logs/../x", dots),
                ("logs/./x", dots),
                ("/./", dots),
                ("logs\\x", "must not contain '\\'"),
                ("logs/*", wildcard),
                ("a?b", wildcard),
                ("${aws:username}/", wildcard),
                ("logs\n", control),
                ("logs\tx", control),
                ("\0", control),
                ("a\u{7f}", control),
                ("a\u{85}", control),
                (&too_long, "must be at most 512 characters"),
                (&multibyte_too_long, "must be at most 512 characters"),
            ],
        );
    }

    #[test]
    fn empty_prefix_is_the_default() {
        assert_eq!(BucketPrefix::parse("/"), Ok(BucketPrefix::default()));
        assert!(BucketPrefix::default().is_empty());
    }

    #[test]
    fn serde_stores_the_normalised_form() -> Result<(), serde_json::Error> {
        let prefix: BucketPrefix = serde_json::from_str("\"/logs//app\"")?;
        assert_eq!(serde_json::to_string(&prefix)?, "\"logs/app/\"");
        assert!(serde_json::from_str::<BucketPrefix>("\"../x\"").is_err());
        Ok(())
    }
}

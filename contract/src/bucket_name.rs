//! S3 bucket names.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Prefixes S3 reserves for its own features.
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes S3 reserves for access points, Multi-Region Access Points, directory
/// buckets and table buckets.
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// The customer's S3 general-purpose bucket that receives a tenant's log objects.
///
/// Checked against S3's naming rules so a bucket that cannot exist is refused when the
/// tenant saves it rather than when the worker first writes to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketName(String);

impl BucketName {
    /// The rule of [`BucketName::parse`] as an ECMA-262 pattern, for API documents: the
    /// lookaheads are the reserved prefixes and suffixes, `..`, `.-`/`-.` and IPv4 form.
    pub const PATTERN: &'static str = concat!(
        r"^(?!xn--|sthree-|amzn-s3-demo-)",
        r"(?!.*(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$)",
        r"(?!.*\.\.)(?!.*\.-)(?!.*-\.)",
        r"(?![0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$)",
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    );

    /// Validates `s` against the S3 general-purpose bucket naming rules.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check_shape(s)?;
        check_reserved(s)?;
        Ok(Self(s.to_owned()))
    }
}

/// Length, characters, ends and dot/hyphen placement.
fn check_shape(s: &str) -> Result<(), ParseError> {
    if !(3..=63).contains(&s.chars().count()) {
        return Err(ParseError::new("must be 3 to 63 characters"));
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    if !s.bytes().all(allowed) {
        return Err(ParseError::new(
            "may contain only lowercase letters, digits, '.' and '-'",
        ));
    }
    let alphanumeric = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    if !alphanumeric(s.as_bytes().first()) || !alphanumeric(s.as_bytes().last()) {
        return Err(ParseError::new("must start and end with a letter or digit"));
    }
    if s.contains("..") {
        return Err(ParseError::new("must not contain two adjacent periods"));
    }
    // Not in S3's written rules, but each dot-separated part becomes a DNS label,
    // which cannot start or end with '-'; S3 refuses such names in practice.
    if s.contains(".-") || s.contains("-.") {
        return Err(ParseError::new("must not contain '.-' or '-.'"));
    }
    if looks_like_ipv4(s) {
        return Err(ParseError::new("must not be formatted as an IP address"));
    }
    Ok(())
}

/// Prefixes and suffixes S3 keeps for itself.
fn check_reserved(s: &str) -> Result<(), ParseError> {
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| s.starts_with(*p)) {
        return Err(ParseError::new(format!("must not start with '{prefix}'")));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|p| s.ends_with(*p)) {
        return Err(ParseError::new(format!("must not end with '{suffix}'")));
    }
    Ok(())
}

/// Four dot-separated groups of 1 to 3 digits, like `192.168.5.4`.
fn looks_like_ipv4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

string_newtype!(BucketName);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_names() {
        let longest = "b".repeat(63);
        assert_accepts(
            BucketName::parse,
            &[
                "abc",
                "a1b",
                "123",
                "my-logs",
                "my.logs.bucket",
                "acme-logspoke-eu-west-1",
                "a-b-c",
                "a--b",
                "1.2.3",
                "1.2.3.4.5",
                "1234.1.1.1",
                "192.168.5.a",
                "xn-a",
                "sthree",
                "amzn-s3-demo",
                "bucket-s3alias-x",
                "mrap.bucket",
                "x-s3",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = "b".repeat(64);
        let length = "must be 3 to 63 characters";
        let chars = "may contain only lowercase letters, digits, '.' and '-'";
        let ends = "must start and end with a letter or digit";
        let ip = "must not be formatted as an IP address";
        let adjacency = "must not contain '.-' or '-.'";
        assert_rejects(
            BucketName::parse,
            &[
                ("", length),
                ("ab", length),
                (&too_long, length),
                ("My-Bucket", chars),
                ("my_bucket", chars),
                ("my bucket", chars),
                ("my/bucket", chars),
                ("bücket", chars),
                ("-bucket", ends),
                ("bucket-", ends),
                (".bucket", ends),
                ("bucket.", ends),
                ("my..bucket", "must not contain two adjacent periods"),
                ("my.-bucket", adjacency),
                ("my-.bucket", adjacency),
                ("192.168.5.4", ip),
                ("10.0.0.1", ip),
                ("999.999.999.999", ip),
                ("xn--bucket", "must not start with 'xn--'"),
                ("sthree-bucket", "must not start with 'sthree-'"),
                ("sthree-configurator", "must not start with 'sthree-'"),
                ("amzn-s3-demo-bucket", "must not start with 'amzn-s3-demo-'"),
                ("bucket-s3alias", "must not end with '-s3alias'"),
                ("bucket--ol-s3", "must not end with '--ol-s3'"),
                ("bucket.mrap", "must not end with '.mrap'"),
                ("bucket--use1-az4--x-s3", "must not end with '--x-s3'"),
                ("bucket--table-s3", "must not end with '--table-s3'"),
            ],
        );
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let name: BucketName = serde_json::from_str("\"acme-logs\"")?;
        assert_eq!(serde_json::to_string(&name)?, "\"acme-logs\"");
        assert!(serde_json::from_str::<BucketName>("\"Acme\"").is_err());
        Ok(())
    }
}

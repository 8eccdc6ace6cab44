//! The identifier of a collected Kubernetes/OpenShift cluster.

use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Longest cluster id, in characters: the longest key segment the collector writes.
pub const MAX_CLUSTER_ID_CHARS: usize = 253;

/// Names one collected cluster: the second segment of every staged key, and the unit
/// the control plane registers for a tenant. The worker delivers an object only when
/// its `{tenant_id}/{cluster_id}` pair is registered, so a pod in one cluster cannot
/// have its output delivered to a tenant that never registered that cluster.
///
/// The rule is the collector's own segment check
/// (`^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$`): 1 to 253 ASCII letters, digits,
/// `.`, `_` and `-`, starting and ending with a letter or digit. That covers EKS
/// cluster names, OpenShift/ROSA cluster ids (32 lowercase characters) and DNS names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterId(String);

impl ClusterId {
    /// Validates `s` as a cluster id.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if s.len() > MAX_CLUSTER_ID_CHARS {
            return Err(ParseError::new(format!(
                "must be at most {MAX_CLUSTER_ID_CHARS} characters"
            )));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ParseError::new(
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        if !edge_ok(s.bytes().next()) || !edge_ok(s.bytes().last()) {
            return Err(ParseError::new("must start and end with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(ClusterId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_cluster_names_and_ids() {
        let longest = "c".repeat(MAX_CLUSTER_ID_CHARS);
        assert_accepts(
            ClusterId::parse,
            &[
                "c",
                "prod-eu-1",
                "Prod_EU.1",
                "2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d",
                "cluster.example.com",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_what_is_not_a_key_segment() {
        let too_long = "c".repeat(MAX_CLUSTER_ID_CHARS + 1);
        let chars = "may contain only letters, digits, '.', '_' and '-'";
        let edges = "must start and end with a letter or digit";
        assert_rejects(
            ClusterId::parse,
            &[
                ("", "must not be empty"),
                (&too_long, "must be at most 253 characters"),
                ("a/b", chars),
                ("a b", chars),
                ("clusté", chars),
                ("c*", chars),
                ("-prod", edges),
                ("prod.", edges),
                ("_", edges),
            ],
        );
    }

    #[test]
    fn serde_goes_through_parse() -> Result<(), serde_json::Error> {
        let id: ClusterId = serde_json::from_str("\"prod-eu-1\"")?;
        assert_eq!(serde_json::to_string(&id)?, "\"prod-eu-1\"");
        assert!(serde_json::from_str::<ClusterId>("\"a/b\"").is_err());
        Ok(())
    }
}

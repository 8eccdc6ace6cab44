//! Kubernetes namespace names.

use crate::dns_label;
use crate::newtype::string_newtype;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// The Kubernetes namespace a pod ran in: a segment of every staged key written since
/// the namespace joined the layout, and a scope a tenant may put on a `desired_logs`
/// entry.
///
/// Unlike a pod's labels, the namespace is not the workload's to choose: a pod runs in
/// the namespace it was created in, and namespaces are created by the cluster's
/// administrators. So a stream or an allow-list entry that names a namespace holds only
/// that namespace's pods. The rule is Kubernetes' own for namespace names (an RFC 1123
/// DNS label): 1 to 63 characters of `[a-z0-9-]`, starting and ending with a letter or
/// digit; a name no namespace could have is refused when it is saved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespaceName(String);

impl NamespaceName {
    /// The rule of [`NamespaceName::parse`] as an ECMA-262 pattern, for API documents.
    pub const PATTERN: &'static str = dns_label::PATTERN;

    /// Validates `s` as a Kubernetes namespace name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        dns_label::check(s)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(NamespaceName);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_kubernetes_namespace_names() {
        let longest = "n".repeat(63);
        assert_accepts(
            NamespaceName::parse,
            &[
                "a",
                "7",
                "prod",
                "kube-system",
                "team-42",
                "a--b",
                "0x0",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_names_no_namespace_could_have() {
        let too_long = "n".repeat(64);
        let chars = "may contain only lowercase letters, digits and '-'";
        let ends = "must start and end with a lowercase letter or digit";
        assert_rejects(
            NamespaceName::parse,
            &[
                ("", "must not be empty"),
                (&too_long, "must be at most 63 characters"),
                ("Prod", chars),
                ("prod.eu", chars),
                ("prod_eu", chars),
                ("prod/eu", chars),
                ("prod eu", chars),
                ("prød", chars),
                ("-prod", ends),
                ("prod-", ends),
                ("-", ends),
            ],
        );
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let name: NamespaceName = serde_json::from_str("\"prod\"")?;
        assert_eq!(serde_json::to_string(&name)?, "\"prod\"");
        assert!(serde_json::from_str::<NamespaceName>("\"Prod\"").is_err());
        Ok(())
    }
}

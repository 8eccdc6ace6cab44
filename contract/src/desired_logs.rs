//! Which pods' logs a tenant wants delivered.

use std::fmt;

use crate::{ApplicationName, NamespaceName, ParseError};
use serde::{Deserialize, Serialize};

/// The logs a delivery config forwards; empty means all of them.
///
/// Each entry is either `application` or `namespace/application`. What an entry proves
/// follows from who sets what: the `application` label is chosen by whoever runs the
/// pod, so a bare `application` entry admits that label from *any* namespace of the
/// tenant (any pod can claim it); the namespace is set from Kubernetes metadata, so a
/// `namespace/application` entry admits only pods of that namespace. Objects staged
/// before the namespace joined the key have no known namespace: only bare entries
/// select them.
///
/// Validated and de-duplicated on input so the worker's per-record filter is a plain
/// lookup, and capped so a config stays small.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct DesiredLogs(Vec<DesiredLog>);

/// One entry of [`DesiredLogs`]: an application, optionally confined to a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DesiredLog {
    namespace: Option<NamespaceName>,
    application: ApplicationName,
}

impl DesiredLog {
    /// The rule of [`DesiredLog::parse`] as an ECMA-262 pattern, for API documents: an
    /// optional namespace name and `/`, then an application name.
    pub const PATTERN: &'static str =
        "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$";

    /// Validates `s` as `application` or `namespace/application`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let Some((namespace, application)) = s.split_once('/') else {
            return Ok(Self {
                namespace: None,
                application: ApplicationName::parse(s)?,
            });
        };
        if application.contains('/') {
            return Err(ParseError::new(
                "may contain at most one '/', between a namespace and an application",
            ));
        }
        let namespace = NamespaceName::parse(namespace)
            .map_err(|e| ParseError::new(format!("the namespace before '/' {}", e.message)))?;
        let application = ApplicationName::parse(application)
            .map_err(|e| ParseError::new(format!("the application after '/' {}", e.message)))?;
        Ok(Self {
            namespace: Some(namespace),
            application,
        })
    }

    /// The namespace the entry is confined to; `None` admits every namespace.
    pub fn namespace(&self) -> Option<&NamespaceName> {
        self.namespace.as_ref()
    }

    /// The application label the entry admits.
    pub fn application(&self) -> &ApplicationName {
        &self.application
    }

    /// Whether a pod of `namespace` (`None`: unknown, an object staged before the
    /// namespace joined the key) labelled `application` matches this entry.
    fn matches(&self, namespace: Option<&str>, application: &str) -> bool {
        self.application.as_str() == application
            && self
                .namespace
                .as_ref()
                .is_none_or(|wanted| namespace == Some(wanted.as_str()))
    }
}

impl fmt::Display for DesiredLog {
    /// Writes the entry back as it is stored and returned by the API.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.application),
            None => write!(f, "{}", self.application),
        }
    }
}

impl DesiredLogs {
    /// Most entries a list may have (counted before duplicates are removed).
    pub const MAX_ENTRIES: usize = 100;

    /// Validates each entry as a [`DesiredLog`] and removes duplicates, keeping the
    /// first occurrence. Errors name the zero-based index of the bad entry.
    pub fn parse(items: &[String]) -> Result<Self, ParseError> {
        if items.len() > Self::MAX_ENTRIES {
            return Err(ParseError::new("must have at most 100 entries"));
        }
        let mut entries: Vec<DesiredLog> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let entry = DesiredLog::parse(item).map_err(|e| e.in_entry(index))?;
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Ok(Self(entries))
    }

    /// Whether logs of a pod in `namespace` (`None` when the object's key has none)
    /// labelled `application` should be delivered: some entry names the application
    /// (exact, case-sensitive) and either no namespace or this one; always when the list
    /// is empty.
    pub fn allows(&self, namespace: Option<&str>, application: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|entry| entry.matches(namespace, application))
    }

    /// The entries, in the order first given.
    pub fn as_slice(&self) -> &[DesiredLog] {
        &self.0
    }

    /// The entries as strings, the form Postgres stores and the API returns.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(DesiredLog::to_string).collect()
    }

    /// True when every application is wanted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for DesiredLogs {
    type Error = ParseError;

    fn try_from(value: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DesiredLogs> for Vec<String> {
    fn from(value: DesiredLogs) -> Self {
        value.to_strings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn parsed(items: &[&str]) -> Result<Vec<String>, String> {
        DesiredLogs::parse(&strings(items))
            .map(Vec::from)
            .map_err(|e| e.message)
    }

    #[test]
    fn accepts_and_deduplicates_lists() {
        let cases: [(&[&str], &[&str]); 9] = [
            (&[], &[]),
            (&["checkout"], &["checkout"]),
            (&["prod/checkout"], &["prod/checkout"]),
            (
                &["prod/checkout", "checkout", "prod/checkout"],
                &["prod/checkout", "checkout"],
            ),
            (
                &["prod/checkout", "dev/checkout"],
                &["prod/checkout", "dev/checkout"],
            ),
            (&["a", "b", "c"], &["a", "b", "c"]),
            (&["b", "a", "b", "a"], &["b", "a"]),
            (&["x", "x", "x"], &["x"]),
            (&["App", "app"], &["App", "app"]),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input), Ok(strings(expected)), "input {input:?}");
        }
    }

    #[test]
    fn accepts_exactly_the_maximum() {
        let items: Vec<String> = (0..100).map(|i| format!("app{i}")).collect();
        let got = DesiredLogs::parse(&items).map(|logs| logs.as_slice().len());
        assert_eq!(got, Ok(100));
    }

    #[test]
    fn rejects_invalid_lists_naming_the_entry() {
        let cases: [(&[&str], &str); 11] = [
            (&[""], "entry 0: must not be empty"),
            (&["a", "b", "c", ""], "entry 3: must not be empty"),
            (
                &["ok", "-bad"],
                "entry 1: must start and end with a letter or digit",
            ),
            (
                &["ok", "ok", "no spaces"],
                "entry 2: may contain only letters, digits, '.', '_' and '-'",
            ),
            (
                &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "a/b/c"],
                "entry 10: may contain at most one '/', between a namespace and an application",
            ),
            (&["/app"], "entry 0: the namespace before '/' must not be empty"),
            (&["prod/"], "entry 0: the application after '/' must not be empty"),
            (
                &["Prod/app"],
                "entry 0: the namespace before '/' may contain only lowercase letters, digits and '-'",
            ),
            (
                &["ok", "prod_eu/app"],
                "entry 1: the namespace before '/' may contain only lowercase letters, digits and '-'",
            ),
            (
                &["-prod/app"],
                "entry 0: the namespace before '/' must start and end with a lowercase letter or digit",
            ),
            (
                &["prod/app:1"],
                "entry 0: the application after '/' may contain only letters, digits, '.', '_' and '-'",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(parsed(input), Err(message.to_owned()), "input {input:?}");
        }
    }

    #[test]
    fn rejects_more_than_the_maximum_even_with_duplicates() {
        let items = vec!["app".to_owned(); 101];
        let got = DesiredLogs::parse(&items).map_err(|e| e.message);
        assert_eq!(got, Err("must have at most 100 entries".to_owned()));
    }

    #[test]
    fn allows_listed_applications_or_everything_when_empty() {
        let cases: [(&[&str], &str, bool); 7] = [
            (&[], "anything", true),
            (&[], "", true),
            (&["checkout"], "checkout", true),
            (&["checkout"], "Checkout", false),
            (&["checkout"], "checkout-v2", false),
            (&["checkout", "cart"], "cart", true),
            (&["checkout"], "", false),
        ];
        for (list, application, expected) in cases {
            let allows =
                DesiredLogs::parse(&strings(list)).map(|logs| logs.allows(Some("prod"), application));
            assert_eq!(allows, Ok(expected), "list {list:?}, application {application:?}");
        }
    }

    /// A bare application admits that label from any namespace: any pod may carry it.
    #[test]
    fn an_application_entry_admits_every_namespace_and_keys_without_one() {
        let logs = DesiredLogs::parse(&strings(&["payments"])).unwrap();
        assert!(logs.allows(Some("prod"), "payments"));
        assert!(logs.allows(Some("sandbox"), "payments"));
        assert!(logs.allows(None, "payments"));
    }

    /// A pod chooses its application label but not its namespace.
    #[test]
    fn a_namespaced_entry_admits_only_its_namespace() {
        let logs = DesiredLogs::parse(&strings(&["prod/payments"])).unwrap();
        assert!(logs.allows(Some("prod"), "payments"));
        assert!(!logs.allows(Some("sandbox"), "payments"));
        assert!(!logs.allows(Some("prod"), "checkout"));
        assert!(!logs.allows(Some("prod-2"), "payments"));
    }

    /// An object staged before the namespace joined the key may come from any namespace.
    #[test]
    fn a_namespaced_entry_does_not_admit_keys_without_a_namespace() {
        let logs = DesiredLogs::parse(&strings(&["prod/payments"])).unwrap();
        assert!(!logs.allows(None, "payments"));
        let both = DesiredLogs::parse(&strings(&["prod/payments", "checkout"])).unwrap();
        assert!(!both.allows(None, "payments"));
        assert!(both.allows(None, "checkout"));
    }

    #[test]
    fn serde_is_a_json_array_through_parse() -> Result<(), serde_json::Error> {
        let logs: DesiredLogs = serde_json::from_str(r#"["a","ns/b","a"]"#)?;
        assert_eq!(serde_json::to_string(&logs)?, r#"["a","ns/b"]"#);
        assert!(serde_json::from_str::<DesiredLogs>(r#"["ok",""]"#).is_err());
        assert_eq!(serde_json::from_str::<DesiredLogs>("[]")?, DesiredLogs::default());
        Ok(())
    }
}

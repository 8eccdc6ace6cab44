//! Which applications' logs a tenant wants delivered.

use crate::{ApplicationName, ParseError};
use serde::{Deserialize, Serialize};

/// The applications whose logs a delivery config forwards; empty means all of them.
///
/// Validated and de-duplicated on input so the worker's per-record filter is a plain
/// lookup, and capped so a config stays small.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct DesiredLogs(Vec<ApplicationName>);

impl DesiredLogs {
    /// Most entries a list may have (counted before duplicates are removed).
    pub const MAX_ENTRIES: usize = 100;

    /// Validates each entry as an [`ApplicationName`] and removes duplicates, keeping
    /// the first occurrence. Errors name the zero-based index of the bad entry.
    pub fn parse(items: &[String]) -> Result<Self, ParseError> {
        if items.len() > Self::MAX_ENTRIES {
            return Err(ParseError::new("must have at most 100 entries"));
        }
        let mut names: Vec<ApplicationName> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let name = ApplicationName::parse(item).map_err(|e| e.in_entry(index))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(Self(names))
    }

    /// Whether logs from `application` should be delivered: an exact, case-sensitive
    /// match, or always when the list is empty.
    pub fn allows(&self, application: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|name| name.as_str() == application)
    }

    /// The listed applications, in the order first given.
    pub fn as_slice(&self) -> &[ApplicationName] {
        &self.0
    }

    /// The listed applications as strings, the form Postgres stores and the API returns.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|name| name.as_str().to_owned()).collect()
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
        value.0.into_iter().map(String::from).collect()
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
        let cases: [(&[&str], &[&str]); 6] = [
            (&[], &[]),
            (&["checkout"], &["checkout"]),
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
        let cases: [(&[&str], &str); 5] = [
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
                &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "a/b"],
                "entry 10: may contain only letters, digits, '.', '_' and '-'",
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
            let allows = DesiredLogs::parse(&strings(list)).map(|logs| logs.allows(application));
            assert_eq!(allows, Ok(expected), "list {list:?}, application {application:?}");
        }
    }

    #[test]
    fn serde_is_a_json_array_through_parse() -> Result<(), serde_json::Error> {
        let logs: DesiredLogs = serde_json::from_str(r#"["a","b","a"]"#)?;
        assert_eq!(serde_json::to_string(&logs)?, r#"["a","b"]"#);
        assert!(serde_json::from_str::<DesiredLogs>(r#"["ok",""]"#).is_err());
        assert_eq!(serde_json::from_str::<DesiredLogs>("[]")?, DesiredLogs::default());
        Ok(())
    }
}

//! Which log lines a delivery config delivers: include and exclude rules over the fields
//! every staged line carries.
//!
//! A line is delivered when no `include` rule is given or at least one matches, and no
//! `exclude` rule matches. A rule names one field and one way to match it:
//!
//! - fields: `namespace`, `application`, `pod` (from the staged object's key, set by the
//!   collector from Kubernetes metadata), `container` (per line) and `message`;
//! - `equals` (the whole value), `contains` (a substring) or `regex` (Rust `regex`
//!   syntax, found anywhere in the value unless anchored).
//!
//! Regular expressions run in time linear in the input (the `regex` crate has no
//! backtracking), and are bounded when compiled: a pattern of at most
//! [`MAX_PATTERN_BYTES`], a compiled program of at most [`MAX_REGEX_BYTES`]. At most
//! [`MAX_RULES`] rules in each of `include` and `exclude`. A line without a `container` (or an object key without a
//! namespace, from the release before it joined the key) matches no rule on that field.
//!
//! The filter travels as a JSON object (`{"include": [...], "exclude": [...]}`) in the
//! API's documents and in the read-model item; parsing validates every rule and names
//! the rule a problem is in (`include[2].regex`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Rules in each of `include` and `exclude`, at most.
pub const MAX_RULES: usize = 10;
/// Longest pattern of a rule, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Largest compiled regular expression, in bytes (the `regex` crate's size limit).
pub const MAX_REGEX_BYTES: usize = 64 * 1024;

/// A field of a staged line that a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterField {
    /// The pod's namespace.
    Namespace,
    /// The pod's `application` label (its container's name without one).
    Application,
    /// The container that wrote the line.
    Container,
    /// The pod's name.
    Pod,
    /// The log line's text.
    Message,
}

impl FilterField {
    /// The field's name in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespace => "namespace",
            Self::Application => "application",
            Self::Container => "container",
            Self::Pod => "pod",
            Self::Message => "message",
        }
    }
}

/// One rule as written: a field and exactly one of `equals`, `contains`, `regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRuleSpec {
    /// The field the rule looks at.
    pub field: Option<FilterField>,
    /// Matches when the field is exactly this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// Matches when the field contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Matches when this regular expression (Rust `regex` syntax, linear time) is found
    /// in the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A filter as written: the rules of [`Filter`] before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Lines to deliver: when any rule is given, only lines matching at least one.
    #[serde(default)]
    pub include: Vec<FilterRuleSpec>,
    /// Lines never to deliver: those matching any rule.
    #[serde(default)]
    pub exclude: Vec<FilterRuleSpec>,
}

/// Why a filter was refused, and where: `path` names the rule and its part
/// (`include[2].regex`), empty for the filter as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Where in the filter.
    pub path: String,
    /// What is wrong, safe to return to the caller.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FilterError {}

/// How a rule matches.
#[derive(Clone, Debug)]
enum Matcher {
    Equals(String),
    Contains(String),
    Regex(regex::Regex),
}

/// A validated rule.
#[derive(Clone, Debug)]
struct Rule {
    field: FilterField,
    matcher: Matcher,
}

impl Rule {
    fn parse(spec: &FilterRuleSpec, at: &str) -> Result<Self, FilterError> {
        let bad = |part: &str, message: String| FilterError {
            path: if part.is_empty() {
                at.to_owned()
            } else {
                format!("{at}.{part}")
            },
            message,
        };
        let field = spec.field.ok_or_else(|| {
            bad(
                "field",
                "is required: namespace, application, container, pod or message".into(),
            )
        })?;
        let given = [
            ("equals", &spec.equals),
            ("contains", &spec.contains),
            ("regex", &spec.regex),
        ];
        let mut set = given
            .iter()
            .filter_map(|(name, value)| Some((*name, value.as_deref()?)));
        let (Some((kind, pattern)), None) = (set.next(), set.next()) else {
            return Err(bad("", "give exactly one of equals, contains or regex".into()));
        };
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(bad(
                kind,
                format!("is {} bytes long; at most {MAX_PATTERN_BYTES}", pattern.len()),
            ));
        }
        if pattern.is_empty() && kind != "equals" {
            return Err(bad(kind, "must not be empty (it would match every line)".into()));
        }
        let matcher = match kind {
            "equals" => Matcher::Equals(pattern.to_owned()),
            "contains" => Matcher::Contains(pattern.to_owned()),
            _ => Matcher::Regex(compile(pattern).map_err(|message| bad(kind, message))?),
        };
        Ok(Self { field, matcher })
    }

    fn spec(&self) -> FilterRuleSpec {
        let mut spec = FilterRuleSpec {
            field: Some(self.field),
            ..FilterRuleSpec::default()
        };
        match &self.matcher {
            Matcher::Equals(s) => spec.equals = Some(s.clone()),
            Matcher::Contains(s) => spec.contains = Some(s.clone()),
            Matcher::Regex(r) => spec.regex = Some(r.as_str().to_owned()),
        }
        spec
    }

    fn matches(&self, line: &LineFields<'_>) -> bool {
        let Some(value) = line.get(self.field) else {
            return false;
        };
        match &self.matcher {
            Matcher::Equals(s) => value == s,
            Matcher::Contains(s) => value.contains(s.as_str()),
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

/// Compiles a rule's regular expression within the size bounds.
fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|err| match err {
            regex::Error::CompiledTooBig(_) => {
                format!("compiles to more than {MAX_REGEX_BYTES} bytes; simplify it")
            }
            other => format!(
                "is not a valid regular expression: {}",
                first_line(&other.to_string())
            ),
        })
}

/// The last line of the regex crate's multi-line message (the reason, without the
/// pattern drawn above it).
fn first_line(message: &str) -> String {
    message.lines().last().unwrap_or(message).trim().to_owned()
}

/// The fields of one staged line a filter looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineFields<'a> {
    /// From the object key; `None` for a key of the release before the namespace.
    pub namespace: Option<&'a str>,
    /// From the object key.
    pub application: &'a str,
    /// From the line; `None` when it has none.
    pub container: Option<&'a str>,
    /// From the object key.
    pub pod: &'a str,
    /// The line's text.
    pub message: &'a str,
}

impl<'a> LineFields<'a> {
    fn get(&self, field: FilterField) -> Option<&'a str> {
        match field {
            FilterField::Namespace => self.namespace,
            FilterField::Application => Some(self.application),
            FilterField::Container => self.container,
            FilterField::Pod => Some(self.pod),
            FilterField::Message => Some(self.message),
        }
    }
}

/// A validated filter; the default delivers every line.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    include: Vec<Rule>,
    exclude: Vec<Rule>,
}

impl Filter {
    /// Validates a filter as written; each problem names the rule it is in.
    pub fn parse(spec: &FilterSpec) -> Result<Self, FilterError> {
        let parse = |list: &[FilterRuleSpec], name: &str| {
            if list.len() > MAX_RULES {
                return Err(FilterError {
                    path: name.to_owned(),
                    message: format!("has {} rules; at most {MAX_RULES}", list.len()),
                });
            }
            list.iter()
                .enumerate()
                .map(|(i, rule)| Rule::parse(rule, &format!("{name}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: parse(&spec.include, "include")?,
            exclude: parse(&spec.exclude, "exclude")?,
        })
    }

    /// The filter as written (what `parse` took, normalised).
    pub fn spec(&self) -> FilterSpec {
        FilterSpec {
            include: self.include.iter().map(Rule::spec).collect(),
            exclude: self.exclude.iter().map(Rule::spec).collect(),
        }
    }

    /// True when it delivers every line (no rule at all).
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether some rule looks at a field that differs from line to line (`container`,
    /// `message`); when none does, [`Filter::keeps_object`] decides for a whole object.
    pub fn looks_into_lines(&self) -> bool {
        self.rules()
            .any(|rule| matches!(rule.field, FilterField::Container | FilterField::Message))
    }

    /// Whether some rule looks at `container` (the reader then extracts it per line).
    pub fn needs_container(&self) -> bool {
        self.rules().any(|rule| rule.field == FilterField::Container)
    }

    /// Whether the line is delivered.
    pub fn keeps(&self, line: &LineFields<'_>) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.matches(line)))
            && !self.exclude.iter().any(|r| r.matches(line))
    }

    /// For a filter that does not [look into lines](Filter::looks_into_lines): whether
    /// the object's lines are all delivered (`true`) or none (`false`). `None` when the
    /// answer depends on each line.
    pub fn keeps_object(&self, namespace: Option<&str>, application: &str, pod: &str) -> Option<bool> {
        if self.looks_into_lines() {
            return None;
        }
        Some(self.keeps(&LineFields {
            namespace,
            application,
            container: None,
            pod,
            message: "",
        }))
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.include.iter().chain(&self.exclude)
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.spec() == other.spec()
    }
}

impl Eq for Filter {}

impl Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.spec().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = FilterSpec::deserialize(deserializer)?;
        Self::parse(&spec).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(field: FilterField, kind: &str, pattern: &str) -> FilterRuleSpec {
        let mut spec = FilterRuleSpec {
            field: Some(field),
            ..FilterRuleSpec::default()
        };
        let value = Some(pattern.to_owned());
        match kind {
            "equals" => spec.equals = value,
            "contains" => spec.contains = value,
            _ => spec.regex = value,
        }
        spec
    }

    fn line<'a>(container: Option<&'a str>, message: &'a str) -> LineFields<'a> {
        LineFields {
            namespace: Some("payments"),
            application: "checkout",
            container,
            pod: "checkout-7d9f-x2",
            message,
        }
    }

    #[test]
    fn no_rules_deliver_every_line() {
        let filter = Filter::parse(&FilterSpec::default()).unwrap();
        assert!(filter.is_empty());
        assert!(filter.keeps(&line(None, "anything")));
        assert_eq!(filter.keeps_object(None, "a", "p"), Some(true));
    }

    #[test]
    fn a_line_is_delivered_when_an_include_matches_and_no_exclude_does() {
        let filter = Filter::parse(&FilterSpec {
            include: vec![
                rule(FilterField::Message, "regex", r"^(ERROR|WARN)\b"),
                rule(FilterField::Container, "equals", "audit"),
            ],
            exclude: vec![rule(FilterField::Message, "contains", "healthz")],
        })
        .unwrap();
        assert!(filter.keeps(&line(Some("app"), "ERROR payment declined")));
        assert!(filter.keeps(&line(Some("audit"), "INFO user logged in")));
        assert!(!filter.keeps(&line(Some("app"), "INFO all good")));
        assert!(!filter.keeps(&line(Some("app"), "WARN GET /healthz slow")));
        assert!(filter.looks_into_lines());
        assert!(filter.needs_container());
        assert_eq!(filter.keeps_object(Some("payments"), "checkout", "p"), None);
    }

    #[test]
    fn rules_on_the_objects_fields_decide_for_the_whole_object() {
        let filter = Filter::parse(&FilterSpec {
            include: vec![rule(FilterField::Namespace, "equals", "payments")],
            exclude: vec![rule(FilterField::Pod, "regex", "^canary-")],
        })
        .unwrap();
        assert!(!filter.looks_into_lines());
        assert_eq!(filter.keeps_object(Some("payments"), "web", "web-1"), Some(true));
        assert_eq!(
            filter.keeps_object(Some("payments"), "web", "canary-1"),
            Some(false)
        );
        assert_eq!(filter.keeps_object(Some("sandbox"), "web", "web-1"), Some(false));
        // A key without a namespace matches no namespace rule.
        assert_eq!(filter.keeps_object(None, "web", "web-1"), Some(false));
    }

    #[test]
    fn a_line_without_a_container_matches_no_container_rule() {
        let filter = Filter::parse(&FilterSpec {
            exclude: vec![rule(FilterField::Container, "equals", "istio-proxy")],
            ..FilterSpec::default()
        })
        .unwrap();
        assert!(filter.keeps(&line(None, "x")));
        assert!(!filter.keeps(&line(Some("istio-proxy"), "x")));
    }

    #[test]
    fn each_problem_names_the_rule_and_part_it_is_in() {
        let error = |spec: FilterSpec| Filter::parse(&spec).unwrap_err();
        let bad_regex = error(FilterSpec {
            exclude: vec![
                rule(FilterField::Pod, "equals", "x"),
                rule(FilterField::Message, "regex", "(unclosed"),
            ],
            ..FilterSpec::default()
        });
        assert_eq!(bad_regex.path, "exclude[1].regex");
        assert!(
            bad_regex.message.starts_with("is not a valid regular expression"),
            "{bad_regex}"
        );

        let two = FilterRuleSpec {
            equals: Some("a".into()),
            ..rule(FilterField::Pod, "contains", "b")
        };
        let both = error(FilterSpec {
            include: vec![two],
            ..FilterSpec::default()
        });
        assert_eq!(
            (both.path.as_str(), both.message.as_str()),
            ("include[0]", "give exactly one of equals, contains or regex")
        );

        let no_field = error(FilterSpec {
            include: vec![FilterRuleSpec {
                contains: Some("x".into()),
                ..FilterRuleSpec::default()
            }],
            ..FilterSpec::default()
        });
        assert_eq!(no_field.path, "include[0].field");

        let empty = error(FilterSpec {
            include: vec![rule(FilterField::Message, "contains", "")],
            ..FilterSpec::default()
        });
        assert_eq!(empty.path, "include[0].contains");
    }

    #[test]
    fn rules_patterns_and_compiled_regexes_are_bounded() {
        let many = FilterSpec {
            include: vec![rule(FilterField::Pod, "equals", "p"); MAX_RULES + 1],
            ..FilterSpec::default()
        };
        assert_eq!(Filter::parse(&many).unwrap_err().path, "include");
        assert!(Filter::parse(&FilterSpec {
            include: vec![rule(FilterField::Pod, "equals", "p"); MAX_RULES],
            ..FilterSpec::default()
        })
        .is_ok());

        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        let too_long = Filter::parse(&FilterSpec {
            include: vec![rule(FilterField::Message, "contains", &long)],
            ..FilterSpec::default()
        })
        .unwrap_err();
        assert_eq!(too_long.path, "include[0].contains");

        // Short, but a huge program once its counted repetitions are unrolled.
        let huge = Filter::parse(&FilterSpec {
            include: vec![rule(FilterField::Message, "regex", r"(\w{100}){100}")],
            ..FilterSpec::default()
        })
        .unwrap_err();
        assert!(huge.message.contains("compiles to more than"), "{huge}");
    }

    #[test]
    fn a_pathological_pattern_runs_in_linear_time() {
        // Exponential for a backtracking engine on this input; linear here.
        let filter = Filter::parse(&FilterSpec {
            include: vec![rule(FilterField::Message, "regex", r"^(a+)+$")],
            ..FilterSpec::default()
        })
        .unwrap();
        let input = format!("{}b", "a".repeat(10_000));
        assert!(!filter.keeps(&line(None, &input)));
    }

    #[test]
    fn it_travels_as_the_json_it_was_written_in() {
        let json = r#"{"include":[{"field":"namespace","equals":"payments"}],"exclude":[{"field":"message","regex":"^DEBUG"}]}"#;
        let filter: Filter = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&filter).unwrap(), json);
        assert_eq!(filter, serde_json::from_str::<Filter>(json).unwrap());
        let refused = serde_json::from_str::<Filter>(r#"{"include":[{"field":"message","regex":"("}]}"#);
        assert!(refused.unwrap_err().to_string().contains("include[0].regex"));
        assert!(serde_json::from_str::<Filter>(r#"{"include":[],"other":1}"#).is_err());
    }
}

//! Templates for CloudWatch Logs stream names.

use crate::error::quoted;
use crate::newtype::str_conversions;
use crate::{LogStreamName, ParseError, TenantId};
use serde::{Deserialize, Serialize};

/// Longest template accepted, matching the longest stream name.
const MAX_LEN: usize = 512;
/// The placeholders, as listed in error messages.
const ALLOWED: &str = "{cluster_id}, {application}, {pod_name}, {tenant_id}";

/// How the worker names the stream for a pod's logs, e.g.
/// `{cluster_id}/{application}/{pod_name}`.
///
/// Checked when the tenant saves it so a typo in a placeholder is reported then, not
/// silently written into every stream name. Placeholders: `{cluster_id}`,
/// `{application}`, `{pod_name}`, `{tenant_id}`; literal text must not contain `:` or
/// `*` (substituted values are sanitized instead).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogStreamTemplate {
    template: String,
    parts: Vec<Part>,
}

/// A piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Literal(String),
    Placeholder(Placeholder),
}

/// The values a template can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Placeholder {
    ClusterId,
    Application,
    PodName,
    TenantId,
}

impl Placeholder {
    /// Looks up the name written between braces.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "cluster_id" => Some(Self::ClusterId),
            "application" => Some(Self::Application),
            "pod_name" => Some(Self::PodName),
            "tenant_id" => Some(Self::TenantId),
            _ => None,
        }
    }
}

impl LogStreamTemplate {
    /// The rule of [`LogStreamTemplate::parse`] as an ECMA-262 pattern (with a length of
    /// 1 to 512 characters), for API documents.
    pub const PATTERN: &'static str = r"^([^:*{}]|\{(cluster_id|application|pod_name|tenant_id)\})+$";
    /// Longest template, in characters.
    pub const MAX_CHARS: usize = MAX_LEN;

    /// The template used when a tenant does not set one.
    pub const DEFAULT: &'static str = "{cluster_id}/{application}/{pod_name}";

    /// Validates `s` as a stream name template.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let len = s.chars().count();
        if !(1..=MAX_LEN).contains(&len) {
            return Err(ParseError::new("must be 1 to 512 characters"));
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let (part, tail) = next_part(rest)?;
            parts.push(part);
            rest = tail;
        }
        Ok(Self {
            template: s.to_owned(),
            parts,
        })
    }

    /// The template as the tenant wrote it.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// Fills in the placeholders and sanitizes the result into a stream name; `None`
    /// when the result is empty (e.g. `{pod_name}` with an empty pod name).
    pub fn render(
        &self,
        tenant_id: &TenantId,
        cluster_id: &str,
        application: &str,
        pod_name: &str,
    ) -> Option<LogStreamName> {
        let mut name = String::new();
        for part in &self.parts {
            name.push_str(match part {
                Part::Literal(text) => text,
                Part::Placeholder(Placeholder::ClusterId) => cluster_id,
                Part::Placeholder(Placeholder::Application) => application,
                Part::Placeholder(Placeholder::PodName) => pod_name,
                Part::Placeholder(Placeholder::TenantId) => tenant_id.as_str(),
            });
        }
        LogStreamName::sanitized(&name)
    }
}

/// Splits the first part (a literal run or one placeholder) off a non-empty template.
fn next_part(template: &str) -> Result<(Part, &str), ParseError> {
    if let Some(after_brace) = template.strip_prefix('{') {
        return placeholder(after_brace);
    }
    let end = template.find(['{', '}']).unwrap_or(template.len());
    let (literal, tail) = template.split_at(end);
    if tail.starts_with('}') {
        return Err(ParseError::new("has a '}' without a matching '{'"));
    }
    if literal.contains([':', '*']) {
        return Err(ParseError::new(
            "must not contain ':' or '*' outside placeholders",
        ));
    }
    Ok((Part::Literal(literal.to_owned()), tail))
}

/// Reads `name}` after a `{` and resolves the placeholder name.
fn placeholder(after_brace: &str) -> Result<(Part, &str), ParseError> {
    let unclosed = || ParseError::new("has a '{' without a matching '}'");
    let (name, tail) = after_brace.split_once('}').ok_or_else(unclosed)?;
    if name.contains('{') {
        return Err(unclosed());
    }
    let placeholder = Placeholder::from_name(name).ok_or_else(|| {
        let shown = format!("{{{name}}}");
        let shown = quoted(&shown);
        ParseError::new(format!("unknown placeholder {shown}; allowed: {ALLOWED}"))
    })?;
    Ok((Part::Placeholder(placeholder), tail))
}

impl Default for LogStreamTemplate {
    fn default() -> Self {
        Self {
            template: Self::DEFAULT.to_owned(),
            parts: vec![
                Part::Placeholder(Placeholder::ClusterId),
                Part::Literal("/".to_owned()),
                Part::Placeholder(Placeholder::Application),
                Part::Literal("/".to_owned()),
                Part::Placeholder(Placeholder::PodName),
            ],
        }
    }
}

impl From<LogStreamTemplate> for String {
    fn from(value: LogStreamTemplate) -> Self {
        value.template
    }
}

str_conversions!(LogStreamTemplate);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_templates() {
        let longest = "t".repeat(512);
        assert_accepts(
            LogStreamTemplate::parse,
            &[
                LogStreamTemplate::DEFAULT,
                "{pod_name}",
                "{tenant_id}",
                "static-name",
                "{tenant_id}/{cluster_id}/{application}/{pod_name}",
                "{application}{pod_name}",
                "k8s/{cluster_id}-{application}",
                "{pod_name}/{pod_name}",
                "prefix [x] #1",
                &longest,
            ],
        );
    }

    #[test]
    fn rejects_invalid_templates() {
        let too_long = "t".repeat(513);
        let unclosed = "has a '{' without a matching '}'";
        let unopened = "has a '}' without a matching '{'";
        let allowed = "allowed: {cluster_id}, {application}, {pod_name}, {tenant_id}";
        let unknown = |name: &str| format!("unknown placeholder '{name}'; {allowed}");
        let (namespace, empty, upper, spaced) = (
            unknown("{namespace}"),
            unknown("{}"),
            unknown("{POD_NAME}"),
            unknown("{ pod_name }"),
        );
        let literal = "must not contain ':' or '*' outside placeholders";
        assert_rejects(
            LogStreamTemplate::parse,
            &[
                ("", "must be 1 to 512 characters"),
                (&too_long, "must be 1 to 512 characters"),
                ("{namespace}/{pod_name}", &namespace),
                ("{}", &empty),
                ("{POD_NAME}", &upper),
                ("{ pod_name }", &spaced),
                ("{pod_name", unclosed),
                ("{", unclosed),
                ("{{pod_name}}", unclosed),
                ("{pod_{name}", unclosed),
                ("pod_name}", unopened),
                ("}", unopened),
                ("{pod_name}}", unopened),
                ("{cluster_id}:{pod_name}", literal),
                ("logs/*", literal),
            ],
        );
    }

    #[test]
    fn default_matches_the_parsed_constant() {
        let parsed = LogStreamTemplate::parse(LogStreamTemplate::DEFAULT);
        assert_eq!(parsed, Ok(LogStreamTemplate::default()));
    }

    #[test]
    fn render_substitutes_and_sanitizes() -> Result<(), ParseError> {
        let tenant = TenantId::parse("acme")?;
        let over_long = "p".repeat(600);
        let truncated = format!("c/a/{}", "p".repeat(508));
        let cases: [(&str, [&str; 3], Option<&str>); 7] = [
            (
                LogStreamTemplate::DEFAULT,
                ["prod", "checkout", "checkout-1"],
                Some("prod/checkout/checkout-1"),
            ),
            ("{tenant_id}-{pod_name}", ["c", "a", "p"], Some("acme-p")),
            ("static", ["c", "a", "p"], Some("static")),
            ("{pod_name}", ["c", "a", ""], None),
            ("{pod_name}", ["c", "a", "ns:pod*1"], Some("ns_pod_1")),
            ("{application}", ["c", "weird:app", "p"], Some("weird_app")),
            (
                LogStreamTemplate::DEFAULT,
                ["c", "a", &over_long],
                Some(&truncated),
            ),
        ];
        for (template, [cluster, application, pod], expected) in cases {
            let rendered = LogStreamTemplate::parse(template)?.render(&tenant, cluster, application, pod);
            assert_eq!(
                rendered.as_ref().map(LogStreamName::as_str),
                expected,
                "template {template:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let template: LogStreamTemplate = serde_json::from_str("\"{tenant_id}/{pod_name}\"")?;
        assert_eq!(serde_json::to_string(&template)?, "\"{tenant_id}/{pod_name}\"");
        assert!(serde_json::from_str::<LogStreamTemplate>("\"{nope}\"").is_err());
        Ok(())
    }
}

//! Templates for CloudWatch Logs stream names.

use crate::error::quoted;
use crate::newtype::str_conversions;
use crate::{LogStreamName, NamespaceName, ObjectKey, ParseError};
use serde::{Deserialize, Serialize};

/// Longest template accepted, matching the longest stream name.
const MAX_LEN: usize = 512;
/// The placeholders, as listed in error messages.
const ALLOWED: &str = "{cluster_id}, {namespace}, {application}, {pod_name}, {tenant_id}";

/// How the worker names the stream for a pod's logs, e.g.
/// `{cluster_id}/{namespace}/{application}/{pod_name}`.
///
/// Checked when the tenant saves it so a typo in a placeholder is reported then, not
/// silently written into every stream name. Placeholders: `{cluster_id}`, `{namespace}`,
/// `{application}`, `{pod_name}`, `{tenant_id}`; literal text must not contain `:` or
/// `*` (substituted values are sanitized instead).
///
/// What a stream name proves depends on the placeholders: the tenant, the cluster and
/// the namespace are set by the provider, while the application and the pod name are
/// chosen by whoever runs the pod. A template without `{namespace}` therefore lets pods
/// of every namespace of the tenant write into the same streams; the default has it.
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
    Namespace,
    Application,
    PodName,
    TenantId,
}

impl Placeholder {
    /// Looks up the name written between braces.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "cluster_id" => Some(Self::ClusterId),
            "namespace" => Some(Self::Namespace),
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
    pub const PATTERN: &'static str =
        r"^([^:*{}]|\{(cluster_id|namespace|application|pod_name|tenant_id)\})+$";
    /// Longest template, in characters.
    pub const MAX_CHARS: usize = MAX_LEN;

    /// The template used when a tenant does not set one: every namespace's pods write
    /// into streams of their own, whatever application label they choose.
    pub const DEFAULT: &'static str = "{cluster_id}/{namespace}/{application}/{pod_name}";

    /// The template used instead of [`LogStreamTemplate::DEFAULT`] for objects staged
    /// before the namespace joined the key: the default of that release, so their logs
    /// go on into the streams they had always gone to (and never into a namespace's).
    pub const LEGACY_DEFAULT: &'static str = "{cluster_id}/{application}/{pod_name}";

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

    /// Fills in the placeholders from the staged object's key and sanitizes the result
    /// into a stream name; `None` when the result is empty. `{namespace}` renders empty
    /// for a key staged before the namespace joined the layout.
    pub fn render(&self, key: &ObjectKey) -> Option<LogStreamName> {
        let mut name = String::new();
        for part in &self.parts {
            name.push_str(match part {
                Part::Literal(text) => text,
                Part::Placeholder(Placeholder::ClusterId) => key.cluster_id(),
                Part::Placeholder(Placeholder::Namespace) => {
                    key.namespace().map_or("", NamespaceName::as_str)
                }
                Part::Placeholder(Placeholder::Application) => key.application(),
                Part::Placeholder(Placeholder::PodName) => key.pod_name(),
                Part::Placeholder(Placeholder::TenantId) => key.tenant_id().as_str(),
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
                Part::Placeholder(Placeholder::Namespace),
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
                LogStreamTemplate::LEGACY_DEFAULT,
                "{pod_name}",
                "{tenant_id}",
                "{namespace}",
                "static-name",
                "{tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}",
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
        let allowed = "allowed: {cluster_id}, {namespace}, {application}, {pod_name}, {tenant_id}";
        let unknown = |name: &str| format!("unknown placeholder '{name}'; {allowed}");
        let (pod, empty, upper, spaced) = (
            unknown("{pod}"),
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
                ("{namespace}/{pod}", &pod),
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
        let over_long = "p".repeat(250);
        let over_long_key = format!("acme/{over_long}/ns/{over_long}/{over_long}/1-x.json.gz");
        let truncated = format!("{over_long}/ns/{over_long}/{}", "p".repeat(512 - 505));
        let default = LogStreamTemplate::DEFAULT;
        let legacy_default = LogStreamTemplate::LEGACY_DEFAULT;
        let cases: [(&str, &str, Option<&str>); 11] = [
            (
                default,
                "acme/prod/shop/checkout/checkout-1/1-x.json.gz",
                Some("prod/shop/checkout/checkout-1"),
            ),
            (
                legacy_default,
                "acme/prod/checkout/checkout-1/1-x.json.gz",
                Some("prod/checkout/checkout-1"),
            ),
            ("{tenant_id}-{pod_name}", "acme/c/ns/a/p/f", Some("acme-p")),
            ("{namespace}.{application}", "acme/c/ns/a/p/f", Some("ns.a")),
            ("static", "acme/c/ns/a/p/f", Some("static")),
            // A key without a namespace renders {namespace} empty.
            ("{namespace}/{application}", "acme/c/a/p/f", Some("/a")),
            ("{namespace}", "acme/c/a/p/f", None),
            ("{pod_name}", "acme/c/ns/a/ns:pod*1/f", Some("ns_pod_1")),
            ("{application}", "acme/c/ns/weird:app/p/f", Some("weird_app")),
            ("{cluster_id}", "acme/c:1/ns/a/p/f", Some("c_1")),
            (default, &over_long_key, Some(&truncated)),
        ];
        for (template, key, expected) in cases {
            let key = ObjectKey::parse(key)?;
            let rendered = LogStreamTemplate::parse(template)?.render(&key);
            assert_eq!(
                rendered.as_ref().map(LogStreamName::as_str),
                expected,
                "template {template:?}, key {key}"
            );
        }
        Ok(())
    }

    #[test]
    fn two_namespaces_never_share_a_default_stream() -> Result<(), ParseError> {
        let template = LogStreamTemplate::default();
        let render = |key: &str| -> Result<Option<String>, ParseError> {
            Ok(template.render(&ObjectKey::parse(key)?).map(|n| n.to_string()))
        };
        let prod = render("acme/c/prod/payments/payments-1/1-x.json.gz")?;
        let sandbox = render("acme/c/sandbox/payments/payments-1/1-x.json.gz")?;
        assert_eq!(prod.as_deref(), Some("c/prod/payments/payments-1"));
        assert_eq!(sandbox.as_deref(), Some("c/sandbox/payments/payments-1"));
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

//! Optimistic concurrency: every resource version has a strong ETag (the version,
//! quoted), and a write with `If-Match` applies only to the version it names.

use axum::http::{header, HeaderMap};

use crate::error::ApiError;

/// The strong ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// An `If-Match` precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `If-Match: *`: the resource must exist.
    Any,
    /// The current ETag must be one of these.
    Tags(Vec<String>),
}

/// What [`IfMatch::from_headers`] accepts: `*` or a list of quoted versions. The
/// OpenAPI document states it on every `If-Match` parameter.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|"[0-9]+"( *, *"[0-9]+")*)$"#;

impl IfMatch {
    /// Reads the header, if present.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::BadRequest("If-Match is not valid text".into()))?
            .trim();
        if value == "*" {
            return Ok(Some(Self::Any));
        }
        let tags: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        // Every ETag this api gives is a quoted version: anything else (a weak tag, a
        // quoted word) cannot name one of its resources, and is malformed by the pattern
        // the OpenAPI document states, not a precondition that failed.
        if tags.is_empty() || !tags.iter().all(|t| is_version_tag(t)) {
            return Err(ApiError::BadRequest(
                "If-Match must be * or a list of quoted versions, e.g. \"7\"".into(),
            ));
        }
        Ok(Some(Self::Tags(tags)))
    }

    /// Checks the precondition against the current version (`None`: no such resource).
    /// Only strong tags get here (a weak one is malformed): If-Match uses the strong
    /// comparison (RFC 9110 §13.1.1).
    pub fn check(&self, current_version: Option<i64>) -> Result<(), ApiError> {
        let matches = match (self, current_version) {
            (_, None) => false,
            (Self::Any, Some(_)) => true,
            (Self::Tags(tags), Some(version)) => tags.contains(&etag(version)),
        };
        if matches {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed)
        }
    }
}

/// A strong ETag of this api: a version in double quotes.
fn is_version_tag(tag: &str) -> bool {
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks an optional `If-Match` against the current version.
pub fn check_if_match(headers: &HeaderMap, current_version: Option<i64>) -> Result<(), ApiError> {
    match IfMatch::from_headers(headers)? {
        Some(precondition) => precondition.check(current_version),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(if_match: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(if_match).unwrap());
        h
    }

    #[test]
    fn if_match_table() {
        let cases = [
            ("\"7\"", Some(7), true),
            ("\"7\"", Some(8), false),
            ("\"6\", \"7\"", Some(7), true),
            ("*", Some(1), true),
            ("*", None, false),
            ("\"7\"", None, false),
        ];
        for (header, current, ok) in cases {
            let result = check_if_match(&headers(header), current);
            assert_eq!(result.is_ok(), ok, "{header} vs {current:?}");
        }
    }

    #[test]
    fn malformed_if_match_is_a_bad_request() {
        for header in ["7", "", "\"7\", 8", "W/\"7\"", "\"abc\"", "\"\"", "\"7\", \"x\""] {
            assert!(matches!(
                IfMatch::from_headers(&headers(header)),
                Err(ApiError::BadRequest(_))
            ));
        }
    }
}

//! The one rule of an RFC 1123 DNS label, which tenant ids and Kubernetes namespace
//! names both follow: 1 to 63 characters of `[a-z0-9-]`, starting and ending with a
//! letter or digit.

use crate::ParseError;

/// The rule of [`check`] as an ECMA-262 pattern, for API documents.
pub const PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

/// Longest label, in characters.
pub const MAX_CHARS: usize = 63;

/// Checks `s` against the rule; the error says which part it breaks.
pub fn check(s: &str) -> Result<(), ParseError> {
    let len = s.chars().count();
    if len == 0 {
        return Err(ParseError::new("must not be empty"));
    }
    if len > MAX_CHARS {
        return Err(ParseError::new("must be at most 63 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ParseError::new(
            "may contain only lowercase letters, digits and '-'",
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(ParseError::new(
            "must start and end with a lowercase letter or digit",
        ));
    }
    Ok(())
}

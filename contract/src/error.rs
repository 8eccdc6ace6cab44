//! The one error type every contract constructor returns.

use std::fmt;

/// Why an input value was rejected.
///
/// The message is a short sentence about the value (for example "must be 3 to 63
/// characters"), written to go straight into the `message` of an API error response,
/// so callers add the field name and nothing else. Messages quote at most a short
/// prefix of the offending input and never quote a secret such as an `ExternalId`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The human-readable reason, safe to return to the caller.
    pub message: String,
}

impl ParseError {
    /// Builds an error from a reason sentence.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Prefixes the reason with the position of a list entry ("entry 3: ..."), so a
    /// caller validating a list can say which element is wrong.
    pub fn in_entry(self, index: usize) -> Self {
        Self::new(format!("entry {index}: {}", self.message))
    }
}

/// Quotes an input value for an error message, cut to a short prefix so a huge input
/// is not echoed back whole.
pub(crate) fn quoted(value: &str) -> Quoted<'_> {
    Quoted(value)
}

/// Display adapter returned by [`quoted`].
pub(crate) struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 64;
        match self.0.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => write!(f, "'{}…'", &self.0[..cut]),
            None => write!(f, "'{}'", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message() {
        assert_eq!(
            ParseError::new("must not be empty").to_string(),
            "must not be empty"
        );
    }

    #[test]
    fn in_entry_names_the_index() {
        let error = ParseError::new("must not be empty").in_entry(3);
        assert_eq!(error.message, "entry 3: must not be empty");
    }

    #[test]
    fn quoted_shortens_long_values() {
        let cases = [
            ("", "''".to_owned()),
            ("abc", "'abc'".to_owned()),
            (&"x".repeat(64), format!("'{}'", "x".repeat(64))),
            (&"x".repeat(65), format!("'{}…'", "x".repeat(64))),
            (&"é".repeat(100), format!("'{}…'", "é".repeat(64))),
        ];
        for (input, expected) in cases {
            assert_eq!(quoted(input).to_string(), expected, "input {input:?}");
        }
    }
}

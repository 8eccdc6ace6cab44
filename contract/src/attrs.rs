//! Reading DynamoDB items attribute by attribute, with errors that name the attribute.

use crate::{Attr, Attributes, ParseError};

/// Typed access to attributes, with errors that name the attribute.
pub(crate) struct Reader<'a>(pub(crate) &'a Attributes);

impl Reader<'_> {
    pub(crate) fn bad(&self, name: &str, err: ParseError) -> ParseError {
        ParseError::new(format!("attribute {name}: {err}"))
    }

    pub(crate) fn missing(name: &str) -> ParseError {
        ParseError::new(format!("attribute {name} is missing or of the wrong type"))
    }

    pub(crate) fn opt_s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Attr::S(value)) => Some(value),
            _ => None,
        }
    }

    pub(crate) fn s(&self, name: &str) -> Result<&str, ParseError> {
        self.opt_s(name).ok_or_else(|| Self::missing(name))
    }

    pub(crate) fn n(&self, name: &str) -> Result<i64, ParseError> {
        match self.0.get(name) {
            Some(Attr::N(value)) => value.parse().map_err(|_| Self::missing(name)),
            _ => Err(Self::missing(name)),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool, ParseError> {
        match self.0.get(name) {
            Some(Attr::Bool(value)) => Ok(*value),
            _ => Err(Self::missing(name)),
        }
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, ParseError> {
        match self.0.get(name) {
            Some(Attr::L(values)) => values
                .iter()
                .map(|v| match v {
                    Attr::S(s) => Ok(s.clone()),
                    _ => Err(Self::missing(name)),
                })
                .collect(),
            None => Ok(Vec::new()),
            _ => Err(Self::missing(name)),
        }
    }
}

impl Reader<'_> {
    /// A number that may be absent; present but not a number is an error.
    pub(crate) fn opt_n(&self, name: &str) -> Result<Option<i64>, ParseError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Attr::N(value)) => value.parse().map(Some).map_err(|_| Self::missing(name)),
            Some(_) => Err(Self::missing(name)),
        }
    }

    /// A decimal number that may be absent.
    pub(crate) fn opt_f(&self, name: &str) -> Result<Option<f64>, ParseError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Attr::N(value)) => value.parse().map(Some).map_err(|_| Self::missing(name)),
            Some(_) => Err(Self::missing(name)),
        }
    }

    /// A count that may be absent (zero) but never negative.
    pub(crate) fn count(&self, name: &str) -> Result<u64, ParseError> {
        match self.opt_n(name)? {
            None => Ok(0),
            Some(n) => u64::try_from(n).map_err(|_| Self::missing(name)),
        }
    }
}

/// A string attribute.
pub(crate) fn s(value: &str) -> Attr {
    Attr::S(value.to_owned())
}

/// A number attribute.
pub(crate) fn n(value: impl std::fmt::Display) -> Attr {
    Attr::N(value.to_string())
}

//! The read model's items in the SDK's DynamoDB types, so the api (which writes them) and
//! the worker (which reads them) convert the contract's [`Attributes`] the same way.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use logspoke_contract::{Attr, Attributes, ConfigItem, ParseError};

/// A contract attribute as the SDK's.
pub fn to_sdk(attr: &Attr) -> AttributeValue {
    match attr {
        Attr::S(s) => AttributeValue::S(s.clone()),
        Attr::N(n) => AttributeValue::N(n.clone()),
        Attr::Bool(b) => AttributeValue::Bool(*b),
        Attr::L(list) => AttributeValue::L(list.iter().map(to_sdk).collect()),
    }
}

/// An SDK attribute as the contract's; `None` for kinds the read model never writes.
pub fn from_sdk(value: &AttributeValue) -> Option<Attr> {
    Some(match value {
        AttributeValue::S(s) => Attr::S(s.clone()),
        AttributeValue::N(n) => Attr::N(n.clone()),
        AttributeValue::Bool(b) => Attr::Bool(*b),
        AttributeValue::L(list) => Attr::L(list.iter().map(from_sdk).collect::<Option<_>>()?),
        _ => return None,
    })
}

/// A whole item as the SDK's.
pub fn item_to_sdk(item: &Attributes) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

/// A whole item read from a table (the read model or the ledger) as the contract's.
pub fn attributes_from_sdk(raw: &HashMap<String, AttributeValue>) -> Result<Attributes, ParseError> {
    raw.iter()
        .map(|(name, value)| {
            from_sdk(value)
                .map(|attr| (name.clone(), attr))
                .ok_or_else(|| ParseError::new(format!("attribute '{name}' has an unexpected type")))
        })
        .collect()
}

/// Parses an item read from the table.
pub fn item_from_sdk(raw: &HashMap<String, AttributeValue>) -> Result<ConfigItem, ParseError> {
    ConfigItem::from_attributes(&attributes_from_sdk(raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_survive_a_round_trip() {
        let attrs = [
            Attr::S("a".into()),
            Attr::N("42".into()),
            Attr::Bool(true),
            Attr::L(vec![Attr::S("x".into()), Attr::L(vec![])]),
        ];
        for attr in attrs {
            assert_eq!(from_sdk(&to_sdk(&attr)), Some(attr));
        }
        assert_eq!(from_sdk(&AttributeValue::Null(true)), None);
    }
}

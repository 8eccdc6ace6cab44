//! The shape of a CloudWatch event's message: the log line's text as it is (`raw`), or a
//! JSON object with the text and the metadata fields the customer picks (`json`), so
//! CloudWatch Logs Insights can query by namespace or pod without parsing.
//!
//! A `json` message is `{"message": TEXT, FIELD: VALUE, …}` with the picked fields in
//! the order of [`MessageField::ALL`] (cluster, namespace, application, container, pod);
//! a field the line or key does not carry (a line without a container, a key of the
//! release before the namespace) is left out rather than written empty.

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A metadata field a `json` message can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageField {
    /// The cluster that staged the line.
    Cluster,
    /// The pod's namespace.
    Namespace,
    /// The pod's `application` label.
    Application,
    /// The container that wrote the line.
    Container,
    /// The pod's name.
    Pod,
}

impl MessageField {
    /// Every field, in the order a message carries them.
    pub const ALL: [MessageField; 5] = [
        Self::Cluster,
        Self::Namespace,
        Self::Application,
        Self::Container,
        Self::Pod,
    ];

    /// The field's name, in requests and in the messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Namespace => "namespace",
            Self::Application => "application",
            Self::Container => "container",
            Self::Pod => "pod",
        }
    }

    /// Parses a field's name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            ParseError::new("is not a message field: cluster, namespace, application, container or pod")
        })
    }
}

/// How a config shapes its CloudWatch messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum MessageFormat {
    /// The log line's text, as today.
    #[default]
    Raw,
    /// A JSON object with the text and these fields (never empty, in
    /// [`MessageField::ALL`] order).
    Json(Vec<MessageField>),
}

impl MessageFormat {
    /// `format` (`raw` or `json`) with `fields` (only with `json`; none given: all of
    /// them). Each problem names the request field it is about.
    pub fn parse(format: &str, fields: Option<&[String]>) -> Result<Self, (&'static str, ParseError)> {
        match (format, fields) {
            ("raw", None) => Ok(Self::Raw),
            ("raw", Some(_)) => Err((
                "message_fields",
                ParseError::new("only applies with message_format json"),
            )),
            ("json", None) => Ok(Self::Json(MessageField::ALL.to_vec())),
            ("json", Some(names)) => Self::json(names).map_err(|e| ("message_fields", e)),
            _ => Err(("message_format", ParseError::new("is raw or json"))),
        }
    }

    fn json(names: &[String]) -> Result<Self, ParseError> {
        if names.is_empty() {
            return Err(ParseError::new(
                "must name at least one field (leave it out for all of them)",
            ));
        }
        let mut fields = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let field = MessageField::parse(name).map_err(|e| e.in_entry(i))?;
            if fields.contains(&field) {
                return Err(ParseError::new(format!("{name} is named twice")).in_entry(i));
            }
            fields.push(field);
        }
        fields.sort();
        Ok(Self::Json(fields))
    }

    /// `raw` or `json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Json(_) => "json",
        }
    }

    /// The fields a `json` message carries; none for `raw`.
    pub fn fields(&self) -> &[MessageField] {
        match self {
            Self::Raw => &[],
            Self::Json(fields) => fields,
        }
    }

    /// The field names, for documents and the read model (`None` for `raw`).
    pub fn field_names(&self) -> Option<Vec<String>> {
        match self {
            Self::Raw => None,
            Self::Json(fields) => Some(fields.iter().map(|f| f.as_str().to_owned()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn json_carries_the_picked_fields_in_one_order_and_all_by_default() {
        assert_eq!(MessageFormat::parse("raw", None), Ok(MessageFormat::Raw));
        assert_eq!(
            MessageFormat::parse("json", None).unwrap().fields(),
            MessageField::ALL
        );
        let picked = MessageFormat::parse("json", Some(&names(&["pod", "namespace"]))).unwrap();
        assert_eq!(picked.fields(), [MessageField::Namespace, MessageField::Pod]);
        assert_eq!(picked.field_names(), Some(names(&["namespace", "pod"])));
    }

    #[test]
    fn each_problem_names_its_request_field() {
        let error = |format, fields: Option<&[&str]>| {
            let fields = fields.map(names);
            let (field, e) = MessageFormat::parse(format, fields.as_deref()).unwrap_err();
            (field, e.message)
        };
        assert_eq!(error("xml", None).0, "message_format");
        assert_eq!(error("raw", Some(&["pod"])).0, "message_fields");
        assert_eq!(error("json", Some(&[])).0, "message_fields");
        assert_eq!(
            error("json", Some(&["pod", "node"])),
            (
                "message_fields",
                "entry 1: is not a message field: cluster, namespace, application, container or pod"
                    .to_owned()
            )
        );
        assert_eq!(
            error("json", Some(&["pod", "pod"])).1,
            "entry 1: pod is named twice"
        );
    }
}

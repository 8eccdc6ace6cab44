//! Request extractors whose rejections are problem documents: JSON bodies (unknown
//! fields refused, every type error named by its path), query strings, and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Largest accepted request body.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A JSON request body (`application/json`, or `application/merge-patch+json` for PATCH).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The whole body, within the size limit.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(BODY_LIMIT_BYTES)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "application/merge-patch+json" => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(
            "the body must be application/json (or application/merge-patch+json for PATCH)".into(),
        )),
    }
}

/// Parses JSON: a syntax error is a 400; a well-formed document of the wrong shape is a
/// 422 naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::field(field, message)
            }
            _ => ApiError::BadRequest(format!("the request body is not valid JSON: {message}")),
        }
    })
}

/// Parses an already-read JSON document (a merged or not yet merged patch) exactly as
/// [`parse_json`] parses a body, with the same field-naming errors.
pub fn parse_value<T: DeserializeOwned>(document: &serde_json::Value) -> Result<T, ApiError> {
    parse_json(document.to_string().as_bytes())
}

/// Parses an optional JSON object body: no body means the defaults; anything but an
/// object (a JSON `null` too: the documented schema is an object) is a 422 naming `body`.
pub fn parse_optional_object<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        Ok(T::default())
    } else if trimmed.starts_with(b"{") {
        parse_json(body)
    } else {
        Err(ApiError::field("body", "must be a JSON object (or empty)"))
    }
}

/// An optional JSON object body, read with [`parse_optional_object`].
pub struct OptionalObject<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalObject<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse_optional_object(&bytes).map(OptionalObject)
    }
}

/// serde_json appends " at line L column C"; the field path says more to an API client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query-string parameters, with a 400 problem naming what is wrong.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// Checks the structural rules a request DTO declares with `#[validate(...)]` (counts,
/// lengths, ranges); each broken rule is one entry of the 422's `errors`, in field order.
/// Domain rules stay with the `contract` types that parse the fields.
pub fn validate<T: validator::Validate>(body: &T) -> Result<(), ApiError> {
    let Err(errors) = body.validate() else {
        return Ok(());
    };
    let mut fields: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, problems)| {
            problems.iter().map(move |problem| {
                let message = problem
                    .message
                    .as_ref()
                    .map_or_else(|| problem.code.to_string(), ToString::to_string);
                FieldError::new(field.to_string(), message)
            })
        })
        .collect();
    fields.sort_by(|a, b| a.field.cmp(&b.field));
    Err(ApiError::Validation(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
    }

    #[test]
    fn json_errors_name_the_field_or_are_syntax_errors() {
        match parse_json::<Sample>(br#"{"name": 5}"#) {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "name"),
            other => panic!("{other:?}"),
        }
        match parse_json::<Sample>(br#"{"name": "x", "extra": 1}"#) {
            Err(ApiError::Validation(errors)) => assert!(errors[0].message.contains("unknown field")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json::<Sample>(b"{\"name\": "),
            Err(ApiError::BadRequest(_))
        ));
    }
}

/// Applies an RFC 7396 JSON merge patch: objects merge recursively, `null` removes a
/// member, anything else replaces the target.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(members) = target {
        for (name, value) in patch_members {
            if value.is_null() {
                members.remove(name);
            } else {
                merge_patch(members.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A merge-patch body must be a JSON object (a patch replacing the whole resource with
/// a scalar is never meaningful here).
pub fn require_object(patch: &serde_json::Value) -> Result<(), ApiError> {
    if patch.is_object() {
        Ok(())
    } else {
        Err(ApiError::field("body", "a merge patch must be a JSON object"))
    }
}

/// Refuses a merge patch naming a field the resource does not have. Checked before
/// merging because a `null` for an unknown field would otherwise vanish in the merge and
/// the typo would go unnoticed.
pub fn require_known_fields(patch: &serde_json::Value, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<FieldError> = patch
        .as_object()
        .into_iter()
        .flat_map(|fields| fields.keys())
        .filter(|key| !known.contains(&key.as_str()))
        .map(|key| FieldError::new(key.clone(), "unknown field: the resource has no such field"))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(unknown))
    }
}

#[cfg(test)]
mod merge_patch_tests {
    use serde_json::json;

    #[test]
    fn unknown_fields_are_refused_even_when_null() {
        let known = ["display_name", "enabled"];
        assert!(require_known_fields(&json!({"enabled": false, "display_name": null}), &known).is_ok());
        assert!(require_known_fields(&json!({"": null}), &known).is_err());
        assert!(require_known_fields(&json!({"enabled": true, "colour": "red"}), &known).is_err());
    }

    use super::{merge_patch, require_known_fields};

    #[test]
    fn rfc7396_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }
}

#[cfg(test)]
mod validate_tests {
    use validator::Validate;

    use super::*;

    #[derive(Validate)]
    struct Body {
        #[validate(length(min = 1, message = "must name at least one"))]
        names: Option<Vec<String>>,
        #[validate(range(min = 1, max = 100))]
        limit: u32,
    }

    #[test]
    fn every_broken_rule_is_a_field_error_in_field_order() {
        let ok = Body {
            names: None,
            limit: 100,
        };
        assert!(validate(&ok).is_ok());
        let bad = Body {
            names: Some(vec![]),
            limit: 0,
        };
        match validate(&bad) {
            Err(ApiError::Validation(errors)) => assert_eq!(
                errors,
                [
                    FieldError::new("limit", "range"),
                    FieldError::new("names", "must name at least one"),
                ]
            ),
            other => panic!("{other:?}"),
        }
    }
}

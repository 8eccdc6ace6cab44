//! The one error type of the API and its mapping to RFC 9457 problem documents.
//!
//! Every handler returns `Result<_, ApiError>`. Client errors carry a precise, safe
//! message; internal errors are logged once here and returned opaque.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `role_arn` or `desired_logs[2]`.
    pub field: String,
    /// Why the value was refused.
    pub message: String,
}

impl FieldError {
    /// A field error for `field` with a human-readable reason.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document, the body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    #[schema(example = "https://logspoke.dev/problems/validation")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong for this occurrence.
    pub detail: String,
    /// For validation problems: each refused field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired or wrongly signed credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to do this.
    #[error("this principal may not perform this operation")]
    Forbidden,
    /// The resource does not exist (or the route is unknown).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (e.g. a duplicate id).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed since it was read (If-Match did not match the current ETag)")]
    PreconditionFailed,
    /// Malformed request: bad JSON syntax, bad query parameter, bad cursor.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed request whose fields are invalid.
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The request is well-formed but cannot be processed as asked (e.g. an idempotency key reused).
    #[error("{0}")]
    Unprocessable(String),
    /// The body exceeds the configured limit.
    #[error("the request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// Wrong `Content-Type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency (the database) is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests of this kind for now; `Retry-After` says when to try again.
    #[error("{detail}")]
    RateLimited {
        /// When the client may try again.
        retry_after: Duration,
        /// What was limited and why.
        detail: String,
    },
    /// A dependency (AWS) failed transiently and nothing was changed; `Retry-After` says
    /// when trying again makes sense.
    #[error("{detail}")]
    RetryLater {
        /// When the client should try again.
        retry_after: Duration,
        /// What failed.
        detail: String,
    },
    /// A bug or an unexpected failure; the detail is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 with a single invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The `Retry-After` this error carries, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::RetryLater { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The status code this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::RetryLater { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Slug and title for a status, used for the problem `type` URI and `title`.
fn problem_kind(status: StatusCode, validation: bool) -> (&'static str, &'static str) {
    if validation {
        return ("validation", "Request validation failed");
    }
    match status.as_u16() {
        400 => ("bad-request", "Bad request"),
        401 => ("unauthorized", "Authentication required"),
        403 => ("forbidden", "Forbidden"),
        404 => ("not-found", "Not found"),
        405 => ("method-not-allowed", "Method not allowed"),
        408 => ("timeout", "Request timed out"),
        409 => ("conflict", "Conflict"),
        412 => ("precondition-failed", "Precondition failed"),
        413 => ("payload-too-large", "Payload too large"),
        415 => ("unsupported-media-type", "Unsupported media type"),
        422 => ("unprocessable", "Unprocessable request"),
        429 => ("rate-limited", "Too many requests"),
        503 => ("unavailable", "Service unavailable"),
        504 => ("timeout", "Request timed out"),
        _ if status.is_server_error() => ("internal", "Internal server error"),
        _ => ("error", "Request failed"),
    }
}

impl Problem {
    /// A problem document for `status` with a detail sentence.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::build(status, detail.into(), None)
    }

    fn build(status: StatusCode, detail: String, errors: Option<Vec<FieldError>>) -> Self {
        let (slug, title) = problem_kind(status, errors.is_some());
        Self {
            problem_type: format!("https://logspoke.dev/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"logspoke\", error=\"invalid_token\""),
            );
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after();
        let problem = match self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "request failed with an internal error");
                Problem::new(status, "an internal error occurred; it has been logged")
            }
            Self::Validation(errors) => {
                let detail = format!("the request has {} invalid field(s)", errors.len());
                Problem::build(status, detail, Some(errors))
            }
            other => Problem::new(status, other.to_string()),
        };
        let mut response = problem.into_response();
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds(wait)));
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1 (0 would invite a busy loop).
fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Database errors: constraint violations become client errors here, in one place;
/// an unreachable database is 503; everything else is internal.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return Self::Conflict("a resource with this identity already exists".into());
            }
            if db.is_foreign_key_violation() {
                return Self::NotFound("the parent resource does not exist".into());
            }
            if db.is_check_violation() {
                return Self::Unprocessable("the request violates a data constraint".into());
            }
        }
        if matches!(
            err,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
        ) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::Unavailable("the database is unavailable; retry later".into());
        }
        Self::Internal(anyhow::Error::new(err).context("database query failed"))
    }
}

/// Persistence errors: the database ones as above; a corrupt or unencodable stored value
/// is a bug, internal.
impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            crate::store::StoreError::Db(db) => db.into(),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Delivery ledger errors: AWS failing transiently (throttling, an outage, a timeout) is
/// a 503 with `Retry-After`; anything else (a missing table, a corrupt item) is internal.
impl From<crate::delivery_health::HealthError> for ApiError {
    fn from(err: crate::delivery_health::HealthError) -> Self {
        if err.is_transient() {
            tracing::warn!(error = %err, "delivery ledger unavailable");
            return Self::RetryLater {
                retry_after: Duration::from_secs(5),
                detail:
                    "the delivery ledger (delivery health, replay progress) could not be read; retry later"
                        .into(),
            };
        }
        Self::Internal(anyhow::Error::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_list_each_field() {
        let err = ApiError::Validation(vec![FieldError::new("role_arn", "bad")]);
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let response = err.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn unauthorized_carries_bearer_challenge() {
        let response = ApiError::Unauthorized("no token".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .is_ok_and(|v| v.starts_with("Bearer")));
    }

    #[test]
    fn rate_limited_and_retry_later_carry_retry_after_in_whole_seconds() {
        let cases = [
            (
                ApiError::RateLimited {
                    retry_after: Duration::from_millis(6_200),
                    detail: "too soon".into(),
                },
                StatusCode::TOO_MANY_REQUESTS,
                "7",
            ),
            (
                ApiError::RetryLater {
                    retry_after: Duration::ZERO,
                    detail: "AWS is unreachable".into(),
                },
                StatusCode::SERVICE_UNAVAILABLE,
                "1",
            ),
        ];
        for (err, status, seconds) in cases {
            let response = err.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
            assert_eq!(response.headers()[header::RETRY_AFTER], seconds);
        }
        let plain = ApiError::Unavailable("database".into()).into_response();
        assert!(plain.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn internal_errors_are_opaque() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in connection string"));
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"status\":500"), "{text}");
    }
}

//! One error shape for every AWS call, so classification is a pure function of
//! (code, HTTP status, kind) with its own unit tests.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Why an AWS call failed, as far as the caller needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The service's error code, e.g. `AccessDenied`, `ResourceNotFoundException`.
    pub code: Option<String>,
    /// The service's message (never shown without scrubbing the ExternalId).
    pub message: Option<String>,
    /// HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// Transport-level category.
    pub kind: AwsErrorKind,
}

/// Whether the service answered, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service answered with an error.
    Service,
    /// The call timed out.
    Timeout,
    /// No answer: connection refused, DNS, TLS.
    Transport,
    /// Anything else (a bug, a malformed answer).
    Other,
}

impl AwsError {
    /// A service error with a code (used by tests and fakes).
    pub fn service(code: &str, status: u16, message: &str) -> Self {
        Self {
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            status: Some(status),
            kind: AwsErrorKind::Service,
        }
    }

    /// The error code, or "" when there is none.
    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    /// True for what a DynamoDB write whose condition was false answers: not a failure,
    /// an answer.
    pub fn is_condition_failed(&self) -> bool {
        self.code() == "ConditionalCheckFailedException"
    }

    /// True when retrying later might succeed: throttling, 5xx, timeouts, transport.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Timeout | AwsErrorKind::Transport)
            || self.status.is_some_and(|s| s >= 500)
            || matches!(
                self.code(),
                "Throttling"
                    | "ThrottlingException"
                    | "Throttled"
                    | "RequestLimitExceeded"
                    | "SlowDown"
                    | "ServiceUnavailable"
            )
    }

    /// A one-line description, with `secret` (an ExternalId) removed if it appears.
    pub fn describe(&self, secret: Option<&str>) -> String {
        let mut text = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => message.clone(),
            (None, None) => format!("{:?} error", self.kind),
        };
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            text = text.replace(secret, "<external-id>");
        }
        text
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(None))
    }
}

impl std::error::Error for AwsError {}

impl<E: ProvideErrorMetadata> From<SdkError<E, HttpResponse>> for AwsError {
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        let kind = match &err {
            SdkError::ServiceError(_) => AwsErrorKind::Service,
            SdkError::TimeoutError(_) => AwsErrorKind::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => AwsErrorKind::Timeout,
            SdkError::DispatchFailure(_) => AwsErrorKind::Transport,
            _ => AwsErrorKind::Other,
        };
        Self {
            code: err.code().map(str::to_owned),
            message: err.message().map(str::to_owned),
            status: err.raw_response().map(|r| r.status().as_u16()),
            kind,
        }
    }
}

/// A conditional write whose condition was false did nothing, as intended: `Ok`.
pub fn unless_condition_failed<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Err(err) if !err.is_condition_failed() => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_table() {
        let cases = [
            (AwsError::service("ThrottlingException", 400, "slow down"), true),
            (AwsError::service("InternalFailure", 500, "x"), true),
            (AwsError::service("SlowDown", 503, "x"), true),
            (AwsError::service("AccessDenied", 403, "no"), false),
            (AwsError::service("ResourceNotFoundException", 400, "no"), false),
            (
                AwsError {
                    code: None,
                    message: None,
                    status: None,
                    kind: AwsErrorKind::Timeout,
                },
                true,
            ),
            (
                AwsError {
                    code: None,
                    message: None,
                    status: None,
                    kind: AwsErrorKind::Transport,
                },
                true,
            ),
        ];
        for (err, transient) in cases {
            assert_eq!(err.is_transient(), transient, "{err:?}");
        }
    }

    #[test]
    fn describe_scrubs_the_external_id() {
        let err = AwsError::service("AccessDenied", 403, "ExternalId abc123XYZ does not match");
        let text = err.describe(Some("abc123XYZ"));
        assert!(!text.contains("abc123XYZ"));
        assert!(text.contains("<external-id>"));
    }

    #[test]
    fn a_false_condition_is_an_answer_and_other_errors_stay_errors() {
        let refused = AwsError::service(
            "ConditionalCheckFailedException",
            400,
            "The conditional request failed",
        );
        assert!(refused.is_condition_failed());
        assert!(unless_condition_failed::<()>(Err(refused)).is_ok());
        assert!(unless_condition_failed(Ok(7)).is_ok());
        let denied = AwsError::service("AccessDeniedException", 400, "no");
        assert!(!denied.is_condition_failed());
        assert!(unless_condition_failed::<()>(Err(denied)).is_err());
    }
}

//! Destinations a tenant's logs are delivered to, one module per sink, and how a delivery
//! to one of them fails.

pub mod cloudwatch;
pub mod s3;

use logspoke_aws::AwsError;

/// Why delivering an object to one target did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// A retry may succeed.
    Transient(String),
    /// It never will; counted and logged as a rejection with this reason.
    Permanent(&'static str, String),
}

impl TargetError {
    /// Classifies a failed AWS call made while delivering to a target.
    pub fn aws(action: &str, err: &AwsError) -> Self {
        let text = format!("{action}: {err}");
        if err.code() == "NoSuchKey" {
            Self::Permanent("object_missing", text)
        } else {
            // Throttling and outages, but also a denied role or a missing group or bucket:
            // the customer may fix those, so retry later; after maxReceiveCount the
            // message goes to the DLQ, nothing is lost.
            Self::Transient(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use logspoke_aws::AwsErrorKind;

    use super::*;

    fn error(code: &str) -> AwsError {
        AwsError {
            code: Some(code.into()),
            message: Some("refused".into()),
            status: None,
            kind: AwsErrorKind::Other,
        }
    }

    #[test]
    fn only_a_missing_staged_object_is_permanent() {
        assert!(matches!(
            TargetError::aws("s3:GetObject (staging)", &error("NoSuchKey")),
            TargetError::Permanent("object_missing", _)
        ));
        for code in [
            "AccessDenied",
            "ResourceNotFoundException",
            "ThrottlingException",
            "NoSuchBucket",
        ] {
            assert!(
                matches!(TargetError::aws("x", &error(code)), TargetError::Transient(_)),
                "{code}"
            );
        }
    }
}

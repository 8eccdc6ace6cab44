//! Destinations the customer's stack creates itself (the template's `CreateLogGroup` and
//! `CreateBucket`), so that onboarding needs no manual step in the customer's account:
//! the settings an onboarding request may give them, each checked against what the
//! template accepts, and the template parameters that ask for them.
//!
//! Decisions (ADR 2):
//! - The names are the ones the link already fills: the CloudWatch config's log group (or
//!   `/logspoke/{tenant}`), and the S3 config's bucket, so a bucket is created only for a
//!   tenant with an S3 config, in that config's region (the stack's).
//! - Only settings of the created destination are filled here; the log group's KMS key
//!   is the customer's own choice in the console (the template checks its ARN), the
//!   bucket's is the S3 config's `kms_key_arn`, which the link fills whether or not the
//!   stack creates the bucket (the role needs it to encrypt the copies).
//! - A setting the request leaves out is left out of the link too, and the template's
//!   default applies (retention 30 days; objects kept).

use super::link;

/// The retention values CloudWatch Logs accepts (`PutRetentionPolicy`), in days, and 0
/// for "never expire": the template's `LogGroupRetentionDays` allows exactly these.
pub const RETENTION_DAYS: [u16; 23] = [
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
    3653,
];

/// The template's `BucketExpirationDays` maximum (100 years).
pub const MAX_EXPIRATION_DAYS: u32 = 36_500;

/// How long a created log group keeps events: one of [`RETENTION_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(u16);

impl RetentionDays {
    /// Accepts the values CloudWatch Logs accepts, and 0 (never expire).
    pub fn parse(days: u32) -> Result<Self, String> {
        u16::try_from(days)
            .ok()
            .filter(|d| RETENTION_DAYS.contains(d))
            .map(Self)
            .ok_or_else(|| {
                format!(
                    "must be one of CloudWatch Logs' retention values {RETENTION_DAYS:?} (0 = never expire)"
                )
            })
    }

    /// The number of days (0 = never expire).
    pub fn days(self) -> u16 {
        self.0
    }
}

/// After how many days a created bucket's lifecycle rule deletes delivered objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirationDays(u32);

impl ExpirationDays {
    /// Accepts 0 (keep objects) to [`MAX_EXPIRATION_DAYS`].
    pub fn parse(days: u32) -> Result<Self, String> {
        if days <= MAX_EXPIRATION_DAYS {
            Ok(Self(days))
        } else {
            Err(format!(
                "must be at most {MAX_EXPIRATION_DAYS} (0 = keep objects)"
            ))
        }
    }

    /// The number of days (0 = keep objects).
    pub fn days(self) -> u32 {
        self.0
    }
}

/// A log group the stack creates, named by the link's `LogGroupName`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewLogGroup {
    /// Unset: the template's default.
    pub retention: Option<RetentionDays>,
}

impl NewLogGroup {
    /// A log group with the retention the request gave, if any.
    pub fn parse(retention_days: Option<u32>) -> Result<Self, String> {
        let retention = retention_days.map(RetentionDays::parse).transpose()?;
        Ok(Self { retention })
    }

    /// The template parameters that ask for it.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        let mut parameters = vec![(link::CREATE_LOG_GROUP, "true".to_owned())];
        if let Some(retention) = self.retention {
            parameters.push((link::LOG_GROUP_RETENTION_DAYS, retention.days().to_string()));
        }
        parameters
    }
}

/// A bucket the stack creates, named by the link's `BucketName`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewBucket {
    /// Unset: the template's default (objects are kept).
    pub expiration: Option<ExpirationDays>,
}

impl NewBucket {
    /// A bucket with the expiration the request gave, if any.
    pub fn parse(expiration_days: Option<u32>) -> Result<Self, String> {
        let expiration = expiration_days.map(ExpirationDays::parse).transpose()?;
        Ok(Self { expiration })
    }

    /// The template parameters that ask for it.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        let mut parameters = vec![(link::CREATE_BUCKET, "true".to_owned())];
        if let Some(expiration) = self.expiration {
            parameters.push((link::BUCKET_EXPIRATION_DAYS, expiration.days().to_string()));
        }
        parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_takes_cloudwatch_values_and_never_expire() {
        for days in [0, 1, 14, 30, 3653] {
            assert_eq!(
                RetentionDays::parse(days).map(RetentionDays::days),
                Ok(days as u16)
            );
        }
        for days in [2, 31, 366, 3654, 65_536 + 30, u32::MAX] {
            let err = RetentionDays::parse(days).unwrap_err();
            assert!(err.contains("3653"), "{err}");
        }
    }

    #[test]
    fn expiration_is_bounded_like_the_template_parameter() {
        assert_eq!(ExpirationDays::parse(0).map(ExpirationDays::days), Ok(0));
        assert_eq!(
            ExpirationDays::parse(36_500).map(ExpirationDays::days),
            Ok(36_500)
        );
        assert!(ExpirationDays::parse(36_501).is_err());
    }

    #[test]
    fn unset_settings_leave_the_template_defaults() {
        assert_eq!(
            NewLogGroup::default().parameters(),
            [("CreateLogGroup", "true".to_owned())]
        );
        assert_eq!(
            NewBucket::default().parameters(),
            [("CreateBucket", "true".to_owned())]
        );
    }

    #[test]
    fn every_parameter_asked_for_is_one_the_link_declares() {
        let group = NewLogGroup::parse(Some(0)).unwrap();
        let bucket = NewBucket::parse(Some(90)).unwrap();
        let parameters = [group.parameters(), bucket.parameters()].concat();
        assert_eq!(
            parameters,
            [
                ("CreateLogGroup", "true".to_owned()),
                ("LogGroupRetentionDays", "0".to_owned()),
                ("CreateBucket", "true".to_owned()),
                ("BucketExpirationDays", "90".to_owned()),
            ]
        );
        for (name, _) in parameters {
            assert!(link::PARAMETERS.contains(&name), "{name}");
        }
    }
}

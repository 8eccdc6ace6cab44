//! Why a target does not take logs, or could not be checked: one vocabulary for the
//! result of `verify` (each failed check's `cause`) and for delivery health
//! (`last_error.cause`, `parked_cause`), which a customer reads in one config document.
//! AWS errors become causes in one place, `logspoke_aws::classify`.

use crate::error::quoted;
use crate::newtype::str_conversions;
use crate::ParseError;
use serde::{Deserialize, Serialize};

/// Why a target refuses logs, or why checking it failed.
///
/// **Spellings.** `verify` and delivery health used to name two failures differently;
/// the delivery ledger's names won: `log_group_missing` (was `verify`'s
/// `log_group_not_found`) and `bucket_missing` (was `bucket_not_found`). The ledger's
/// causes are stored in DynamoDB items (parked objects, health items) that workers and
/// the api of every region read back for as long as the staging bucket keeps an object,
/// and that the previous release must still read during a rollout or a rollback; keeping
/// their spelling leaves the ledger's format unchanged. `verify`'s causes are stored only
/// in the api's own database (the checks of a config), which a migration rewrites.
/// [`Cause::parse`], and so serde, still reads the old spellings ([`Cause::RENAMED`]) for
/// one release: checks an api of the previous release stores during the rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Cause {
    /// The role is missing, or its trust policy does not name the provider role.
    RoleNotAssumable,
    /// The role trusts the provider but expects another ExternalId.
    ExternalIdMismatch,
    /// The role accepts an ExternalId other than the tenant's (a confused-deputy risk);
    /// only `verify` finds this.
    ExternalIdNotRequired,
    /// The role lacks a permission delivery needs (the message names the action).
    PermissionDenied,
    /// The log group does not exist in the target region.
    LogGroupMissing,
    /// The bucket does not exist.
    BucketMissing,
    /// The KMS key of the log group or bucket refuses the role.
    KmsDenied,
    /// The target exists in another region than the config names.
    RegionMismatch,
    /// The tenant has no ExternalId yet; only `verify` reports this.
    OnboardingRequired,
    /// The config is not verified (new, changed, or its ExternalId was rotated); only
    /// delivery reports this.
    AwaitingVerification,
    /// A verification did not finish within its deadline.
    Timeout,
    /// AWS throttled the calls.
    Throttled,
    /// AWS failed, did not answer or could not be reached.
    AwsUnavailable,
    /// The tenant's notification topic does not exist; only notifications report this
    /// (never stored in the delivery ledger).
    TopicMissing,
}

impl Cause {
    /// Every cause, in the order the API documents them.
    pub const ALL: [Self; 14] = [
        Self::RoleNotAssumable,
        Self::ExternalIdMismatch,
        Self::ExternalIdNotRequired,
        Self::PermissionDenied,
        Self::LogGroupMissing,
        Self::BucketMissing,
        Self::KmsDenied,
        Self::RegionMismatch,
        Self::OnboardingRequired,
        Self::AwaitingVerification,
        Self::Timeout,
        Self::Throttled,
        Self::AwsUnavailable,
        Self::TopicMissing,
    ];

    /// Spellings of the previous release that [`Cause::parse`] still reads, with the
    /// cause each now names. Remove them in the next release.
    pub const RENAMED: [(&'static str, Self); 2] = [
        ("log_group_not_found", Self::LogGroupMissing),
        ("bucket_not_found", Self::BucketMissing),
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleNotAssumable => "role_not_assumable",
            Self::ExternalIdMismatch => "external_id_mismatch",
            Self::ExternalIdNotRequired => "external_id_not_required",
            Self::PermissionDenied => "permission_denied",
            Self::LogGroupMissing => "log_group_missing",
            Self::BucketMissing => "bucket_missing",
            Self::KmsDenied => "kms_denied",
            Self::RegionMismatch => "region_mismatch",
            Self::OnboardingRequired => "onboarding_required",
            Self::AwaitingVerification => "awaiting_verification",
            Self::Timeout => "timeout",
            Self::Throttled => "throttled",
            Self::AwsUnavailable => "aws_unavailable",
            Self::TopicMissing => "topic_missing",
        }
    }

    /// Reads a wire spelling back, a [renamed](Cause::RENAMED) one included.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let current = Self::ALL.into_iter().find(|cause| cause.as_str() == raw);
        let renamed = || {
            Self::RENAMED
                .into_iter()
                .find_map(|(old, cause)| (old == raw).then_some(cause))
        };
        current
            .or_else(renamed)
            .ok_or_else(|| ParseError::new(format!("unknown cause {}", quoted(raw))))
    }

    /// True when the failure says nothing about the customer's setup (throttling, AWS
    /// failing or not answering, a verification out of time): retrying later may succeed
    /// with nothing changed. A verification that failed only for these stores nothing.
    /// Delivery parks objects for every other cause and for `throttled` (the account's
    /// quota is the customer's state), and retries the rest through the queue.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::AwsUnavailable | Self::Timeout)
    }

    /// What the customer (or an operator) should do about it, for the API document.
    pub fn what_to_do(self) -> &'static str {
        match self {
            Self::RoleNotAssumable => {
                "The role is missing or its trust policy does not name the provider role. Update or \
                 re-create the stack from the onboarding link."
            }
            Self::ExternalIdMismatch => {
                "The role trusts the provider but expects another ExternalId. Update the stack with the \
                 ExternalId from onboarding."
            }
            Self::ExternalIdNotRequired => {
                "The role can be assumed with an ExternalId that is not the tenant's, so anyone who learns \
                 its ARN could make Logspoke deliver into it. Update the stack from the onboarding link: its \
                 trust policy requires the tenant's ExternalId."
            }
            Self::PermissionDenied => {
                "The role lacks a permission delivery needs (the message names the action). Restore the \
                 policy of the onboarding template."
            }
            Self::LogGroupMissing => {
                "The log group does not exist in the target region. Create it again (or update the config \
                 to the group that exists)."
            }
            Self::BucketMissing => "The bucket does not exist. Create it again or update the config.",
            Self::KmsDenied => {
                "The KMS key of the log group or bucket refuses the role. Allow the role to use the key \
                 (kms:GenerateDataKey, kms:Encrypt)."
            }
            Self::RegionMismatch => {
                "The target exists in another region than the config names. Fix `target_region`."
            }
            Self::OnboardingRequired => {
                "The tenant has no ExternalId yet. Call onboarding, create the stack from its link, then \
                 verify."
            }
            Self::AwaitingVerification => {
                "The config is not verified (new, changed, or its ExternalId was rotated). Run verify once \
                 the stack is updated."
            }
            Self::Timeout => "The verification did not finish in time. Verify again.",
            Self::Throttled => {
                "The account's CloudWatch Logs quota (PutLogEvents requests per second) is used up, \
                 by this delivery or your own workloads: objects wait, parked, and are delivered as \
                 the account accepts them. If it persists, raise the quota (Service Quotas). A \
                 verification can be run again later."
            }
            Self::AwsUnavailable => {
                "AWS failed or could not be reached; the worker retries, nothing to do. A verification can \
                 be run again later."
            }
            Self::TopicMissing => {
                "The notification target's SNS topic does not exist. Create it again (the onboarding \
                 stack's NotificationEmail does) or put the notification target with the topic that \
                 exists."
            }
        }
    }

    /// The description of the API's `Cause` schema: what the causes are for, the renamed
    /// spellings, and one row per cause saying what to do.
    #[cfg(any(feature = "utoipa", test))]
    fn schema_description() -> String {
        let renamed: Vec<String> = Self::RENAMED
            .iter()
            .map(|(old, cause)| format!("`{old}` is now `{}`", cause.as_str()))
            .collect();
        let mut text = format!(
            "Why a check of `verify` failed, or why a target could not take an object (delivery health): \
             one vocabulary for both. Objects of a target failing for a cause the customer can fix are \
             parked and delivered in order once it works again (after `verify`, or when the worker's \
             probe succeeds); `throttled`, `aws_unavailable` and `timeout` are transient: the worker \
             retries, and a verification that failed only for them stores nothing.\n\n\
             Renamed in this release (`verify` and delivery health used to spell them differently, and \
             the former `DeliveryCause` schema is this one): {}. Responses carry the new spellings only; \
             the old ones are still accepted wherever a cause is read, stored verification results \
             included, until the next release.\n\n| cause | what to do |\n|---|---|\n",
            renamed.join(", ")
        );
        for cause in Self::ALL {
            text.push_str(&format!("| `{}` | {} |\n", cause.as_str(), cause.what_to_do()));
        }
        text
    }
}

impl From<Cause> for String {
    fn from(value: Cause) -> Self {
        value.as_str().to_owned()
    }
}

str_conversions!(Cause);

/// The OpenAPI schema: a string enum of the current spellings, described with what to do
/// about each.
#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for Cause {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Cause::ALL.iter().map(|c| c.as_str())))
            .description(Some(Cause::schema_description()))
            .into()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for Cause {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_rejects;

    #[test]
    fn every_cause_round_trips_through_its_spelling_and_serde() -> Result<(), serde_json::Error> {
        for cause in Cause::ALL {
            assert_eq!(Cause::parse(cause.as_str()), Ok(cause));
            assert_eq!(serde_json::to_string(&cause)?, format!("\"{cause}\""));
            assert_eq!(serde_json::from_str::<Cause>(&format!("\"{cause}\""))?, cause);
        }
        Ok(())
    }

    #[test]
    fn the_spellings_of_the_previous_release_are_still_read_and_never_written(
    ) -> Result<(), serde_json::Error> {
        let old = [
            ("log_group_not_found", Cause::LogGroupMissing),
            ("bucket_not_found", Cause::BucketMissing),
        ];
        assert_eq!(Cause::RENAMED, old);
        for (spelling, cause) in old {
            assert_eq!(Cause::parse(spelling), Ok(cause));
            assert_eq!(serde_json::from_str::<Cause>(&format!("\"{spelling}\""))?, cause);
            assert_ne!(cause.as_str(), spelling);
        }
        Ok(())
    }

    #[test]
    fn only_failures_that_say_nothing_about_the_customers_setup_are_transient() {
        let transient: Vec<_> = Cause::ALL.into_iter().filter(|c| c.is_transient()).collect();
        assert_eq!(
            transient,
            [Cause::Timeout, Cause::Throttled, Cause::AwsUnavailable]
        );
    }

    #[test]
    fn unknown_spellings_are_rejected() {
        assert_rejects(
            Cause::parse,
            &[
                ("gremlins", "unknown cause 'gremlins'"),
                ("", "unknown cause ''"),
                ("Log_Group_Missing", "unknown cause 'Log_Group_Missing'"),
            ],
        );
    }

    #[test]
    fn the_schema_description_names_the_renamed_spellings_and_says_what_to_do_about_each_cause() {
        let description = Cause::schema_description();
        for (old, cause) in Cause::RENAMED {
            assert!(
                description.contains(&format!("`{old}` is now `{cause}`")),
                "{old}"
            );
        }
        for cause in Cause::ALL {
            let row = format!("| `{cause}` | {} |", cause.what_to_do());
            assert!(description.contains(&row), "{cause:?}");
        }
    }
}

//! IAM role ARNs.

use crate::newtype::str_conversions;
use crate::{AccountId, ParseError, Partition};
use serde::{Deserialize, Serialize};

/// Longest IAM path, counting its leading and trailing `/`.
const MAX_PATH_LEN: usize = 512;
/// Longest IAM role name.
const MAX_NAME_LEN: usize = 64;
/// The IAM path the onboarding template creates customer roles under. The provider role
/// may assume only roles under it, so a customer role ARN outside it could never work.
pub const CUSTOMER_ROLE_PATH: &str = "/logspoke/";

/// The ARN of the IAM role in the customer's account that Logspoke assumes to deliver.
///
/// Shape: `arn:{aws|aws-cn|aws-us-gov}:iam::{12 digits}:role/{optional/path/}{name}`.
/// Checked in full at the edge because a malformed ARN otherwise only fails inside
/// `AssumeRole` in the worker, long after the customer saved it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArn {
    arn: String,
    partition: Partition,
    account_id: AccountId,
    path: String,
    name: String,
}

impl RoleArn {
    /// What [`RoleArn::parse`] followed by [`RoleArn::check_customer_role`] accepts (for
    /// a provider in another account), as an ECMA-262 pattern for API documents.
    pub const CUSTOMER_ROLE_PATTERN: &'static str =
        r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/logspoke/[A-Za-z0-9+=,.@_-]{1,64}$";

    /// Validates `s` as an IAM role ARN.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.chars().any(char::is_whitespace) {
            return Err(ParseError::new("must not contain whitespace"));
        }
        let fields: Vec<&str> = s.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = fields[..] else {
            return Err(ParseError::new(
                "must look like arn:aws:iam::123456789012:role/name",
            ));
        };
        if prefix != "arn" {
            return Err(ParseError::new("must start with 'arn:'"));
        }
        let partition = Partition::parse(partition)?;
        check_service_and_region(service, region)?;
        let account_id =
            AccountId::parse(account).map_err(|_| ParseError::new("account id must be 12 digits"))?;
        let (path, name) = parse_resource(resource)?;
        Ok(Self {
            arn: s.to_owned(),
            partition,
            account_id,
            path,
            name: name.to_owned(),
        })
    }

    /// The full ARN, as passed to `AssumeRole`.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The partition the role lives in; the delivery region must be in the same one.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The customer's AWS account id.
    pub fn account_id(&self) -> &str {
        self.account_id.as_str()
    }

    /// The role name, without its path.
    pub fn role_name(&self) -> &str {
        &self.name
    }

    /// The IAM path, with leading and trailing `/`: `/` when the ARN has none, else
    /// e.g. `/team/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks that this ARN may name a customer's delivery role for a provider whose
    /// own role is `provider`: its path is exactly [`CUSTOMER_ROLE_PATH`] (what the
    /// onboarding template creates; the provider role may assume nothing else) and in another
    /// account than the provider's: a role in the provider's own account would let a
    /// tenant steer the provider into its own resources (its staging bucket, its roles).
    pub fn check_customer_role(&self, provider: &RoleArn) -> Result<(), ParseError> {
        if self.account_id == provider.account_id {
            return Err(ParseError::new(
                "must be a role in the customer's account, not in the provider's",
            ));
        }
        if self.path != CUSTOMER_ROLE_PATH {
            return Err(ParseError::new(format!(
                "must be a role with the path {CUSTOMER_ROLE_PATH} (as the onboarding template \
                 creates it: arn:{}:iam::{}:role{CUSTOMER_ROLE_PATH}{})",
                self.partition.as_str(),
                self.account_id.as_str(),
                self.name
            )));
        }
        Ok(())
    }
}

/// IAM is global: the service must be `iam` and the region field empty.
fn check_service_and_region(service: &str, region: &str) -> Result<(), ParseError> {
    if service != "iam" {
        return Err(ParseError::new("service must be iam"));
    }
    if !region.is_empty() {
        return Err(ParseError::new("region field must be empty (IAM is global)"));
    }
    Ok(())
}

/// Splits `role/{path/}{name}` into the normalised path (`/` or `/a/b/`) and the name.
fn parse_resource(resource: &str) -> Result<(String, &str), ParseError> {
    let Some(rest) = resource.strip_prefix("role/") else {
        return Err(ParseError::new("resource must start with 'role/'"));
    };
    let (inner_path, name) = match rest.rsplit_once('/') {
        Some((inner_path, name)) => (Some(inner_path), name),
        None => (None, rest),
    };
    let path = match inner_path {
        Some(inner_path) => parse_path(inner_path)?,
        None => "/".to_owned(),
    };
    check_role_name(name)?;
    Ok((path, name))
}

/// Checks the path between `role/` and the name and returns it as `/{inner_path}/`.
fn parse_path(inner_path: &str) -> Result<String, ParseError> {
    if inner_path.split('/').any(str::is_empty) {
        return Err(ParseError::new("role path must not contain empty segments"));
    }
    if !inner_path.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ParseError::new(
            "role path may contain only printable ASCII characters",
        ));
    }
    let path = format!("/{inner_path}/");
    if path.len() > MAX_PATH_LEN {
        return Err(ParseError::new("role path must be at most 512 characters"));
    }
    Ok(path)
}

/// Checks a role name: 1 to 64 characters of `[A-Za-z0-9+=,.@_-]`.
fn check_role_name(name: &str) -> Result<(), ParseError> {
    if name.is_empty() {
        return Err(ParseError::new("role name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ParseError::new("role name must be at most 64 characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if !name.chars().all(allowed) {
        return Err(ParseError::new(
            "role name may contain only letters, digits and + = , . @ _ -",
        ));
    }
    Ok(())
}

impl From<RoleArn> for String {
    fn from(value: RoleArn) -> Self {
        value.arn
    }
}

str_conversions!(RoleArn);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_accepts, assert_rejects};

    #[test]
    fn accepts_valid_arns() {
        let longest_name = format!("arn:aws:iam::123456789012:role/{}", "r".repeat(64));
        let longest_path = format!("arn:aws:iam::123456789012:role/{}/n", "p".repeat(510));
        assert_accepts(
            RoleArn::parse,
            &[
                "arn:aws:iam::123456789012:role/LogspokeDelivery",
                "arn:aws-cn:iam::123456789012:role/x",
                "arn:aws-us-gov:iam::000000000000:role/x",
                "arn:aws:iam::123456789012:role/team/LogspokeDelivery",
                "arn:aws:iam::123456789012:role/a/b/c/d",
                "arn:aws:iam::123456789012:role/service-role/my.role+=,@_-",
                "arn:aws:iam::123456789012:role/odd!path~chars:ok/name",
                &longest_name,
                &longest_path,
            ],
        );
    }

    #[test]
    fn exposes_its_parts() {
        let cases = [
            (
                "arn:aws:iam::123456789012:role/Delivery",
                (Partition::Aws, "123456789012", "/", "Delivery"),
            ),
            (
                "arn:aws-cn:iam::000000000001:role/team/Delivery",
                (Partition::AwsCn, "000000000001", "/team/", "Delivery"),
            ),
            (
                "arn:aws-us-gov:iam::123456789012:role/a/b/R",
                (Partition::AwsUsGov, "123456789012", "/a/b/", "R"),
            ),
        ];
        for (input, expected) in cases {
            let got = RoleArn::parse(input).map(|arn| {
                (
                    arn.partition(),
                    arn.account_id().to_owned(),
                    arn.path().to_owned(),
                    arn.role_name().to_owned(),
                )
            });
            let (partition, account, path, name) = expected;
            let expected = (partition, account.to_owned(), path.to_owned(), name.to_owned());
            assert_eq!(got, Ok(expected), "input {input:?}");
        }
    }

    #[test]
    fn rejects_invalid_arns_with_specific_errors() {
        let long_name = format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65));
        let long_path = format!("arn:aws:iam::123456789012:role/{}/n", "p".repeat(511));
        let shape = "must look like arn:aws:iam::123456789012:role/name";
        let account = "account id must be 12 digits";
        let resource = "resource must start with 'role/'";
        let name_chars = "role name may contain only letters, digits and + = , . @ _ -";
        assert_rejects(
            RoleArn::parse,
            &[
                ("", shape),
                ("LogspokeDelivery", shape),
                ("arn:aws:iam::123456789012", shape),
                ("arn:aws:iam:123456789012:role/x", shape),
                ("urn:aws:iam::123456789012:role/x", "must start with 'arn:'"),
                ("ARN:aws:iam::123456789012:role/x", "must start with 'arn:'"),
                (
                    "arn:aws-iso:iam::123456789012:role/x",
                    "partition must be aws, aws-cn or aws-us-gov",
                ),
                (
                    "arn::iam::123456789012:role/x",
                    "partition must be aws, aws-cn or aws-us-gov",
                ),
                ("arn:aws:sts::123456789012:role/x", "service must be iam"),
                ("arn:aws:IAM::123456789012:role/x", "service must be iam"),
                (
                    "arn:aws:iam:us-east-1:123456789012:role/x",
                    "region field must be empty (IAM is global)",
                ),
                ("arn:aws:iam::12345678901:role/x", account),
                ("arn:aws:iam::1234567890123:role/x", account),
                ("arn:aws:iam::12345678901a:role/x", account),
                ("arn:aws:iam:::role/x", account),
                ("arn:aws:iam::123456789012:user/x", resource),
                ("arn:aws:iam::123456789012:Role/x", resource),
                ("arn:aws:iam::123456789012:role", resource),
                ("arn:aws:iam::123456789012:rolex", resource),
                ("arn:aws:iam::123456789012:role/", "role name must not be empty"),
                (
                    "arn:aws:iam::123456789012:role/team/",
                    "role name must not be empty",
                ),
                (
                    "arn:aws:iam::123456789012:role//x",
                    "role path must not contain empty segments",
                ),
                (
                    "arn:aws:iam::123456789012:role/a//x",
                    "role path must not contain empty segments",
                ),
                (
                    "arn:aws:iam::123456789012:role/é/x",
                    "role path may contain only printable ASCII characters",
                ),
                (&long_path, "role path must be at most 512 characters"),
                (&long_name, "role name must be at most 64 characters"),
                ("arn:aws:iam::123456789012:role/a:b", name_chars),
                ("arn:aws:iam::123456789012:role/a*b", name_chars),
                ("arn:aws:iam::123456789012:role/ré", name_chars),
                ("arn:aws:iam::123456789012:role/a#b", name_chars),
                ("arn:aws:iam::123456789012:role/x ", "must not contain whitespace"),
                (" arn:aws:iam::123456789012:role/x", "must not contain whitespace"),
                (
                    "arn:aws:iam::123456789012:role/a b",
                    "must not contain whitespace",
                ),
                (
                    "arn:aws:iam::123456789012:role/x\n",
                    "must not contain whitespace",
                ),
            ],
        );
    }

    #[test]
    fn customer_roles_have_the_template_path_outside_the_provider_account() {
        let provider = RoleArn::parse("arn:aws:iam::111111111111:role/logspoke-provider").unwrap();
        let check = |arn: &str| {
            RoleArn::parse(arn)
                .unwrap()
                .check_customer_role(&provider)
                .map_err(|e| e.message)
        };
        assert_eq!(check("arn:aws:iam::222222222222:role/logspoke/Delivery"), Ok(()));
        // Only the template's path: the provider role may assume nothing else.
        assert!(check("arn:aws:iam::222222222222:role/logspoke/team/Delivery").is_err());
        let own = Err("must be a role in the customer's account, not in the provider's".to_owned());
        assert_eq!(check("arn:aws:iam::111111111111:role/logspoke/Delivery"), own);
        assert_eq!(check("arn:aws:iam::111111111111:role/logspoke-worker"), own);
        let outside = Err(
            "must be a role with the path /logspoke/ (as the onboarding template creates \
                           it: arn:aws:iam::222222222222:role/logspoke/Delivery)"
                .to_owned(),
        );
        assert_eq!(check("arn:aws:iam::222222222222:role/Delivery"), outside);
        assert!(check("arn:aws:iam::222222222222:role/logspokex/Delivery").is_err());
        assert!(check("arn:aws:iam::222222222222:role/team/logspoke/Delivery").is_err());
    }

    #[test]
    fn serde_round_trips_through_parse() -> Result<(), serde_json::Error> {
        let text = "\"arn:aws:iam::123456789012:role/team/Delivery\"";
        let arn: RoleArn = serde_json::from_str(text)?;
        assert_eq!(arn.role_name(), "Delivery");
        assert_eq!(serde_json::to_string(&arn)?, text);
        assert!(serde_json::from_str::<RoleArn>("\"arn:aws:sts::123456789012:role/x\"").is_err());
        Ok(())
    }
}

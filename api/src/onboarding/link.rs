//! The CloudFormation console quick-create link a customer opens to create the role.

use logspoke_contract::{Partition, Region, TenantId};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Longest template URL CloudFormation accepts.
pub const MAX_TEMPLATE_URL: usize = 1024;

/// The tenant's ExternalId, which the role's trust policy requires.
pub const EXTERNAL_ID: &str = "ExternalId";
/// The provider role the customer's role trusts.
pub const PROVIDER_ROLE_ARN: &str = "ProviderRoleArn";
/// The log group the role may write (empty: none).
pub const LOG_GROUP_NAME: &str = "LogGroupName";
/// `true`: the stack creates that log group.
pub const CREATE_LOG_GROUP: &str = "CreateLogGroup";
/// The created log group's retention in days (0: never expire).
pub const LOG_GROUP_RETENTION_DAYS: &str = "LogGroupRetentionDays";
/// The bucket the role may write (empty: none).
pub const BUCKET_NAME: &str = "BucketName";
/// The prefix the role may write under, normalised (empty: the whole bucket).
pub const BUCKET_PREFIX: &str = "BucketPrefix";
/// `true`: the stack creates that bucket.
pub const CREATE_BUCKET: &str = "CreateBucket";
/// After how many days the created bucket deletes delivered objects (0: never).
pub const BUCKET_EXPIRATION_DAYS: &str = "BucketExpirationDays";
/// The KMS key the copies are encrypted with (the S3 config's `kms_key_arn`): the role
/// gets `kms:GenerateDataKey` on it through S3, and a created bucket uses it by default.
pub const BUCKET_KMS_KEY_ARN: &str = "BucketKmsKeyArn";

/// Template parameters the quick-create link fills (each only when it has a value). The
/// template must declare each one (the console silently drops unknown `param_` names,
/// which would leave the customer's role without the ExternalId condition value, with a
/// wider S3 grant than the config's prefix, or without the log group it was asked to
/// create); `template_check` compares them with the published template.
pub const PARAMETERS: [&str; 10] = [
    EXTERNAL_ID,
    PROVIDER_ROLE_ARN,
    LOG_GROUP_NAME,
    CREATE_LOG_GROUP,
    LOG_GROUP_RETENTION_DAYS,
    BUCKET_NAME,
    BUCKET_PREFIX,
    CREATE_BUCKET,
    BUCKET_EXPIRATION_DAYS,
    BUCKET_KMS_KEY_ARN,
];

/// A validated `LOGSPOKE_CUSTOMER_TEMPLATE_URL`: an https URL of an S3 object (plain
/// http only for a loopback emulator), at most 1024 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUrl(String);

impl TemplateUrl {
    /// Checks scheme, host and length.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_TEMPLATE_URL {
            return Err(format!("must be at most {MAX_TEMPLATE_URL} characters"));
        }
        let (scheme, rest) = raw.split_once("://").ok_or("must be a URL")?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_name = host.split(':').next().unwrap_or("");
        let is_s3 = host_name.ends_with(".amazonaws.com") || host_name.ends_with(".amazonaws.com.cn");
        let is_loopback = matches!(host_name, "127.0.0.1" | "localhost");
        let path = &rest[host.len()..];
        match scheme {
            "https" if is_s3 || is_loopback => {}
            "http" if is_loopback => {}
            _ => return Err("must be an https URL of an S3 object (http only for a local emulator)".into()),
        }
        if path.len() < 2 {
            return Err("must name the template object".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The suggested stack name: a letter first, then letters, digits and hyphens (tenant
/// ids are lowercase letters, digits and hyphens), at most 128 characters.
pub fn stack_name(tenant_id: &TenantId) -> String {
    let mut name = format!("Logspoke-{tenant_id}-delivery-role");
    name.truncate(128);
    name
}

/// The AWS console host of a region's partition.
pub fn console_host(region: Region) -> String {
    let region = region.as_str();
    match region_partition(region) {
        Partition::Aws => format!("https://{region}.console.aws.amazon.com"),
        Partition::AwsCn => format!("https://{region}.console.amazonaws.cn"),
        Partition::AwsUsGov => format!("https://{region}.console.amazonaws-us-gov.com"),
    }
}

fn region_partition(region: &str) -> Partition {
    Region::parse(region)
        .map(|r| r.partition())
        .unwrap_or(Partition::Aws)
}

/// Builds the quick-create URL. `parameters` are template parameter names and values;
/// empty values are left out (the template's defaults apply).
pub fn quick_create_url(
    region: Region,
    template: &TemplateUrl,
    stack: &str,
    parameters: &[(&str, &str)],
) -> String {
    let encode = |value: &str| utf8_percent_encode(value, COMPONENT).to_string();
    let mut url = format!(
        "{}/cloudformation/home?region={}#/stacks/quickcreate?templateURL={}&stackName={}",
        console_host(region),
        region.as_str(),
        encode(template.as_str()),
        encode(stack),
    );
    for (name, value) in parameters.iter().filter(|(_, v)| !v.is_empty()) {
        url.push_str(&format!("&param_{name}={}", encode(value)));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> TemplateUrl {
        TemplateUrl::parse("https://logspoke-templates.s3.amazonaws.com/v1/customer-log-delivery-role.yaml")
            .unwrap()
    }

    #[test]
    fn link_encodes_every_value_and_skips_empty_parameters() {
        let region = Region::parse("eu-west-1").unwrap();
        let url = quick_create_url(
            region,
            &template(),
            "Logspoke-acme-delivery-role",
            &[
                ("ExternalId", "Ab12"),
                ("ProviderRoleArn", "arn:aws:iam::111111111111:role/P"),
                ("LogGroupName", "/logspoke/acme #1"),
                ("BucketName", ""),
                ("BucketPrefix", ""),
            ],
        );
        assert_eq!(
            url,
            "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/quickcreate\
             ?templateURL=https%3A%2F%2Flogspoke-templates.s3.amazonaws.com%2Fv1%2Fcustomer-log-delivery-role.yaml\
             &stackName=Logspoke-acme-delivery-role&param_ExternalId=Ab12\
             &param_ProviderRoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2FP\
             &param_LogGroupName=%2Flogspoke%2Facme%20%231"
        );
    }

    #[test]
    fn link_fills_the_bucket_and_its_prefix() {
        let region = Region::parse("eu-west-1").unwrap();
        let url = quick_create_url(
            region,
            &template(),
            "Logspoke-acme-delivery-role",
            &[
                ("ExternalId", "Ab12"),
                ("BucketName", "acme-logs"),
                ("BucketPrefix", "k8s/prod eu/"),
            ],
        );
        assert!(
            url.ends_with(
                "&param_ExternalId=Ab12&param_BucketName=acme-logs&param_BucketPrefix=k8s%2Fprod%20eu%2F"
            ),
            "{url}"
        );
    }

    #[test]
    fn console_host_follows_the_partition() {
        let cases = [
            ("us-east-1", "https://us-east-1.console.aws.amazon.com"),
            ("cn-north-1", "https://cn-north-1.console.amazonaws.cn"),
            (
                "us-gov-west-1",
                "https://us-gov-west-1.console.amazonaws-us-gov.com",
            ),
        ];
        for (region, host) in cases {
            assert_eq!(console_host(Region::parse(region).unwrap()), host);
        }
    }

    #[test]
    fn stack_names_follow_cloudformation_rules() {
        for id in ["a", "acme", "0acme", &"9".repeat(63)] {
            let name = stack_name(&TenantId::parse(id).unwrap());
            assert!(name.len() <= 128);
            assert!(name.starts_with(|c: char| c.is_ascii_alphabetic()), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn template_url_table() {
        let long = format!("https://b.s3.amazonaws.com/{}", "a".repeat(1024));
        let accepted = [
            "https://b.s3.amazonaws.com/t.yaml",
            "https://s3.eu-west-1.amazonaws.com/b/t.yaml",
            "https://b.s3.cn-north-1.amazonaws.com.cn/t.yaml",
            "http://127.0.0.1:4566/templates/t.yaml",
        ];
        let rejected = [
            "",
            "b.s3.amazonaws.com/t.yaml",
            "http://b.s3.amazonaws.com/t.yaml",
            "https://example.com/t.yaml",
            "https://b.s3.amazonaws.com/",
            "ftp://127.0.0.1/t.yaml",
            long.as_str(),
        ];
        for url in accepted {
            assert!(TemplateUrl::parse(url).is_ok(), "{url}");
        }
        for url in rejected {
            assert!(TemplateUrl::parse(url).is_err(), "{url}");
        }
    }
}

//! SDK clients for a customer's account, built from an assumed role's credentials.
//!
//! The api's verification probes and the worker's deliveries must reach a customer's
//! target exactly the same way (same region, same S3 addressing), or `verify` could pass
//! where delivery fails. Both build their clients here.

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::types::ServerSideEncryption;
use logspoke_contract::{BucketName, KmsKeyArn, Region, StorageClass};

use crate::use_path_style;

/// CloudWatch Logs in `region` of the account `credentials` belong to.
pub fn tenant_logs(
    sdk: &SdkConfig,
    credentials: Credentials,
    region: &Region,
) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .region(sdk_region(region))
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

/// S3 in `region` of the account `credentials` belong to.
pub fn tenant_s3(sdk: &SdkConfig, credentials: Credentials, region: &Region) -> aws_sdk_s3::Client {
    let config = s3_config(sdk)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .region(sdk_region(region))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A PutObject into a tenant's bucket as the worker's copies and `verify`'s marker make
/// it: refused unless the bucket belongs to `owner` (the tenant role's account), in the
/// config's storage class and, with a KMS key, SSE-KMS under that key. Body, length and
/// content type are the caller's.
pub fn tenant_put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &BucketName,
    owner: &str,
    key: &str,
    storage_class: Option<StorageClass>,
    kms_key_arn: Option<&KmsKeyArn>,
) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
    s3.put_object()
        .bucket(bucket.as_str())
        .expected_bucket_owner(owner)
        .key(key)
        .set_storage_class(storage_class.map(|c| c.as_str().into()))
        .set_server_side_encryption(kms_key_arn.map(|_| ServerSideEncryption::AwsKms))
        .set_ssekms_key_id(kms_key_arn.map(|k| k.as_str().to_owned()))
}

/// S3 with the SDK's own credentials and region (the provider's staging bucket).
pub fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(sdk).build())
}

fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(use_path_style(sdk))
}

fn sdk_region(region: &Region) -> aws_config::Region {
    aws_config::Region::new(region.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new("AKIA", "secret", Some("token".into()), None, "test")
    }

    #[test]
    fn tenant_clients_use_the_targets_region_not_the_sdks_own() {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let region = Region::parse("us-east-2").unwrap();
        let logs = tenant_logs(&sdk, credentials(), &region);
        assert_eq!(logs.config().region().map(|r| r.as_ref()), Some("us-east-2"));
        let s3 = tenant_s3(&sdk, credentials(), &region);
        assert_eq!(s3.config().region().map(|r| r.as_ref()), Some("us-east-2"));
    }
}

//! Copying a staged object into the tenant's bucket.
//!
//! The worker reads the object with its own credentials and writes it with the tenant
//! role's, so the tenant's account owns the copy; the body is streamed from one to the
//! other, never held in memory. Written by a role of the bucket owner's account, the copy
//! is owned by the bucket owner (the `bucket-owner-full-control` outcome without an ACL
//! header, which BucketOwnerEnforced buckets and the customer template do without). The
//! copy is sent with `ExpectedBucketOwner` = the tenant role's account: a bucket of the
//! same name in another account (deleted and re-created by someone else, or mistyped)
//! refuses it (403) instead of receiving the tenant's logs, and the object is parked as
//! `permission_denied` with a message saying so. The key is the staged key under the
//! configured prefix:
//! `{prefix}{tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{file}`, or
//! without the namespace for an object staged before the namespace joined the key (the
//! copy keeps the layout it was staged in, so one namespace's copies never mix with
//! another's).

use aws_sdk_s3::primitives::ByteStream;
use logspoke_aws::AwsError;
use logspoke_contract::{BucketName, BucketPrefix, ObjectKey};

/// Where the copy goes in the tenant's bucket.
pub fn target_key(prefix: &BucketPrefix, layout: &ObjectKey) -> String {
    format!("{prefix}{layout}")
}

/// Writes `body` (of `length` bytes) as `key` in the tenant's bucket, which must be
/// owned by `owner` (the tenant role's account).
pub async fn put(
    tenant_s3: &aws_sdk_s3::Client,
    bucket: &BucketName,
    owner: &str,
    key: &str,
    body: ByteStream,
    length: Option<i64>,
) -> Result<(), AwsError> {
    let content_type = if key.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/x-ndjson"
    };
    let result = tenant_s3
        .put_object()
        .bucket(bucket.as_str())
        .expected_bucket_owner(owner)
        .key(key)
        .body(body)
        .set_content_length(length)
        .content_type(content_type)
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from);
    crate::telemetry::aws_call("PutObject", &result);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_the_staged_key_under_the_prefix() {
        let layout = ObjectKey::parse("acme/c1/shop/checkout/pod-7/1700000000-u.json.gz").unwrap();
        let prefix = BucketPrefix::parse("k8s/logs").unwrap();
        assert_eq!(
            target_key(&prefix, &layout),
            "k8s/logs/acme/c1/shop/checkout/pod-7/1700000000-u.json.gz"
        );
        let root = BucketPrefix::parse("").unwrap();
        assert_eq!(
            target_key(&root, &layout),
            "acme/c1/shop/checkout/pod-7/1700000000-u.json.gz"
        );
    }

    #[test]
    fn copies_of_keys_without_a_namespace_keep_their_layout() {
        let layout = ObjectKey::parse("acme/c1/checkout/pod-7/1700000000-u.json.gz").unwrap();
        let prefix = BucketPrefix::parse("k8s/logs").unwrap();
        assert_eq!(
            target_key(&prefix, &layout),
            "k8s/logs/acme/c1/checkout/pod-7/1700000000-u.json.gz"
        );
    }

    #[tokio::test]
    async fn a_copy_names_the_account_that_must_own_the_bucket() {
        let (endpoint, heads) = logspoke_test_support::recording_s3::start().await;
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKID", "secret", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let bucket = BucketName::parse("acme-logs").unwrap();
        put(
            &client,
            &bucket,
            "222222222222",
            "k8s/x.json.gz",
            ByteStream::from_static(b"{}"),
            Some(2),
        )
        .await
        .unwrap();
        let head = heads.lock().unwrap().pop().unwrap();
        assert!(
            head.contains("x-amz-expected-bucket-owner: 222222222222"),
            "the copy must be refused by a bucket another account owns: {head}"
        );
    }
}

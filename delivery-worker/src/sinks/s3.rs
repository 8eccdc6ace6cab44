//! Copying a staged object into the tenant's bucket.
//!
//! The worker reads the object with its own credentials and writes it with the tenant
//! role's, so the tenant's account owns the copy; the body is streamed from one to the
//! other, never held in memory. The key drops the tenant segment (it is the tenant's own
//! bucket) and goes under the configured prefix: `{prefix}{cluster}/{app}/{pod}/{file}`.

use aws_sdk_s3::primitives::ByteStream;
use logspoke_aws::AwsError;
use logspoke_contract::{BucketName, BucketPrefix, ObjectKey};

/// Where the copy goes in the tenant's bucket.
pub fn target_key(prefix: &BucketPrefix, layout: &ObjectKey) -> String {
    format!(
        "{prefix}{}/{}/{}/{}",
        layout.cluster_id(),
        layout.application(),
        layout.pod_name(),
        layout.file()
    )
}

/// Writes `body` (of `length` bytes) as `key` in the tenant's bucket.
pub async fn put(
    tenant_s3: &aws_sdk_s3::Client,
    bucket: &BucketName,
    key: &str,
    body: ByteStream,
    length: Option<i64>,
) -> Result<(), AwsError> {
    let content_type = if key.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/x-ndjson"
    };
    tenant_s3
        .put_object()
        .bucket(bucket.as_str())
        .key(key)
        .body(body)
        .set_content_length(length)
        .content_type(content_type)
        .send()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_go_under_the_prefix_without_the_tenant_segment() {
        let layout = ObjectKey::parse("acme/c1/checkout/pod-7/1700000000-u.json.gz").unwrap();
        let prefix = BucketPrefix::parse("k8s/logs").unwrap();
        assert_eq!(
            target_key(&prefix, &layout),
            "k8s/logs/c1/checkout/pod-7/1700000000-u.json.gz"
        );
        let root = BucketPrefix::parse("").unwrap();
        assert_eq!(
            target_key(&root, &layout),
            "c1/checkout/pod-7/1700000000-u.json.gz"
        );
    }
}

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
//!
//! **Filtered copies.** A config whose filter keeps every line of the object (no filter,
//! or rules on the key that keep it) gets the byte-for-byte copy above. Otherwise
//! ([`copy_filtered`]) the worker writes, to the same key and with the same headers, a
//! new gzip NDJSON object of the lines the filter keeps, each byte for byte as staged
//! (its `\n` included; a last line without one gets one). Lines that are not log events
//! are left out (and counted as bad lines, as CloudWatch does). An object the filter
//! empties is not written at all; it counts as delivered, its lines as filtered.
//!
//! **Key layout.** The config's [`KeyLayout`] names the copy's key: the staged key under
//! the prefix, or Hive-style partitions by cluster, namespace and the date and hour of
//! the object's first event, which [`first_event_ms`] reads from the object's first bytes
//! (a ranged read, before the copy is written; the object's own time when its first line
//! does not end within them or has no timestamp).
//!
//! The filtered copy is compressed into memory and written with one `PutObject`: the
//! customer's role may only `s3:PutObject`, so a multipart upload that failed midway
//! could not be aborted (`s3:AbortMultipartUpload`) and would leave invisible parts
//! billed to the customer. What a filtered copy holds is bounded: its compressed kept
//! lines, at most [`MAX_FILTERED_BYTES`] (a collector's object has at most ~10 MB of
//! lines, so even incompressible kept lines fit; typical logs compress 5–10×, so the
//! buffer is about the staged object's own compressed size or less; past the bound the
//! object is rejected for this target as `too_large`), and a long line, which holds
//! itself and its decoded copy, reserved from the decode budget
//! ([`FILTERED_LONG_LINE_COST`]). The compressed buffer is not reserved from that budget
//! (a second reservation while holding one could deadlock): it adds to the object's
//! fixed share, `P` in `crate::budget`.

use std::io::{self, Read, Write};

use aws_sdk_s3::primitives::ByteStream;
use flate2::write::GzEncoder;
use flate2::Compression;
use logspoke_aws::AwsError;
use logspoke_contract::{BucketName, BucketPrefix, Cause, KeyLayout, KmsKeyArn, ObjectKey, StorageClass};
use tokio_util::io::SyncIoBridge;

use super::cloudwatch::Tuning;
use super::{read_failed, record_bad_lines, Delivered, Step, TargetError};
use crate::budget::DecodeBudget;
use crate::filter::LineFilter;
use crate::reader::{EventReader, ReadError, ReadStats, DEFAULT_MAX_LINE_BYTES};

/// Largest filtered copy, compressed.
pub const MAX_FILTERED_BYTES: usize = 16 * 1024 * 1024;

/// What a long line holds while a filtered copy is written: the line as staged and the
/// copy its message is decoded in.
pub const FILTERED_LONG_LINE_COST: usize = 2 * (DEFAULT_MAX_LINE_BYTES + 1);

/// Content type of a filtered copy (always gzip).
const GZIP: &str = "application/gzip";

/// Where the copy goes: the tenant's bucket (through a client with the tenant role's
/// credentials), the account that must own it, the key, and whose it is.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The tenant (its share of the decode budget).
    pub tenant_id: &'a str,
    /// A client with the tenant role's credentials, in the target's region.
    pub client: &'a aws_sdk_s3::Client,
    /// The tenant's bucket.
    pub bucket: &'a BucketName,
    /// The account that must own the bucket: the tenant role's.
    pub owner: &'a str,
    /// The copy's key ([`target_key`]).
    pub key: &'a str,
    /// The copy's storage class (`None`: the bucket's default).
    pub storage_class: Option<StorageClass>,
    /// The KMS key the copy is encrypted with (`None`: the bucket's default encryption).
    pub kms_key_arn: Option<&'a KmsKeyArn>,
}

/// How much of a staged object [`first_event_ms`] reads: the first line of a collector's
/// object ends well within it.
pub const FIRST_EVENT_BYTES: usize = 64 * 1024;

/// Where the copy goes in the tenant's bucket (`first_event_ms` dates a Hive key).
pub fn target_key(
    layout: KeyLayout,
    prefix: &BucketPrefix,
    object: &ObjectKey,
    first_event_ms: i64,
) -> String {
    layout.key(prefix, object, first_event_ms)
}

/// The time of the first event in `head`, the first bytes of a staged object (gzip or
/// not, cut anywhere); `fallback` when its first line does not end within them, is not
/// a log event or has no timestamp.
pub fn first_event_ms(head: &[u8], fallback: i64) -> i64 {
    let mut text = Vec::with_capacity(FIRST_EVENT_BYTES);
    if head.starts_with(&[0x1f, 0x8b]) {
        // A cut stream ends in an error once its bytes run out; what was inflated until
        // then is what counts, so the error itself is of no interest.
        let _ = flate2::read::MultiGzDecoder::new(head)
            .take(FIRST_EVENT_BYTES as u64 * 4)
            .read_to_end(&mut text);
    } else {
        text.extend_from_slice(head);
    }
    let Some(end) = memchr::memchr(b'\n', &text) else {
        return fallback;
    };
    let mut reader = match EventReader::new(&text[..=end], fallback) {
        Ok(reader) => reader,
        Err(_) => return fallback,
    };
    match reader.next_event() {
        Ok(Some(event)) => event.timestamp_ms,
        _ => fallback,
    }
}

/// The content type of a byte-for-byte copy, from its key.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".gz") {
        GZIP
    } else {
        "application/x-ndjson"
    }
}

/// Copies `body` (the staged object, `length` bytes) byte for byte to `to`.
pub async fn copy(
    to: &Destination<'_>,
    body: ByteStream,
    length: Option<i64>,
) -> Result<Delivered, TargetError> {
    put(to, body, length, content_type(to.key))
        .await
        .map_err(|e| TargetError::aws(Step::PutObject, &e, None).or_not_owned_by(to.owner))?;
    Ok(Delivered {
        bytes: length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
        batches: 1,
        ..Delivered::default()
    })
}

/// Writes the lines of `body` that `lines` keeps to `to` as a gzip NDJSON object, or
/// nothing when it keeps none; the lines it removed are counted either way.
pub async fn copy_filtered(
    to: &Destination<'_>,
    body: ByteStream,
    lines: LineFilter,
    tuning: &Tuning,
) -> Result<Delivered, TargetError> {
    let limits = (tuning.budget.for_tenant(to.tenant_id), tuning.max_object_bytes);
    let filtering = tokio::task::spawn_blocking(move || {
        let input = SyncIoBridge::new(body.into_async_read());
        filter_into_gzip(input, &lines, limits, MAX_FILTERED_BYTES)
    });
    let filtered = filtering
        .await
        .map_err(|e| TargetError::Transient(Cause::AwsUnavailable, format!("filtering task failed: {e}")))?
        .map_err(|err| match err {
            CopyError::Read(err) => read_failed(err),
            err @ CopyError::TooLarge(_) => TargetError::Permanent("too_large", err.to_string()),
        })?;
    record_bad_lines(&filtered.stats);
    let mut delivered = Delivered {
        events_filtered: filtered.filtered,
        ..Delivered::default()
    };
    if filtered.kept == 0 {
        return Ok(delivered);
    }
    let length = filtered.gzip.len();
    put(
        to,
        ByteStream::from(filtered.gzip),
        i64::try_from(length).ok(),
        GZIP,
    )
    .await
    .map_err(|e| TargetError::aws(Step::PutObject, &e, None).or_not_owned_by(to.owner))?;
    delivered.bytes = length as u64;
    delivered.batches = 1;
    Ok(delivered)
}

/// A filtered copy in memory.
#[derive(Debug)]
pub struct FilteredCopy {
    /// The kept lines, gzip-compressed.
    pub gzip: Vec<u8>,
    /// Lines kept.
    pub kept: u64,
    /// Lines the filter removed.
    pub filtered: u64,
    /// What the reader saw.
    pub stats: ReadStats,
}

/// Why a filtered copy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The staged object could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The kept lines compress to more than the bound.
    #[error("the filtered copy compresses to more than {0} bytes")]
    TooLarge(usize),
}

/// The lines of `input` that `lines` keeps, each as staged and ended by `\n`,
/// gzip-compressed into at most `max_bytes`; long lines are reserved from `budget`, and
/// the object may decode to at most `max_object_bytes`.
pub fn filter_into_gzip<R: Read>(
    input: R,
    lines: &LineFilter,
    (budget, max_object_bytes): (DecodeBudget, u64),
    max_bytes: usize,
) -> Result<FilteredCopy, CopyError> {
    let mut events = EventReader::new(input, 0)?
        .with_raw_lines()
        .with_container(lines.needs_container())
        .with_budget(budget, FILTERED_LONG_LINE_COST)
        .with_max_object_bytes(max_object_bytes);
    let mut gzip = GzEncoder::new(Bounded::new(max_bytes), Compression::default());
    let too_large = |_: io::Error| CopyError::TooLarge(max_bytes);
    let (mut kept, mut filtered) = (0, 0);
    while let Some((event, raw)) = events.next_line_event()? {
        if !lines.keeps(&event) {
            filtered += 1;
            continue;
        }
        gzip.write_all(raw).map_err(too_large)?;
        gzip.write_all(b"\n").map_err(too_large)?;
        kept += 1;
    }
    let gzip = gzip.finish().map_err(too_large)?.bytes;
    Ok(FilteredCopy {
        gzip,
        kept,
        filtered,
        stats: events.into_stats(),
    })
}

/// A buffer that refuses to grow past its bound.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl Bounded {
    fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
        }
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(io::Error::other("the filtered copy is over its bound"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `body` (of `length` bytes, of `content_type`) to `to`: the bucket must be owned
/// by `to.owner` (the tenant role's account).
async fn put(
    to: &Destination<'_>,
    body: ByteStream,
    length: Option<i64>,
    content_type: &str,
) -> Result<(), AwsError> {
    let put = logspoke_aws::clients::tenant_put_object;
    let result = put(
        to.client,
        to.bucket,
        to.owner,
        to.key,
        to.storage_class,
        to.kms_key_arn,
    )
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
            target_key(KeyLayout::Staged, &prefix, &layout, 0),
            "k8s/logs/acme/c1/shop/checkout/pod-7/1700000000-u.json.gz"
        );
        let root = BucketPrefix::parse("").unwrap();
        assert_eq!(
            target_key(KeyLayout::Staged, &root, &layout, 0),
            "acme/c1/shop/checkout/pod-7/1700000000-u.json.gz"
        );
    }

    #[test]
    fn the_first_events_time_is_read_from_the_first_bytes_however_they_were_cut() {
        let lines = "{\"message\":\"a\",\"timestamp\":\"2023-11-14T22:13:20.500Z\"}\n{\"message\":\"b\"}\n";
        let staged = gzip(lines.as_bytes());
        assert_eq!(first_event_ms(&staged, 7), 1_700_000_000_500);
        // Cut in the middle of the gzip stream, after the first line's bytes.
        let mut long = lines.to_owned();
        long.push_str(&"{\"message\":\"filler\"}\n".repeat(20_000));
        let staged = gzip(long.as_bytes());
        assert!(staged.len() > 200);
        assert_eq!(first_event_ms(&staged[..staged.len() / 2], 7), 1_700_000_000_500);
        assert_eq!(
            first_event_ms(lines.as_bytes(), 7),
            1_700_000_000_500,
            "plain NDJSON"
        );
    }

    #[test]
    fn without_a_whole_first_line_or_its_timestamp_the_objects_time_dates_the_key() {
        assert_eq!(first_event_ms(b"{\"message\":\"cut befo", 7), 7);
        assert_eq!(first_event_ms(b"{\"message\":\"no time\"}\n", 7), 7);
        assert_eq!(first_event_ms(b"not json\n", 7), 7);
        assert_eq!(first_event_ms(&[0x1f, 0x8b, 0, 1, 2], 7), 7);
        assert_eq!(first_event_ms(b"", 7), 7);
    }

    #[test]
    fn copies_of_keys_without_a_namespace_keep_their_layout() {
        let layout = ObjectKey::parse("acme/c1/checkout/pod-7/1700000000-u.json.gz").unwrap();
        let prefix = BucketPrefix::parse("k8s/logs").unwrap();
        assert_eq!(
            target_key(KeyLayout::Staged, &prefix, &layout, 0),
            "k8s/logs/acme/c1/checkout/pod-7/1700000000-u.json.gz"
        );
    }

    fn recording_client(endpoint: String) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKID", "secret", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn destination<'a>(client: &'a aws_sdk_s3::Client, bucket: &'a BucketName) -> Destination<'a> {
        Destination {
            tenant_id: "acme",
            client,
            bucket,
            owner: "222222222222",
            key: "k8s/x.json.gz",
            storage_class: None,
            kms_key_arn: None,
        }
    }

    fn quick() -> Tuning {
        Tuning::new(logspoke_runtime::backoff::Backoff::default(), 1 << 20)
    }

    /// A filter keeping only the lines whose message contains `keep`.
    fn keeping(keep: &str) -> LineFilter {
        let spec = logspoke_contract::FilterSpec {
            include: vec![logspoke_contract::FilterRuleSpec {
                field: Some(logspoke_contract::FilterField::Message),
                contains: Some(keep.to_owned()),
                ..Default::default()
            }],
            exclude: vec![],
        };
        let filter = logspoke_contract::Filter::parse(&spec).unwrap();
        let layout = ObjectKey::parse("acme/c1/shop/checkout/pod-7/1700000000-u.json.gz").unwrap();
        LineFilter::for_object(&filter, &layout)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn unlimited() -> (DecodeBudget, u64) {
        (DecodeBudget::new(64 << 20), u64::MAX)
    }

    #[test]
    fn a_filtered_copy_holds_exactly_the_kept_lines_byte_for_byte_gzip() {
        // Key order, spacing, escapes and a CRLF ending are kept as staged; a line that is
        // no log event and a blank line are left out; the last line gets its newline.
        let staged = concat!(
            "{\"timestamp\":1, \"message\":\"keep \\u00e9 one\",\"container\":\"app\"}\n",
            "{\"message\":\"drop two\"}\n",
            "not json keep\n",
            "\n",
            "{ \"message\" : \"keep three\" }\r\n",
            "{\"message\":\"drop four\"}\n",
            "{\"message\":\"keep five\"}",
        );
        let copy = filter_into_gzip(
            &gzip(staged.as_bytes())[..],
            &keeping("keep"),
            unlimited(),
            1 << 20,
        )
        .unwrap();
        let expected = concat!(
            "{\"timestamp\":1, \"message\":\"keep \\u00e9 one\",\"container\":\"app\"}\n",
            "{ \"message\" : \"keep three\" }\r\n",
            "{\"message\":\"keep five\"}\n",
        );
        assert_eq!(&copy.gzip[..2], &[0x1f, 0x8b], "gzip");
        assert_eq!(String::from_utf8(gunzip(&copy.gzip)).unwrap(), expected);
        assert_eq!((copy.kept, copy.filtered, copy.stats.bad_lines), (3, 2, 1));
    }

    #[test]
    fn a_filtered_copy_keeps_long_lines_as_staged() {
        // Over the reader's read buffer, with escapes its decoding would undo in place.
        let long = format!("{{\"message\":\"keep {}\"}}", "a\\n\\\"".repeat(100_000));
        let staged = format!("{long}\n{{\"message\":\"drop\"}}\n{long}\n");
        let copy = filter_into_gzip(
            &gzip(staged.as_bytes())[..],
            &keeping("keep"),
            unlimited(),
            16 << 20,
        )
        .unwrap();
        assert_eq!(gunzip(&copy.gzip), format!("{long}\n{long}\n").into_bytes());
        assert_eq!((copy.kept, copy.filtered), (2, 1));
    }

    #[test]
    fn a_filtered_copy_over_its_bound_is_refused() {
        let staged: String = (0..2_000)
            .map(|i| format!("{{\"message\":\"keep {i:x}{}\"}}\n", i * 7919))
            .collect();
        let err = filter_into_gzip(staged.as_bytes(), &keeping("keep"), unlimited(), 1_000).unwrap_err();
        assert!(matches!(err, CopyError::TooLarge(1_000)), "{err}");
    }

    #[tokio::test]
    async fn a_copy_names_the_account_that_must_own_the_bucket() {
        let (endpoint, heads) = logspoke_test_support::recording_s3::start().await;
        let client = recording_client(endpoint);
        let bucket = BucketName::parse("acme-logs").unwrap();
        let to = destination(&client, &bucket);
        copy(&to, ByteStream::from_static(b"{}"), Some(2)).await.unwrap();
        let staged = gzip(b"{\"message\":\"keep\"}\n{\"message\":\"drop\"}\n");
        let delivered = copy_filtered(&to, ByteStream::from(staged), keeping("keep"), &quick())
            .await
            .unwrap();
        assert_eq!((delivered.events_filtered, delivered.batches), (1, 1));
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        for head in &heads {
            assert!(
                head.contains("x-amz-expected-bucket-owner: 222222222222"),
                "the copy must be refused by a bucket another account owns: {head}"
            );
            assert!(head.contains("content-type: application/gzip"), "{head}");
        }
    }

    /// Both kinds of copy are written in the config's storage class and encrypted with
    /// its KMS key.
    #[tokio::test]
    async fn copies_carry_the_configs_storage_class_and_kms_key() {
        let (endpoint, heads) = logspoke_test_support::recording_s3::start().await;
        let client = recording_client(endpoint);
        let bucket = BucketName::parse("acme-logs").unwrap();
        let key =
            KmsKeyArn::parse("arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab")
                .unwrap();
        let to = Destination {
            storage_class: Some(StorageClass::GlacierIr),
            kms_key_arn: Some(&key),
            ..destination(&client, &bucket)
        };
        copy(&to, ByteStream::from_static(b"{}"), Some(2)).await.unwrap();
        let staged = gzip(b"{\"message\":\"keep\"}\n{\"message\":\"drop\"}\n");
        copy_filtered(&to, ByteStream::from(staged), keeping("keep"), &quick())
            .await
            .unwrap();
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        for head in &heads {
            assert!(head.contains("x-amz-storage-class: glacier_ir"), "{head}");
            assert!(head.contains("x-amz-server-side-encryption: aws:kms"), "{head}");
            assert!(
                head.contains(&format!(
                    "x-amz-server-side-encryption-aws-kms-key-id: {}",
                    key.as_str()
                )),
                "{head}"
            );
        }
    }

    #[tokio::test]
    async fn an_object_the_filter_empties_writes_nothing_and_is_delivered() {
        let (endpoint, heads) = logspoke_test_support::recording_s3::start().await;
        let client = recording_client(endpoint);
        let bucket = BucketName::parse("acme-logs").unwrap();
        let staged = gzip(b"{\"message\":\"a\"}\n{\"message\":\"b\"}\nbad\n");
        let delivered = copy_filtered(
            &destination(&client, &bucket),
            ByteStream::from(staged),
            keeping("zzz"),
            &quick(),
        )
        .await
        .unwrap();
        assert_eq!(
            delivered,
            Delivered {
                events_filtered: 2,
                ..Delivered::default()
            }
        );
        assert!(heads.lock().unwrap().is_empty(), "nothing written");
    }
}

//! Parsing delivery-queue messages: S3 event notifications about new staged objects.
//!
//! The central bucket notifies the delivery queue either directly (or through SNS with
//! raw delivery), giving the bare S3 event as the SQS body, or through an SNS topic,
//! giving an SNS envelope whose `Message` is the S3 event as a JSON string. Both are
//! accepted, as is the `s3:TestEvent` S3 sends when a notification is set up.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::quoted;

/// What one delivery-queue message asks the worker to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// S3's `s3:TestEvent`, sent when a notification is configured; there is nothing to
    /// deliver, so the message is just deleted.
    TestEvent,
    /// An S3 event notification.
    Records {
        /// The created objects to deliver, in record order.
        created: Vec<ObjectCreated>,
        /// How many records were ignored because they are not `ObjectCreated:*` events
        /// from `aws:s3` (e.g. `ObjectRemoved:Delete`), so the worker can count them.
        skipped: usize,
    },
}

/// One new object in the central bucket, to be read and delivered to the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    /// The bucket holding the object.
    pub bucket: String,
    /// The object key, already decoded (ready for `ObjectKey::parse` and `GetObject`).
    pub key: String,
    /// The object size in bytes, when S3 sent it.
    pub size: Option<u64>,
    /// When the object was created (ISO 8601, as S3 sent it), for lag metrics.
    pub event_time: Option<String>,
    /// The bucket's region.
    pub region: Option<String>,
    /// S3's per-key ordering token, to tell a newer write of the same key from a replay.
    pub sequencer: Option<String>,
    /// The object's ETag, to read exactly the version the event is about.
    pub etag: Option<String>,
    /// The event name, e.g. `ObjectCreated:Put`.
    pub event_name: String,
}

/// Why a delivery-queue message could not be understood. Such a message cannot become
/// valid on a retry, so the worker logs it and lets it go to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The body does not parse as JSON.
    #[error("the message body is not JSON: {0}")]
    NotJson(serde_json::Error),
    /// The body is JSON but none of the shapes a notification can have.
    #[error("the message body is neither an SNS envelope nor an S3 event notification")]
    UnknownShape,
    /// An SNS envelope of a type other than `Notification` (e.g. `SubscriptionConfirmation`).
    #[error("the SNS envelope has Type {0}, expected 'Notification'")]
    NotANotification(String),
    /// An SNS envelope whose `Message` is missing or not a string.
    #[error("the SNS envelope's Message is missing or not a string")]
    SnsMessageNotString,
    /// An SNS envelope whose `Message` string does not parse as JSON.
    #[error("the SNS envelope's Message is not JSON: {0}")]
    SnsMessageNotJson(serde_json::Error),
    /// `Records` is not a list of record objects of the expected types.
    #[error("the S3 event's Records are malformed: {0}")]
    MalformedRecords(serde_json::Error),
    /// An `ObjectCreated` record without a bucket name.
    #[error("S3 event record {index} has no bucket name")]
    MissingBucket {
        /// Position of the record in `Records`, from 0.
        index: usize,
    },
    /// An `ObjectCreated` record without an object key.
    #[error("S3 event record {index} has no object key")]
    MissingKey {
        /// Position of the record in `Records`, from 0.
        index: usize,
    },
    /// A key that does not decode to UTF-8.
    #[error("the S3 event key {key} does not decode to UTF-8 text")]
    BadKeyEncoding {
        /// The encoded key as received, quoted and cut short.
        key: String,
    },
}

/// One entry of `Records`; every field is optional so that records the worker skips
/// need not be complete, and unknown fields are ignored.
#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "eventSource")]
    event_source: Option<String>,
    #[serde(rename = "awsRegion")]
    aws_region: Option<String>,
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    s3: Option<RawS3>,
}

/// The `s3` part of a record.
#[derive(Deserialize)]
struct RawS3 {
    bucket: Option<RawBucket>,
    object: Option<RawObject>,
}

/// The `s3.bucket` part of a record.
#[derive(Deserialize)]
struct RawBucket {
    name: Option<String>,
}

/// The `s3.object` part of a record.
#[derive(Deserialize)]
struct RawObject {
    key: Option<String>,
    size: Option<u64>,
    #[serde(rename = "eTag")]
    etag: Option<String>,
    sequencer: Option<String>,
}

/// Parses an SQS message body from the delivery queue: an SNS envelope or a bare S3
/// event, either holding S3 event records or an `s3:TestEvent`.
pub fn parse_message_body(body: &str) -> Result<MessageContent, EventError> {
    let value: Value = serde_json::from_str(body).map_err(EventError::NotJson)?;
    let Value::Object(fields) = value else {
        return Err(EventError::UnknownShape);
    };
    if is_sns_envelope(&fields) {
        let inner = sns_message(fields)?;
        return match inner {
            Value::Object(inner) if !is_sns_envelope(&inner) => parse_s3_event(inner),
            _ => Err(EventError::UnknownShape),
        };
    }
    parse_s3_event(fields)
}

/// Decodes an object key as S3 encodes it in event notifications: form-style URL
/// encoding, so `+` is a space and a literal `+` is `%2B`. A `%` not followed by two
/// hex digits is kept as is.
pub fn decode_s3_event_key(raw: &str) -> Result<String, EventError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| EventError::BadKeyEncoding {
            key: quoted(raw).to_string(),
        })
}

/// SNS envelopes carry a `Type`; S3 events and test events do not.
fn is_sns_envelope(fields: &Map<String, Value>) -> bool {
    fields.contains_key("Type")
}

/// Takes the S3 event JSON out of an SNS notification envelope.
fn sns_message(mut envelope: Map<String, Value>) -> Result<Value, EventError> {
    match envelope.get("Type") {
        Some(Value::String(kind)) if kind == "Notification" => {}
        Some(Value::String(kind)) => return Err(EventError::NotANotification(quoted(kind).to_string())),
        _ => return Err(EventError::UnknownShape),
    }
    let Some(Value::String(message)) = envelope.remove("Message") else {
        return Err(EventError::SnsMessageNotString);
    };
    serde_json::from_str(&message).map_err(EventError::SnsMessageNotJson)
}

/// Reads a bare S3 event: records, or a test event.
fn parse_s3_event(mut fields: Map<String, Value>) -> Result<MessageContent, EventError> {
    if let Some(records) = fields.remove("Records") {
        let records = Vec::<RawRecord>::deserialize(records).map_err(EventError::MalformedRecords)?;
        return collect_created(records);
    }
    match fields.get("Event").and_then(Value::as_str) {
        Some("s3:TestEvent") => Ok(MessageContent::TestEvent),
        _ => Err(EventError::UnknownShape),
    }
}

/// Keeps the `ObjectCreated` records from `aws:s3` and counts the rest.
fn collect_created(records: Vec<RawRecord>) -> Result<MessageContent, EventError> {
    let mut created = Vec::new();
    let mut skipped = 0;
    for (index, record) in records.into_iter().enumerate() {
        if is_object_created(&record) {
            created.push(object_created(index, record)?);
        } else {
            skipped += 1;
        }
    }
    Ok(MessageContent::Records { created, skipped })
}

/// True for an `ObjectCreated:*` record sent by S3.
fn is_object_created(record: &RawRecord) -> bool {
    let from_s3 = record.event_source.as_deref() == Some("aws:s3");
    let name = record.event_name.as_deref().unwrap_or_default();
    from_s3 && name.starts_with("ObjectCreated:")
}

/// Converts a record already known to be `ObjectCreated`, requiring bucket and key.
fn object_created(index: usize, record: RawRecord) -> Result<ObjectCreated, EventError> {
    let (bucket, object) = match record.s3 {
        Some(s3) => (s3.bucket, s3.object),
        None => (None, None),
    };
    let bucket = bucket.and_then(|b| b.name).filter(|name| !name.is_empty());
    let bucket = bucket.ok_or(EventError::MissingBucket { index })?;
    let object = object.ok_or(EventError::MissingKey { index })?;
    let raw_key = object.key.filter(|key| !key.is_empty());
    let key = decode_s3_event_key(&raw_key.ok_or(EventError::MissingKey { index })?)?;
    Ok(ObjectCreated {
        bucket,
        key,
        size: object.size,
        event_time: record.event_time,
        region: record.aws_region,
        sequencer: object.sequencer,
        etag: object.etag,
        event_name: record.event_name.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A record as S3 sends it, with fields the parser ignores.
    fn record(event_name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "eu-west-1",
            "eventTime": "2024-05-01T12:00:00.000Z",
            "eventName": event_name,
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "staged",
                "bucket": {"name": "logspoke-staging", "arn": "arn:aws:s3:::logspoke-staging"},
                "object": {"key": key, "size": 1024, "eTag": "abc123", "sequencer": "0055AED6DCD90281E5"}
            }
        })
    }

    /// An SNS envelope as SQS receives it, carrying `message` as its `Message` text.
    fn sns_envelope(message: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:staged",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2024-05-01T12:00:01.000Z",
            "SignatureVersion": "1"
        })
        .to_string()
    }

    fn test_event() -> Value {
        json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2024-05-01T12:00:00.000Z",
            "Bucket": "logspoke-staging",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
        })
    }

    fn created_keys(content: &MessageContent) -> (Vec<&str>, usize) {
        match content {
            MessageContent::Records { created, skipped } => {
                (created.iter().map(|c| c.key.as_str()).collect(), *skipped)
            }
            MessageContent::TestEvent => (Vec::new(), usize::MAX),
        }
    }

    #[test]
    fn sns_envelope_with_one_record() -> Result<(), EventError> {
        let event = json!({"Records": [record("ObjectCreated:Put", "acme/c/app/pod/1-x.json.gz")]});
        let content = parse_message_body(&sns_envelope(&event.to_string()))?;
        let expected = ObjectCreated {
            bucket: "logspoke-staging".to_owned(),
            key: "acme/c/app/pod/1-x.json.gz".to_owned(),
            size: Some(1024),
            event_time: Some("2024-05-01T12:00:00.000Z".to_owned()),
            region: Some("eu-west-1".to_owned()),
            sequencer: Some("0055AED6DCD90281E5".to_owned()),
            etag: Some("abc123".to_owned()),
            event_name: "ObjectCreated:Put".to_owned(),
        };
        let want = MessageContent::Records {
            created: vec![expected],
            skipped: 0,
        };
        assert_eq!(content, want);
        Ok(())
    }

    #[test]
    fn raw_event_with_several_records_keeps_their_order() -> Result<(), EventError> {
        let event = json!({"Records": [
            record("ObjectCreated:Put", "a/c/app/pod/1-x.json.gz"),
            record("ObjectCreated:CompleteMultipartUpload", "a/c/app/pod/2-y.json.gz"),
            record("ObjectCreated:Copy", "a/c/app/pod/3-z.json.gz"),
        ]});
        let content = parse_message_body(&event.to_string())?;
        let keys = vec![
            "a/c/app/pod/1-x.json.gz",
            "a/c/app/pod/2-y.json.gz",
            "a/c/app/pod/3-z.json.gz",
        ];
        assert_eq!(created_keys(&content), (keys, 0));
        Ok(())
    }

    #[test]
    fn test_event_is_recognised_raw_and_wrapped() -> Result<(), EventError> {
        assert_eq!(
            parse_message_body(&test_event().to_string())?,
            MessageContent::TestEvent
        );
        assert_eq!(
            parse_message_body(&sns_envelope(&test_event().to_string()))?,
            MessageContent::TestEvent
        );
        Ok(())
    }

    #[test]
    fn removed_and_foreign_records_are_skipped() -> Result<(), EventError> {
        let mut foreign = record("ObjectCreated:Put", "b/c/app/pod/2-x.json.gz");
        foreign["eventSource"] = json!("minio:s3");
        let mut incomplete = json!({"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete"});
        incomplete["extra"] = json!(true);
        let event = json!({"Records": [
            record("ObjectRemoved:Delete", "a/c/app/pod/1-x.json.gz"),
            foreign,
            incomplete,
            record("ObjectCreated:Put", "a/c/app/pod/3-x.json.gz"),
            json!({"eventName": "ObjectCreated:Put"}),
        ]});
        let content = parse_message_body(&event.to_string())?;
        assert_eq!(created_keys(&content), (vec!["a/c/app/pod/3-x.json.gz"], 4));
        Ok(())
    }

    #[test]
    fn keys_are_decoded() -> Result<(), EventError> {
        let event =
            json!({"Records": [record("ObjectCreated:Put", "acme/c/my+app/caf%C3%A9/1%2B2.json.gz")]});
        let content = parse_message_body(&sns_envelope(&event.to_string()))?;
        assert_eq!(
            created_keys(&content),
            (vec!["acme/c/my app/café/1+2.json.gz"], 0)
        );
        Ok(())
    }

    #[test]
    fn decode_s3_event_key_follows_s3_encoding() -> Result<(), EventError> {
        let cases = [
            ("plain/key.json.gz", "plain/key.json.gz"),
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("a%2bb", "a+b"),
            ("a%20b", "a b"),
            ("caf%C3%A9", "café"),
            ("%2B+%2B", "+ +"),
            ("100%25", "100%"),
            ("50%", "50%"),
            ("", ""),
        ];
        for (raw, decoded) in cases {
            assert_eq!(decode_s3_event_key(raw)?, decoded, "raw {raw:?}");
        }
        Ok(())
    }

    #[test]
    fn decode_s3_event_key_rejects_invalid_utf8() {
        for raw in ["caf%C3", "%FF", "a/%C3%28"] {
            let result = decode_s3_event_key(raw);
            assert!(
                matches!(result, Err(EventError::BadKeyEncoding { .. })),
                "raw {raw:?}"
            );
        }
        let message = decode_s3_event_key("%FF").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("the S3 event key '%FF' does not decode to UTF-8 text".to_owned())
        );
    }

    #[test]
    fn record_without_bucket_or_key_is_an_error() {
        let mut no_bucket = record("ObjectCreated:Put", "a/c/app/pod/1-x.json.gz");
        no_bucket["s3"]["bucket"] = json!({"arn": "arn:aws:s3:::x"});
        let mut no_key = record("ObjectCreated:Put", "");
        no_key["s3"]["object"] = json!({"size": 3});
        let empty_key = record("ObjectCreated:Put", "");
        let no_s3 = json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"});
        let cases = [
            (no_bucket, "S3 event record 1 has no bucket name"),
            (no_key, "S3 event record 1 has no object key"),
            (empty_key, "S3 event record 1 has no object key"),
            (no_s3, "S3 event record 1 has no bucket name"),
        ];
        for (bad, expected) in cases {
            let body = json!({"Records": [record("ObjectCreated:Put", "k"), bad]}).to_string();
            let message = parse_message_body(&body).map_err(|e| e.to_string());
            assert_eq!(message, Err(expected.to_owned()));
        }
    }

    #[test]
    fn envelope_whose_message_is_not_json_is_an_error() {
        let result = parse_message_body(&sns_envelope("{\"Records\": not json"));
        assert!(
            matches!(result, Err(EventError::SnsMessageNotJson(_))),
            "{result:?}"
        );
    }

    #[test]
    fn other_sns_types_are_refused_by_name() {
        let body = json!({"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe"});
        let message = parse_message_body(&body.to_string()).map_err(|e| e.to_string());
        let expected = "the SNS envelope has Type 'SubscriptionConfirmation', expected 'Notification'";
        assert_eq!(message, Err(expected.to_owned()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let not_json = "the message body is not JSON: ";
        let unknown = "the message body is neither an SNS envelope nor an S3 event notification";
        let malformed = "the S3 event's Records are malformed: ";
        let cases = [
            ("", not_json),
            ("{", not_json),
            ("[]", unknown),
            ("null", unknown),
            ("{}", unknown),
            (r#"{"Event":"s3:Other"}"#, unknown),
            (r#"{"Records":"x"}"#, malformed),
            (r#"{"Records":[5]}"#, malformed),
            (r#"{"Records":[{"s3":{"object":{"size":-1}}}]}"#, malformed),
            (
                r#"{"Type":"Notification","Message":5}"#,
                "the SNS envelope's Message is missing or not a string",
            ),
            (
                r#"{"Type":"Notification"}"#,
                "the SNS envelope's Message is missing or not a string",
            ),
            (r#"{"Type":"Notification","Message":"[]"}"#, unknown),
            (r#"{"Type":7,"Message":"{}"}"#, unknown),
        ];
        for (body, expected) in cases {
            let message = parse_message_body(body).map_err(|e| e.to_string());
            let matches = message.as_ref().is_err_and(|m| m.starts_with(expected));
            assert!(matches, "body {body:?} gave {message:?}, expected {expected:?}");
        }
    }

    #[test]
    fn empty_records_are_an_empty_batch() -> Result<(), EventError> {
        let content = parse_message_body(r#"{"Records":[]}"#)?;
        assert_eq!(created_keys(&content), (Vec::new(), 0));
        Ok(())
    }
}

//! From an SQS message body to the staged objects to deliver.
//!
//! Bodies are SNS envelopes or bare S3 events (see `logspoke_contract::parse_message_body`).
//! A record whose key does not follow the contract layout is rejected here, logged and
//! counted, so it never reaches delivery and never loops.

use logspoke_contract::{parse_message_body, MessageContent, ObjectKey};

/// One object to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedObject {
    /// The central staging bucket.
    pub bucket: String,
    /// The decoded key, as stored.
    pub key: String,
    /// The key's parts.
    pub layout: ObjectKey,
    /// When S3 saw the object, in ms since the epoch (lag metric, fallback timestamp).
    pub event_time_ms: Option<i64>,
}

/// What a message asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Objects to deliver.
    pub objects: Vec<StagedObject>,
    /// Records ignored (test events, non-creation events).
    pub skipped: usize,
    /// Records refused, each with the reason (already logged and counted).
    pub rejected: usize,
}

/// Parses a message body. A body that cannot be parsed at all is one rejection.
pub fn parse(body: &str) -> Parsed {
    let content = match parse_message_body(body) {
        Ok(content) => content,
        Err(err) => {
            reject("bad_message", &err.to_string(), "");
            return Parsed {
                rejected: 1,
                ..Parsed::default()
            };
        }
    };
    let (created, skipped) = match content {
        MessageContent::TestEvent => {
            return Parsed {
                skipped: 1,
                ..Parsed::default()
            }
        }
        MessageContent::Records { created, skipped } => (created, skipped),
    };
    let mut parsed = Parsed {
        skipped,
        ..Parsed::default()
    };
    for record in created {
        match ObjectKey::parse(&record.key) {
            Ok(layout) => parsed.objects.push(StagedObject {
                event_time_ms: record.event_time.as_deref().and_then(event_time_ms),
                bucket: record.bucket,
                key: record.key,
                layout,
            }),
            Err(err) => {
                reject("bad_key", &err.to_string(), &record.key);
                parsed.rejected += 1;
            }
        }
    }
    parsed
}

/// Logs and counts a record that will never be delivered.
pub fn reject(reason: &'static str, detail: &str, object_key: &str) {
    tracing::warn!(
        reason,
        object_key,
        detail,
        "rejected a staged object; it will not be retried"
    );
    metrics::counter!("logspoke_worker_rejected_total", "reason" => reason).increment(1);
}

/// S3's `eventTime` (RFC 3339) in ms since the epoch.
fn event_time_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An S3 object-created event (bare, as S3 sends it) for each key.
    pub(crate) fn body(keys: &[&str]) -> String {
        let records: Vec<_> = keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
                    "eventTime": "2026-11-22T10:00:00.000Z", "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "staging", "arn": "arn:aws:s3:::staging"},
                           "object": {"key": key, "size": 10}}
                })
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    }

    #[test]
    fn good_keys_become_objects_and_bad_ones_are_rejected() {
        let parsed = parse(&body(&[
            "acme/c1/ns/app/pod-1/1-a.json.gz",
            "acme/c1/app/pod-1/1-a.json.gz",
            "acme//ns/app/pod/f.json.gz",
            "acme/c1/Ns/app/pod/f.json.gz",
            "nope",
        ]));
        assert_eq!(parsed.objects.len(), 2);
        assert_eq!(parsed.rejected, 3);
        let object = &parsed.objects[0];
        assert_eq!(object.layout.tenant_id().as_str(), "acme");
        assert_eq!(object.layout.namespace().map(|n| n.as_str()), Some("ns"));
        assert_eq!(object.layout.application(), "app");
        assert_eq!(object.event_time_ms, Some(1_795_341_600_000));
        // Staged by a collector of the previous release: still delivered.
        assert_eq!(parsed.objects[1].layout.namespace(), None);
    }

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        let parsed = parse(&body(&["acme/c1/ns/my+app/pod%2B1/1-a.json.gz"]));
        assert_eq!(parsed.objects[0].key, "acme/c1/ns/my app/pod+1/1-a.json.gz");
    }

    #[test]
    fn test_events_are_skipped_and_garbage_is_one_rejection() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"staging"}"#;
        assert_eq!(parse(test_event).skipped, 1);
        let garbage = parse("not json");
        assert_eq!((garbage.objects.len(), garbage.rejected), (0, 1));
    }
}

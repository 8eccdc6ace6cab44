//! The key layout of staged log objects in the central bucket.

use std::fmt;

use crate::{NamespaceName, ParseError, TenantId};

/// The segment names of the current layout, in key order, as used in error messages.
const SEGMENT_NAMES: [&str; 6] = [
    "tenant_id",
    "cluster_id",
    "namespace",
    "application",
    "pod_name",
    "file",
];
/// The segment names of the layout before the namespace joined it.
const LEGACY_SEGMENT_NAMES: [&str; 5] = ["tenant_id", "cluster_id", "application", "pod_name", "file"];
/// Longest segment accepted, in bytes: a Kubernetes pod name (a DNS subdomain) is at
/// most 253 characters, and no other segment has a reason to be longer.
const MAX_SEGMENT_BYTES: usize = 253;

/// Where Vector stages one batch of a pod's logs in the central bucket, and what the
/// delivery worker learns from the key alone, before it opens the object.
///
/// Layout: `{tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{file}`, where
/// `file` is normally `{unix_ts}-{uuid}.json.gz` (Vector's time-formatted file name with a
/// uuid appended). The tenant is the first segment so every S3 prefix partitions by
/// tenant: one tenant's objects can be listed, expired or granted by the prefix
/// `{tenant_id}/`, and S3's per-prefix request rates scale with the number of tenants.
/// The cluster is the second so each cluster's collector role can be confined to the
/// keys `{tenant_id}/{cluster_id}/*`. The worker takes the tenant from the key to find
/// its delivery config and the other segments to name the destination stream or object.
///
/// The namespace is in the key because the application is not proof of anything: a pod
/// chooses its own `application` label, so without the namespace a pod of one namespace
/// could write into the streams of another namespace's application. The namespace is
/// set by the collector from Kubernetes metadata, which the workload cannot choose.
///
/// Keys staged before the namespace joined the layout
/// (`{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}`: five segments, where the
/// current layout has six) still parse, with no namespace: collectors of the previous
/// release keep staging them during an upgrade, and parked or replayed objects may be
/// older still. Such objects are delivered as before (into the stream names they always
/// had), and only `desired_logs` entries without a namespace can select them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    tenant_id: TenantId,
    cluster_id: String,
    namespace: Option<NamespaceName>,
    application: String,
    pod_name: String,
    file: String,
}

impl ObjectKey {
    /// Parses an already decoded S3 key (see `decode_s3_event_key`) in the layout above,
    /// or in the layout before the namespace.
    pub fn parse(key: &str) -> Result<Self, ParseError> {
        let segments: Vec<&str> = key.split('/').collect();
        let (names, namespace, fields) = match segments[..] {
            [tenant, cluster, namespace, application, pod, file] => (
                &SEGMENT_NAMES[..],
                Some(namespace),
                [tenant, cluster, application, pod, file],
            ),
            [tenant, cluster, application, pod, file] => (
                &LEGACY_SEGMENT_NAMES[..],
                None,
                [tenant, cluster, application, pod, file],
            ),
            _ => {
                return Err(ParseError::new(format!(
                    "must have 6 '/'-separated segments \
                     ({{tenant_id}}/{{cluster_id}}/{{namespace}}/{{application}}/{{pod_name}}/{{file}}), \
                     or 5 in the layout without the namespace, found {}",
                    segments.len()
                )))
            }
        };
        let [tenant_id, cluster_id, application, pod_name, file] = fields;
        for (name, segment) in names.iter().zip(&segments) {
            check_segment(name, segment)?;
        }
        let tenant_id = TenantId::parse(tenant_id).map_err(|e| {
            ParseError::new(format!(
                "the tenant_id segment is not a valid tenant id: {}",
                e.message
            ))
        })?;
        let namespace = namespace
            .map(|segment| {
                NamespaceName::parse(segment).map_err(|e| {
                    ParseError::new(format!(
                        "the namespace segment is not a valid namespace name: {}",
                        e.message
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            tenant_id,
            cluster_id: cluster_id.to_owned(),
            namespace,
            application: application.to_owned(),
            pod_name: pod_name.to_owned(),
            file: file.to_owned(),
        })
    }

    /// Builds a key in the layout above (or, with no namespace, in the layout before
    /// it), for tests and for checking the Vector key template against it. It does not
    /// validate: parse the result to check it.
    pub fn format(
        tenant_id: &TenantId,
        cluster_id: &str,
        namespace: Option<&str>,
        application: &str,
        pod_name: &str,
        file: &str,
    ) -> String {
        match namespace {
            Some(namespace) => {
                format!("{tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{file}")
            }
            None => format!("{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}"),
        }
    }

    /// The tenant whose logs these are.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    /// The Kubernetes cluster the pod ran in.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The Kubernetes namespace the pod ran in; `None` for a key staged before the
    /// namespace joined the layout, whose namespace is unknown.
    pub fn namespace(&self) -> Option<&NamespaceName> {
        self.namespace.as_ref()
    }

    /// The pod's `application` label, matched against the tenant's desired logs. The
    /// pod chose it: it says nothing about which namespace the pod ran in.
    pub fn application(&self) -> &str {
        &self.application
    }

    /// The pod the logs came from.
    pub fn pod_name(&self) -> &str {
        &self.pod_name
    }

    /// The object's file name, normally `{unix_ts}-{uuid}.json.gz`.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// When Vector wrote the object, read from the leading `{unix_ts}-` of the file name,
    /// for the delivery-lag metric; `None` when the file name does not start that way.
    pub fn written_at_unix_seconds(&self) -> Option<i64> {
        let (digits, _) = self.file.split_once('-')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

impl fmt::Display for ObjectKey {
    /// Writes the key back in the layout it was parsed from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::format(
            &self.tenant_id,
            &self.cluster_id,
            self.namespace.as_ref().map(NamespaceName::as_str),
            &self.application,
            &self.pod_name,
            &self.file,
        ))
    }
}

/// Checks the rules every segment shares; `name` says which segment is wrong.
fn check_segment(name: &str, segment: &str) -> Result<(), ParseError> {
    if segment.is_empty() {
        return Err(ParseError::new(format!("the {name} segment must not be empty")));
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err(ParseError::new(format!(
            "the {name} segment must be at most {MAX_SEGMENT_BYTES} bytes"
        )));
    }
    if segment.chars().any(char::is_control) {
        return Err(ParseError::new(format!(
            "the {name} segment must not contain control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_rejects;

    const KEY: &str = "acme/prod-eu/shop/checkout/checkout-7d9f-abcde/1700000000-0b6e2f4c.json.gz";
    const LEGACY_KEY: &str = "acme/prod-eu/checkout/checkout-7d9f-abcde/1700000000-0b6e2f4c.json.gz";

    #[test]
    fn parses_the_segments() -> Result<(), ParseError> {
        let key = ObjectKey::parse(KEY)?;
        assert_eq!(key.tenant_id().as_str(), "acme");
        assert_eq!(key.cluster_id(), "prod-eu");
        assert_eq!(key.namespace().map(NamespaceName::as_str), Some("shop"));
        assert_eq!(key.application(), "checkout");
        assert_eq!(key.pod_name(), "checkout-7d9f-abcde");
        assert_eq!(key.file(), "1700000000-0b6e2f4c.json.gz");
        Ok(())
    }

    #[test]
    fn keys_staged_before_the_namespace_parse_without_one() -> Result<(), ParseError> {
        let key = ObjectKey::parse(LEGACY_KEY)?;
        assert_eq!(key.tenant_id().as_str(), "acme");
        assert_eq!(key.cluster_id(), "prod-eu");
        assert_eq!(key.namespace(), None);
        assert_eq!(key.application(), "checkout");
        assert_eq!(key.pod_name(), "checkout-7d9f-abcde");
        assert_eq!(key.file(), "1700000000-0b6e2f4c.json.gz");
        assert_eq!(key.to_string(), LEGACY_KEY);
        Ok(())
    }

    #[test]
    fn the_same_pod_in_two_namespaces_has_two_keys() -> Result<(), ParseError> {
        let prod = ObjectKey::parse("acme/c/prod/payments/pod-1/1-x.json.gz")?;
        let sandbox = ObjectKey::parse("acme/c/sandbox/payments/pod-1/1-x.json.gz")?;
        assert_ne!(prod, sandbox);
        assert_eq!(prod.namespace().map(NamespaceName::as_str), Some("prod"));
        assert_eq!(sandbox.namespace().map(NamespaceName::as_str), Some("sandbox"));
        Ok(())
    }

    #[test]
    fn format_and_parse_round_trip() -> Result<(), ParseError> {
        let tenant = TenantId::parse("tenant-42")?;
        let text = ObjectKey::format(&tenant, "c 1", Some("ns-1"), "My.App", "pod-0", "1-x.json.gz");
        assert_eq!(text, "tenant-42/c 1/ns-1/My.App/pod-0/1-x.json.gz");
        let key = ObjectKey::parse(&text)?;
        assert_eq!(key.tenant_id(), &tenant);
        assert_eq!(key.to_string(), text);
        assert_eq!(ObjectKey::parse(KEY)?.to_string(), KEY);
        let legacy = ObjectKey::format(&tenant, "c 1", None, "My.App", "pod-0", "1-x.json.gz");
        assert_eq!(legacy, "tenant-42/c 1/My.App/pod-0/1-x.json.gz");
        assert_eq!(ObjectKey::parse(&legacy)?.to_string(), legacy);
        Ok(())
    }

    #[test]
    fn accepts_segments_up_to_the_limit() -> Result<(), ParseError> {
        let long = "p".repeat(253);
        let namespace = "n".repeat(63);
        let key = ObjectKey::parse(&format!("a/{long}/{namespace}/{long}/{long}/{long}"))?;
        assert_eq!(key.pod_name(), long);
        assert_eq!(
            key.namespace().map(NamespaceName::as_str),
            Some(namespace.as_str())
        );
        let legacy = ObjectKey::parse(&format!("a/{long}/{long}/{long}/{long}"))?;
        assert_eq!(legacy.pod_name(), long);
        Ok(())
    }

    #[test]
    fn rejects_malformed_keys() {
        let layout = "({tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{file})";
        let count = |n: usize| {
            format!("must have 6 '/'-separated segments {layout}, or 5 in the layout without the namespace, found {n}")
        };
        let (one, four, seven) = (count(1), count(4), count(7));
        let long = "p".repeat(254);
        let long_pod = format!("acme/c/ns/app/{long}/f.json.gz");
        let long_namespace = format!("acme/c/{}/app/pod/f.json.gz", "n".repeat(64));
        let namespace = "the namespace segment is not a valid namespace name";
        assert_rejects(
            ObjectKey::parse,
            &[
                ("", &one),
                ("acme", &one),
                ("acme/c/app/f.json.gz", &four),
                ("acme/c/ns/app/pod/dir/f.json.gz", &seven),
                ("/acme/c/ns/app/pod/f.json.gz", &seven),
                ("acme/c/ns/app/pod/", "the file segment must not be empty"),
                (
                    "acme//ns/app/pod/f.json.gz",
                    "the cluster_id segment must not be empty",
                ),
                (
                    "acme/c//app/pod/f.json.gz",
                    "the namespace segment must not be empty",
                ),
                (
                    "acme/c/ns//pod/f.json.gz",
                    "the application segment must not be empty",
                ),
                (
                    "acme/c/ns/app//f.json.gz",
                    "the pod_name segment must not be empty",
                ),
                (
                    "/c/ns/app/pod/f.json.gz",
                    "the tenant_id segment must not be empty",
                ),
                (&long_pod, "the pod_name segment must be at most 253 bytes"),
                (
                    "acme/c/ns/app/po\nd/f.json.gz",
                    "the pod_name segment must not contain control characters",
                ),
                (
                    "acme/c\u{7f}/ns/app/pod/f.json.gz",
                    "the cluster_id segment must not contain control characters",
                ),
                (
                    "Acme/c/ns/app/pod/f.json.gz",
                    "the tenant_id segment is not a valid tenant id: \
                     may contain only lowercase letters, digits and '-'",
                ),
                (
                    "acme/c/Prod/app/pod/f.json.gz",
                    &format!("{namespace}: may contain only lowercase letters, digits and '-'"),
                ),
                (
                    "acme/c/prod-/app/pod/f.json.gz",
                    &format!("{namespace}: must start and end with a lowercase letter or digit"),
                ),
                (
                    &long_namespace,
                    &format!("{namespace}: must be at most 63 characters"),
                ),
            ],
        );
    }

    #[test]
    fn rejects_malformed_keys_in_the_layout_without_the_namespace() {
        assert_rejects(
            ObjectKey::parse,
            &[
                ("acme/c/app/pod/", "the file segment must not be empty"),
                (
                    "acme/c//pod/f.json.gz",
                    "the application segment must not be empty",
                ),
                ("acme/c/app//f.json.gz", "the pod_name segment must not be empty"),
                (
                    "a-/c/app/pod/f.json.gz",
                    "the tenant_id segment is not a valid tenant id: \
                     must start and end with a lowercase letter or digit",
                ),
            ],
        );
    }

    #[test]
    fn written_at_reads_the_leading_timestamp() -> Result<(), ParseError> {
        let cases = [
            ("1700000000-0b6e2f4c.json.gz", Some(1_700_000_000)),
            ("0-x", Some(0)),
            ("1700000000.json.gz", None),
            ("-0b6e2f4c.json.gz", None),
            ("+17-x.json.gz", None),
            ("17a-x.json.gz", None),
            ("2024-01-01.json.gz", Some(2024)),
            ("99999999999999999999-x.json.gz", None),
        ];
        for (file, expected) in cases {
            let key = ObjectKey::parse(&format!("acme/c/ns/app/pod/{file}"))?;
            assert_eq!(key.written_at_unix_seconds(), expected, "file {file:?}");
        }
        Ok(())
    }
}

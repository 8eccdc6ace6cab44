//! The Vector collector's object keys parse as [`ObjectKey`]s.
//!
//! The key layout is written twice: as the `aws_s3` sink's `key_prefix` template and file
//! name options in `k8s/collector/base/vector.yaml`, and as the parser the delivery worker
//! uses. These tests render the template the way Vector does, append a file name of the
//! shape Vector gives it, and parse the result, so the two cannot drift apart unnoticed.
//! The config is read as text (no YAML dependency): the lines looked for are written in a
//! fixed form there, and a test fails loudly if one is not found.

use crate::{NamespaceName, ObjectKey, ParseError, TenantId};

const VECTOR_CONFIG: &str = include_str!("../../k8s/collector/base/vector.yaml");
/// The collector's kustomization: the default site settings.
const COLLECTOR_KUSTOMIZATION: &str = include_str!("../../k8s/collector/base/kustomization.yaml");
/// The admission policy reserving the tenant label of namespaces to the provider.
const TENANT_LABEL_POLICY: &str = include_str!("../../k8s/collector/base/tenant-label-policy.yaml");

/// The namespace label the tenant is taken from, by default.
const TENANT_LABEL: &str = "logspoke.io/tenant";

/// Field values of a sample event after the collector's `route` transform: the tenant
/// from its namespace's tenant label, the cluster from the site settings, the pod's
/// namespace from its metadata, the application from a pod label, the pod's name.
const SAMPLE: [(&str, &str); 5] = [
    ("tenant_id", "acme"),
    ("cluster_id", "prod-eu-1"),
    ("namespace", "shop"),
    ("application", "checkout"),
    ("pod_name", "checkout-7d9f-abcde"),
];

/// What Vector appends to the rendered prefix with `filename_time_format: "%s"`,
/// `filename_append_uuid: true` and `filename_extension: json.gz`.
const FILE_NAME: &str = "1732270000-0b6e2f4c-8c7d-4e1a-9f3b-2a1c5d6e7f80.json.gz";

/// The lines of the `aws_s3` sink's block, from its `type:` line to the next component.
fn s3_sink_block() -> Vec<&'static str> {
    let lines: Vec<&str> = VECTOR_CONFIG.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "type: aws_s3")
        .expect("vector.yaml has an aws_s3 sink");
    // The block ends at the next line indented like a component name ("  name:").
    let end = lines[start..]
        .iter()
        .position(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map_or(lines.len(), |offset| start + offset);
    lines[start..end].to_vec()
}

/// The value of `option:` in the sink block, without quotes.
fn sink_option(option: &str) -> String {
    let prefix = format!("{option}:");
    let line = s3_sink_block()
        .into_iter()
        .find(|l| l.trim_start().starts_with(&prefix))
        .unwrap_or_else(|| panic!("the aws_s3 sink sets {option}"));
    let value = line.trim_start()[prefix.len()..].trim();
    value.trim_matches('"').to_owned()
}

/// Renders a Vector template: each `{{ field }}` becomes the field's value.
fn render(template: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let close = rest[open..].find("}}").expect("template braces are closed") + open;
        let name = rest[open + 2..close].trim();
        let value = fields
            .iter()
            .find(|(field, _)| *field == name)
            .unwrap_or_else(|| panic!("no sample value for template field {name:?}"))
            .1;
        out.push_str(value);
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

/// The field names a template refers to, in order.
fn template_fields(template: &str) -> Vec<&str> {
    template
        .split("{{")
        .skip(1)
        .map(|part| part.split("}}").next().unwrap_or_default().trim())
        .collect()
}

#[test]
fn vector_key_template_renders_to_a_parsable_object_key() -> Result<(), ParseError> {
    let prefix = render(&sink_option("key_prefix"), &SAMPLE);
    assert_eq!(prefix, "acme/prod-eu-1/shop/checkout/checkout-7d9f-abcde/");

    let key = ObjectKey::parse(&format!("{prefix}{FILE_NAME}"))?;
    assert_eq!(key.tenant_id(), &TenantId::parse("acme")?);
    assert_eq!(key.cluster_id(), "prod-eu-1");
    assert_eq!(key.namespace(), Some(&NamespaceName::parse("shop")?));
    assert_eq!(key.application(), "checkout");
    assert_eq!(key.pod_name(), "checkout-7d9f-abcde");
    assert_eq!(key.file(), FILE_NAME);
    assert_eq!(key.written_at_unix_seconds(), Some(1_732_270_000));
    Ok(())
}

#[test]
fn vector_key_template_is_the_five_key_segments_and_a_slash() {
    let template = sink_option("key_prefix");
    let fields = template_fields(&template);
    assert_eq!(
        fields,
        ["tenant_id", "cluster_id", "namespace", "application", "pod_name"]
    );
    // Nothing but the fields and separators: any literal text would shift the segments.
    let named: Vec<(&str, &str)> = fields.iter().map(|f| (*f, *f)).collect();
    assert_eq!(
        render(&template, &named),
        "tenant_id/cluster_id/namespace/application/pod_name/"
    );
}

/// A pod chooses its labels but not its namespace: the namespace segment must come from
/// the pod's Kubernetes metadata, and be checked as a namespace name (which a pod label
/// need not be) so every key the collector writes parses.
#[test]
fn vector_takes_the_namespace_from_the_pods_metadata_only() {
    let assignments: Vec<&str> = VECTOR_CONFIG
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("namespace ="))
        .collect();
    assert_eq!(
        assignments,
        [r#"namespace = string(.kubernetes.pod_namespace) ?? """#]
    );
    assert!(VECTOR_CONFIG.contains(&format!("if !match(namespace, r'{}') {{", NamespaceName::PATTERN)));
    // The source must keep the pod's namespace on the event for the remap to read.
    assert!(VECTOR_CONFIG.contains("      pod_namespace: .kubernetes.pod_namespace\n"));
}

#[test]
fn vector_file_name_options_give_the_unix_ts_uuid_json_gz_name() {
    assert_eq!(sink_option("filename_time_format"), "%s");
    assert_eq!(sink_option("filename_append_uuid"), "true");
    assert_eq!(sink_option("filename_extension"), "json.gz");
    assert_eq!(sink_option("compression"), "gzip");
    // The staging bucket only notifies the queue for keys ending in .json.gz
    // (cloudformation/provider-regional.yaml).
    assert!(FILE_NAME.ends_with(".json.gz"));
}

#[test]
fn vector_remap_sets_every_template_field() {
    let template = sink_option("key_prefix");
    for field in template_fields(&template) {
        assert!(
            VECTOR_CONFIG.contains(&format!("\"{field}\": {field},")),
            "the route transform must set {field:?} on the event"
        );
    }
    // The collector drops events whose tenant would not parse as a TenantId.
    assert!(VECTOR_CONFIG.contains(r"if !match(tenant_id, r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$') {"));
}

/// A pod's labels are the workload's to choose; the tenant must come from its
/// namespace's label, which only the provider sets.
#[test]
fn vector_takes_the_tenant_from_the_namespace_label_only() {
    // The source attaches the namespace labels and watches only labelled namespaces.
    assert!(VECTOR_CONFIG.contains("      namespace_labels: .kubernetes.namespace_labels\n"));
    assert!(
        VECTOR_CONFIG.contains(r#"extra_namespace_label_selector: "SECRET[site.tenant_namespace_label]""#)
    );
    // The one assignment of tenant_id reads that label of the namespace labels.
    assert!(VECTOR_CONFIG.contains("namespace_labels = object(.kubernetes.namespace_labels) ?? {}"));
    let assignments: Vec<&str> = VECTOR_CONFIG
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tenant_id ="))
        .collect();
    assert_eq!(
        assignments,
        [
            r#"tenant_id = string(get(namespace_labels, ["SECRET[site.tenant_namespace_label]"]) ?? null) ?? """#
        ]
    );
    assert!(
        !VECTOR_CONFIG.contains("customer_id"),
        "a pod label must not name the tenant"
    );
    // The default label, and the admission policy that guards the same label.
    assert!(COLLECTOR_KUSTOMIZATION.contains(&format!("- tenant_namespace_label={TENANT_LABEL}\n")));
    assert!(TENANT_LABEL_POLICY.contains(&format!("expression: \"'{TENANT_LABEL}'\"")));
}

/// The collector role may not write keys that repeat its cluster id in a later segment
/// (`cloudformation/collector-cluster-role.yaml`): the collector must drop such lines,
/// or their batches would be refused and retried forever.
#[test]
fn vector_drops_lines_whose_keys_its_role_may_not_write() {
    const ROLE_TEMPLATE: &str = include_str!("../../cloudformation/collector-cluster-role.yaml");
    assert!(ROLE_TEMPLATE.contains("${StagingBucketName}/*/${ClusterId}/*\n"));
    assert!(ROLE_TEMPLATE.contains("${StagingBucketName}/*/*/${ClusterId}/*\n"));
    assert!(VECTOR_CONFIG
        .contains("if namespace == cluster_id || application == cluster_id || pod_name == cluster_id {"));
}

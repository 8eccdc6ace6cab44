//! Schemas of request fields whose rules live in `contract`: each states exactly what
//! the field's `parse` accepts (patterns, lengths, enums), so that a generated client, a
//! contract test or a reader of the document never sees a value as valid that the
//! server refuses, or the other way round. Used with `#[schema(schema_with = …)]`, which
//! replaces the field's whole schema: the description a client reads is the one here.

use logspoke_contract::{
    BucketName, BucketPrefix, DesiredLog, DesiredLogs, FilterField, KeyLayout, KmsKeyArn, LogGroupName,
    LogStreamTemplate, MessageField, Partition, Region, RoleArn, StorageClass, TenantId, MAX_PATTERN_BYTES,
    MAX_RULES,
};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};

fn string(pattern: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
}

/// Makes a field schema accept `null` too (serde reads `null` as an absent `Option`).
pub fn nullable(schema: impl Into<RefOr<Schema>>) -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(schema)
        .build()
        .into()
}

/// A tenant id.
pub fn tenant_id() -> Schema {
    let description = "1 to 63 lowercase letters, digits and '-', starting and ending with a letter \
        or digit; it becomes an S3 key segment";
    string(TenantId::PATTERN, description)
        .max_length(Some(63))
        .examples(["acme"])
        .into()
}

/// The `Region` component: every region Logspoke delivers to. One named enum, so that
/// a generated client has one `Region` type wherever a region is asked for.
pub fn region_component() -> Schema {
    let names = Partition::ALL.into_iter().flat_map(Region::names_in);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .description(Some("An AWS region Logspoke delivers to"))
        .examples(["eu-west-1"])
        .into()
}

fn region_ref(description: &str) -> RefOr<Schema> {
    let mut reference = Ref::from_schema_name("Region");
    reference.description = description.to_owned();
    RefOr::Ref(reference)
}

/// A config's target region, narrowed to the role ARN's partition by the body schema.
pub fn region() -> RefOr<Schema> {
    region_ref("The target's AWS region; it must be in the role ARN's partition (aws, aws-cn, aws-us-gov)")
}

/// A provider region: one regional stack, whose workers deliver what its clusters
/// stage there and record it in that region's delivery ledger.
pub fn delivery_region() -> RefOr<Schema> {
    region_ref("The provider region: its workers deliver what is staged there and record it in its own delivery ledger")
}

/// The onboarding stack's region, or `null` for the default.
pub fn stack_region() -> Schema {
    let description = "Region whose CloudFormation console the link opens (the stack's region). The role's \
        CloudWatch permissions are scoped to it, so it must be the CloudWatch config's target_region \
        (409 otherwise); defaults to the configured targets' region.";
    nullable(region_ref(description))
}

/// A customer's delivery role, as the onboarding template creates it.
pub fn customer_role_arn() -> Schema {
    let description = "arn:{aws|aws-cn|aws-us-gov}:iam::{12 digits}:role/logspoke/{name}: the role the \
        onboarding template creates, in the customer's account (never the provider's)";
    string(RoleArn::CUSTOMER_ROLE_PATTERN, description)
        .examples(["arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery"])
        .into()
}

/// The SNS topic a tenant's notifications are published to.
pub fn notification_topic_arn() -> Schema {
    let description = "arn:{aws|aws-cn|aws-us-gov}:sns:{region}:{12 digits}:{name}: a topic of the role's \
        account; a FIFO topic's name ends in .fifo";
    string(crate::notifications::topic::PATTERN, description)
        .examples(["arn:aws:sns:eu-west-1:222222222222:logspoke-notifications"])
        .into()
}

/// An allow-list of applications, each optionally confined to a namespace.
pub fn desired_logs() -> Schema {
    let item = "`application` (a Kubernetes label value) or `namespace/application` (a Kubernetes \
        namespace name, '/', a label value)";
    ArrayBuilder::new()
        .items(string(DesiredLog::PATTERN, item).examples(["prod/payments", "checkout"]))
        .description(Some(
            "Which pods' logs are delivered, at most 100 entries (duplicates removed); empty means \
             all of them. `namespace/application` admits only pods of that namespace with that \
             application label. A bare `application` admits pods with that label in any of the \
             tenant's namespaces: the label is chosen by whoever runs the pod, so it proves only \
             the label; the namespace is set by the cluster. Objects staged before keys carried \
             the namespace are admitted only by bare entries.",
        ))
        .max_items(Some(DesiredLogs::MAX_ENTRIES))
        .into()
}

/// The `FilterRule` component: a field and exactly one of `equals`, `contains`, `regex`.
pub fn filter_rule_component() -> Schema {
    let fields = [
        FilterField::Namespace,
        FilterField::Application,
        FilterField::Container,
        FilterField::Pod,
        FilterField::Message,
    ]
    .map(FilterField::as_str);
    let pattern = |min: usize, description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(min))
            .max_length(Some(MAX_PATTERN_BYTES))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .description(Some(
            "A field and exactly one of equals, contains or regex. namespace, application and pod come \
             from the staged object's key (set from Kubernetes metadata), container and message from \
             each line; a line without the field matches no rule on it.",
        ))
        .property(
            "field",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(fields)),
        )
        .required("field")
        .property("equals", pattern(0, "Matches when the field is exactly this"))
        .property("contains", pattern(1, "Matches when the field contains this"))
        .property(
            "regex",
            pattern(
                1,
                "Matches when this regular expression is found in the field: Rust regex syntax \
                 (no look-around or back-references), linear-time matching, at most 64 KiB compiled",
            ),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .examples([serde_json::json!({"field": "message", "regex": "^(ERROR|WARN)"})])
        .into()
}

/// The `Filter` component: which log lines a config delivers.
pub fn filter_component() -> Schema {
    let list = |description: &str| {
        ArrayBuilder::new()
            .items(Ref::from_schema_name("FilterRule"))
            .max_items(Some(MAX_RULES))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .description(Some(
            "Which log lines are delivered: when include has rules, only lines matching at least one; \
             never lines matching an exclude rule. Empty: every line. Filtered lines are counted in \
             the target's health (events_filtered).",
        ))
        .property(
            "include",
            list("Deliver only lines matching one of these (none: every line)"),
        )
        .property("exclude", list("Never deliver lines matching one of these"))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .examples([serde_json::json!({
            "include": [{"field": "namespace", "equals": "payments"}],
            "exclude": [{"field": "message", "contains": "GET /healthz"}]
        })])
        .into()
}

/// A config's filter (absent: every line).
pub fn filter() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name("Filter"))
}

/// CloudWatch's message format.
pub fn message_format() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["raw", "json"]))
        .description(Some(
            "raw (the default): each event's message is the log line's text. json: an object with the \
             text as message and the metadata fields of message_fields, for CloudWatch Logs Insights",
        ))
        .into()
}

/// An S3 config's key layout.
pub fn key_layout() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(KeyLayout::ALL.map(KeyLayout::as_str)))
        .description(Some(
            "staged (the default): copies keep the staged key under the prefix, \
             {prefix}{tenant}/{cluster}/{namespace}/{application}/{pod}/{file}. hive: Hive-style partitions \
             Athena and Glue read without a crawler, {prefix}cluster=…/namespace=…/dt=YYYY-MM-DD/hour=HH/{file}, \
             by the date and hour (UTC) of the object's first event",
        ))
        .into()
}

/// An S3 config's storage class.
pub fn storage_class() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(StorageClass::ALL.map(StorageClass::as_str)))
        .description(Some(
            "The storage class of the copies (default: the bucket's, STANDARD); GLACIER and DEEP_ARCHIVE \
             objects must be restored before they can be read",
        ))
        .into()
}

/// An S3 config's KMS key.
pub fn kms_key_arn() -> Schema {
    string(
        KmsKeyArn::PATTERN,
        "A KMS key (not an alias) in target_region to encrypt the copies with (SSE-KMS); the delivery role \
         needs kms:GenerateDataKey on it through S3, which the onboarding stack grants (BucketKmsKeyArn)",
    )
    .examples(["arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
    .into()
}

/// The fields of a `json` message.
pub fn message_fields() -> Schema {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("MessageField"))
        .min_items(Some(1))
        .max_items(Some(MessageField::ALL.len()))
        .unique_items(true)
        .description(Some(
            "Only with message_format json: the metadata fields each message carries, written in the \
             order cluster, namespace, application, container, pod (default: all of them)",
        ))
        .into()
}

/// A CloudWatch Logs group name.
pub fn log_group_name() -> Schema {
    let description = "CloudWatch Logs group in the customer's account: 1 to 512 of [.-_/#A-Za-z0-9]";
    string(LogGroupName::PATTERN, description)
        .examples(["/logspoke/acme"])
        .into()
}

/// A log stream name template.
pub fn log_stream_template() -> Schema {
    let description = "Stream name template with the placeholders {tenant_id}, {cluster_id}, {namespace}, \
        {application}, {pod_name}; no ':' or '*' outside them. Default \
        {cluster_id}/{namespace}/{application}/{pod_name} ({cluster_id}/{application}/{pod_name} for \
        objects staged before keys carried the namespace, for which {namespace} is empty). The \
        tenant, cluster and namespace are set by the provider; the application and pod name by \
        whoever runs the pod, so a template without {namespace} lets every namespace's pods share \
        streams";
    string(LogStreamTemplate::PATTERN, description)
        .min_length(Some(1))
        .max_length(Some(LogStreamTemplate::MAX_CHARS))
        .examples([LogStreamTemplate::DEFAULT])
        .into()
}

/// An S3 bucket name.
pub fn bucket_name() -> Schema {
    let description = "The customer's S3 general-purpose bucket (S3's naming rules)";
    string(BucketName::PATTERN, description)
        .examples(["acme-logs"])
        .into()
}

/// An S3 key prefix (normalised by the server).
pub fn bucket_prefix() -> Schema {
    let description = "Key prefix in the bucket, at most 512 characters, normalised to end in '/' (empty: \
        the bucket root); no '*', '?', '$', '\\', control characters, '.' or '..' segments";
    string(BucketPrefix::PATTERN, description)
        .max_length(Some(BucketPrefix::MAX_CHARS))
        .examples(["k8s/"])
        .into()
}

/// Rust's `char::is_whitespace` (Unicode `White_Space`), as a character-class body.
const WHITE_SPACE: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// What [`crate::routes::tenants::parse_display_name`] accepts: surrounding white space
/// (trimmed), then 1 to 200 characters that start and end with a visible one, and no
/// control characters.
pub fn display_name_pattern() -> String {
    let visible = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
    let not_control = r"[^\u0000-\u001f\u007f-\u009f]";
    format!("^[{WHITE_SPACE}]*{visible}({not_control}{{0,198}}{visible})?[{WHITE_SPACE}]*$")
}

/// A display name, or `null` for none.
pub fn display_name() -> Schema {
    let description =
        "Human-readable name: 1 to 200 characters after trimming white space, no control characters";
    nullable(string(&display_name_pattern(), description).examples(["Acme Corp"]))
}

#[cfg(test)]
mod tests {
    use fancy_regex::Regex;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use crate::routes::tenants::parse_display_name;

    #[test]
    fn the_display_name_pattern_accepts_exactly_what_the_server_does() {
        let regex = Regex::new(&super::display_name_pattern()).unwrap();
        let long = "n".repeat(200);
        let too_long = "n".repeat(201);
        let padded = format!("  {long}\t\n");
        let mut inputs: Vec<String> = [
            "Acme", " Acme ", "\tAcme\n", "A", "a b", "", " ", "\u{3000}", "a\u{e}b", "a\u{85}", "\u{feff}",
            "é", "😀",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        inputs.extend([long, too_long, padded]);
        let alphabet = [
            "a", " ", "\t", "\n", "\u{e}", "\u{85}", "\u{a0}", "\u{3000}", "\u{feff}", "é",
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..=15);
            inputs.push(
                (0..len)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect(),
            );
        }
        for input in inputs {
            let by_pattern = regex.is_match(&input).unwrap();
            let by_server = parse_display_name(Some(input.clone())).is_ok();
            assert_eq!(by_pattern, by_server, "{input:?}");
        }
    }
}

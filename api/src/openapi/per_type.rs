//! One operation per delivery type. The server routes `…/delivery-configs/{type}`, but
//! a CloudWatch config and an S3 config take different bodies: a single operation with
//! one body schema for both would call an S3 body with `log_group_name` valid, and a
//! generated client could not tell the types apart. So the finished document lists
//! `…/delivery-configs/cloudwatch` and `…/delivery-configs/s3` as operations of their
//! own (`put_cloudwatch_delivery_config`, `get_s3_delivery_health`, …), each with its
//! type's body and response, derived here from the handler's schemas and the field lists
//! in [`crate::routes::delivery_configs`], so that neither can drift from the server.

use logspoke_contract::{DeliveryType, Partition, Region};
use serde_json::{json, Map, Value};

use crate::configs::{required_fields, target_fields, COMMON_FIELDS};

const SCHEMAS: &str = "#/components/schemas/";
/// The handlers' schemas: the union of both types, replaced by per-type ones.
const INPUT: &str = "DeliveryConfigInput";
const CONFIG: &str = "DeliveryConfig";

/// Names of a type's schemas and words of its summaries.
struct Names {
    /// The path segment and discriminator value.
    segment: &'static str,
    /// What a summary calls the type.
    label: &'static str,
    /// The schema name prefix.
    prefix: &'static str,
    /// The indefinite article before `label`.
    article: &'static str,
}

fn names(delivery_type: DeliveryType) -> Names {
    match delivery_type {
        DeliveryType::Cloudwatch => Names {
            segment: "cloudwatch",
            label: "CloudWatch Logs",
            prefix: "CloudWatch",
            article: "a",
        },
        DeliveryType::S3 => Names {
            segment: "s3",
            label: "S3",
            prefix: "S3",
            article: "an",
        },
    }
}

/// Splits every `{type}` path into one path per type and replaces the union schemas.
pub fn split(document: &mut Value) {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let templated: Vec<String> = paths.keys().filter(|p| p.contains("/{type}")).cloned().collect();
        for path in templated {
            let Some(item) = paths.remove(&path) else { continue };
            for delivery_type in DeliveryType::ALL {
                let n = names(delivery_type);
                paths.insert(path.replace("{type}", n.segment), path_item_for(&item, &n));
            }
        }
    }
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        split_schemas(schemas);
    }
}

fn path_item_for(item: &Value, n: &Names) -> Value {
    let mut item = item.clone();
    let Some(operations) = item.as_object_mut() else {
        return item;
    };
    for (method, operation) in operations.iter_mut() {
        let input = match method.as_str() {
            "patch" => format!("{}ConfigPatch", n.prefix),
            _ => format!("{}ConfigInput", n.prefix),
        };
        retarget(operation, &input, &format!("{}DeliveryConfig", n.prefix));
        let Some(op) = operation.as_object_mut() else {
            continue;
        };
        if let Some(Value::String(id)) = op.get_mut("operationId") {
            *id = typed_operation_id(id, n.segment);
        }
        if let Some(Value::String(summary)) = op.get_mut("summary") {
            *summary = if summary.contains(" a delivery config") {
                summary.replacen(
                    " a delivery config",
                    &format!(" {} {} delivery config", n.article, n.label),
                    1,
                )
            } else {
                summary.replacen("delivery config", &format!("{} delivery config", n.label), 1)
            };
        }
        if let Some(Value::Array(parameters)) = op.get_mut("parameters") {
            parameters.retain(|p| p.get("name").and_then(Value::as_str) != Some("type"));
        }
    }
    item
}

/// The operation id of `id` for one type: the type before `delivery` when the id names
/// it (`get_delivery_health` → `get_s3_delivery_health`), else after the verb
/// (`create_replay` → `create_s3_replay`).
fn typed_operation_id(id: &str, segment: &str) -> String {
    if id.contains("_delivery_") {
        return id.replacen("_delivery_", &format!("_{segment}_delivery_"), 1);
    }
    match id.split_once('_') {
        Some((verb, rest)) => format!("{verb}_{segment}_{rest}"),
        None => format!("{id}_{segment}"),
    }
}

/// Points every reference to the union schemas at the type's own.
fn retarget(value: &mut Value, input: &str, config: &str) {
    match value {
        Value::Object(members) => {
            if let Some(Value::String(reference)) = members.get_mut("$ref") {
                if *reference == format!("{SCHEMAS}{INPUT}") {
                    *reference = format!("{SCHEMAS}{input}");
                } else if *reference == format!("{SCHEMAS}{CONFIG}") {
                    *reference = format!("{SCHEMAS}{config}");
                }
            }
            members.values_mut().for_each(|v| retarget(v, input, config));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| retarget(v, input, config)),
        _ => {}
    }
}

fn split_schemas(schemas: &mut Map<String, Value>) {
    let (Some(input), Some(config)) = (schemas.remove(INPUT), schemas.remove(CONFIG)) else {
        return;
    };
    let mut mapping = Map::new();
    for delivery_type in DeliveryType::ALL {
        let n = names(delivery_type);
        let config_name = format!("{}DeliveryConfig", n.prefix);
        schemas.insert(
            format!("{}ConfigInput", n.prefix),
            put_body(&input, delivery_type),
        );
        schemas.insert(
            format!("{}ConfigPatch", n.prefix),
            patch_body(&input, delivery_type),
        );
        schemas.insert(config_name.clone(), response(&config, delivery_type));
        mapping.insert(n.segment.to_owned(), json!(format!("{SCHEMAS}{config_name}")));
    }
    let one_of: Vec<Value> = mapping.values().map(|r| json!({ "$ref": r })).collect();
    let description = config.get("description").cloned().unwrap_or(Value::Null);
    schemas.insert(
        CONFIG.to_owned(),
        json!({
            "description": description,
            "oneOf": one_of,
            "discriminator": { "propertyName": "type", "mapping": mapping },
        }),
    );
}

/// The properties of `schema` that a config of this type has.
fn own_properties(schema: &Value, delivery_type: DeliveryType, also: &[&str]) -> Map<String, Value> {
    let wanted: Vec<&str> = COMMON_FIELDS
        .into_iter()
        .chain(target_fields(delivery_type).iter().copied())
        .chain(also.iter().copied())
        .collect();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(name, _)| wanted.contains(&name.as_str()))
        .map(|(name, property)| (name.clone(), property.clone()))
        .collect()
}

/// `null` reads as "absent" (serde's `Option`), so a field that may be absent may be
/// `null` too; a required one may not.
fn allow_null(property: &Value) -> Value {
    let types = property.get("type").and_then(Value::as_array);
    if types.is_some_and(|types| types.iter().any(|t| t == "null")) {
        return property.clone();
    }
    let mut plain = property.clone();
    let description = plain.as_object_mut().and_then(|p| p.remove("description"));
    let mut nullable = json!({ "oneOf": [{ "type": "null" }, plain] });
    if let Some(description) = description {
        nullable["description"] = description;
    }
    nullable
}

/// A body of the type's fields: `required` must be present; `null` is allowed for every
/// field but the type's required ones (for a PATCH too: a patch may not remove them).
fn body(input: &Value, delivery_type: DeliveryType, required: &[&str]) -> Value {
    let never_null = required_fields(delivery_type);
    let properties: Map<String, Value> = own_properties(input, delivery_type, &[])
        .into_iter()
        .map(|(name, property)| {
            let property = if never_null.contains(&name.as_str()) {
                property
            } else {
                allow_null(&property)
            };
            (name, property)
        })
        .collect();
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "not": region_outside_role_partition(),
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// The body of a PUT: the fields of its type, the required ones present and not `null`.
fn put_body(input: &Value, delivery_type: DeliveryType) -> Value {
    let required = required_fields(delivery_type);
    let mut schema = body(input, delivery_type, &required);
    let n = names(delivery_type);
    schema["description"] = json!(format!(
        "The writable fields of {} {} delivery config (the body of PUT).",
        n.article, n.label
    ));
    schema
}

/// The body of a PATCH (a merge patch): any subset of the fields; `null` removes an
/// optional field (back to its default), and may not remove a required one.
fn patch_body(input: &Value, delivery_type: DeliveryType) -> Value {
    let mut schema = body(input, delivery_type, &[]);
    let n = names(delivery_type);
    schema["description"] = json!(format!(
        "A JSON merge patch (RFC 7396) of {} {} delivery config: `null` resets an optional \
         field to its default; the result is validated like a PUT body.",
        n.article, n.label
    ));
    schema
}

/// `target_region` must be a region of `role_arn`'s partition, stated as what is not
/// allowed: a body carrying both, with a region of another partition than the ARN's.
/// Code generators ignore `not` and keep one plain model with one `Region` enum (an
/// `anyOf` per partition made openapi-python-client generate three models), and test
/// generators filter only the mismatched pairs (`if`/`then` made them filter almost
/// every body).
fn region_outside_role_partition() -> Value {
    let mismatches: Vec<Value> = Partition::ALL
        .into_iter()
        .map(|partition| {
            let others: Vec<&str> = Partition::ALL
                .into_iter()
                .filter(|other| *other != partition)
                .flat_map(Region::names_in)
                .collect();
            json!({
                "properties": {
                    "role_arn": { "type": "string", "pattern": format!("^arn:{}:", partition.as_str()) },
                    "target_region": { "enum": others },
                },
                "required": ["role_arn", "target_region"],
            })
        })
        .collect();
    json!({ "anyOf": mismatches })
}

/// A stored config of this type, with `type` fixed to its value.
fn response(config: &Value, delivery_type: DeliveryType) -> Value {
    let n = names(delivery_type);
    let common = [
        "tenant_id",
        "type",
        "state",
        "verification",
        "version",
        "created_at",
        "updated_at",
        "health",
    ];
    let mut properties = own_properties(config, delivery_type, &common);
    properties.insert(
        "type".into(),
        json!({ "type": "string", "enum": [n.segment], "description": "The delivery type" }),
    );
    let mut required: Vec<Value> = config
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let always: &[&str] = match delivery_type {
        DeliveryType::Cloudwatch => &["log_group_name"],
        DeliveryType::S3 => &["bucket_name", "bucket_prefix"],
    };
    required.extend(always.iter().map(|name| json!(name)));
    json!({
        "type": "object",
        "description": format!("{} {} delivery config.", capitalised(n.article), n.label),
        "properties": properties,
        "required": required,
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

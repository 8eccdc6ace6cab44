//! The committed OpenAPI document matches the code, and every operation is complete.

use serde_json::Value;

const COMMITTED: &str = include_str!("../../../openapi/openapi.json");

#[test]
fn committed_spec_matches_the_code() {
    let generated = logspoke_api::cli::openapi_json().unwrap();
    assert!(
        generated.trim() == COMMITTED.trim(),
        "openapi/openapi.json is stale; regenerate it with:\n  \
         cargo run -q -p logspoke-api -- openapi > openapi/openapi.json"
    );
}

#[test]
fn every_operation_is_documented_secured_and_lists_problems() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let name = format!("{method} {path}");
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: summary"
            );
            assert!(operation["operationId"].is_string(), "{name}: operationId");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{name}: success response"
            );
            assert!(
                responses.keys().any(|s| s.starts_with('4')),
                "{name}: a client error response"
            );
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let types = &parameter["schema"]["type"];
                assert!(
                    types.is_string(),
                    "{name}: parameter {parameter} is one plain type"
                );
            }
            if path.starts_with("/v1/") {
                assert_eq!(
                    operation["security"][0]["bearer"],
                    serde_json::json!([]),
                    "{name}: security"
                );
                for status in ["401", "403", "500"] {
                    let content = &responses[status]["content"]["application/problem+json"];
                    assert!(content["schema"].is_object(), "{name}: {status} problem");
                }
                if operation.get("requestBody").is_some() {
                    assert!(responses.contains_key("422"), "{name}: 422");
                    assert!(responses.contains_key("413"), "{name}: 413");
                }
            }
        }
    }
    assert_eq!(operations, 38);
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

fn property_names(schema: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn each_delivery_type_has_its_own_operations_and_body() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|p| !p.contains("{type}")),
        "no operation is shared by both types"
    );
    let cloudwatch = &paths["/v1/tenants/{tenant_id}/delivery-configs/cloudwatch"];
    assert_eq!(cloudwatch["put"]["operationId"], "put_cloudwatch_delivery_config");
    let body = &cloudwatch["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/CloudWatchConfigInput");
    let s3_put = schema(&spec, "S3ConfigInput");
    assert_eq!(
        property_names(s3_put),
        [
            "bucket_name",
            "bucket_prefix",
            "desired_logs",
            "enabled",
            "filter",
            "key_layout",
            "kms_key_arn",
            "role_arn",
            "storage_class",
            "target_region"
        ]
    );
    assert_eq!(s3_put["additionalProperties"], false);
    assert_eq!(
        s3_put["required"],
        serde_json::json!(["target_region", "role_arn", "bucket_name"])
    );
    let cloudwatch_patch = schema(&spec, "CloudWatchConfigPatch");
    assert!(
        cloudwatch_patch.get("required").is_none(),
        "a patch needs no field"
    );
    assert_eq!(
        property_names(cloudwatch_patch),
        [
            "desired_logs",
            "enabled",
            "filter",
            "log_group_name",
            "log_stream_template",
            "message_fields",
            "message_format",
            "role_arn",
            "target_region"
        ]
    );
    let listed = schema(&spec, "DeliveryConfig");
    assert_eq!(listed["discriminator"]["propertyName"], "type");
    assert_eq!(
        schema(&spec, "S3DeliveryConfig")["properties"]["type"]["enum"],
        serde_json::json!(["s3"])
    );
}

#[test]
fn verify_takes_no_body_so_generated_clients_can_call_it_without_options() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    for kind in ["cloudwatch", "s3"] {
        let path = format!("/v1/tenants/{{tenant_id}}/delivery-configs/{kind}/verify");
        let verify = &spec["paths"][&path]["post"];
        assert!(verify.get("requestBody").is_none(), "{path}");
        let force = &verify["parameters"][1];
        assert_eq!((&force["name"], &force["in"]), (&"force".into(), &"query".into()));
    }
}

#[test]
fn delivery_health_is_one_operation_per_type_and_an_operator_list() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    for kind in ["cloudwatch", "s3"] {
        let path = format!("/v1/tenants/{{tenant_id}}/delivery-configs/{kind}/health");
        let get = &spec["paths"][&path]["get"];
        assert_eq!(
            get["operationId"],
            format!("get_{kind}_delivery_health"),
            "{path}"
        );
        let body = &get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/DeliveryHealth");
        let config = schema(
            &spec,
            if kind == "s3" {
                "S3DeliveryConfig"
            } else {
                "CloudWatchDeliveryConfig"
            },
        );
        assert_eq!(
            config["properties"]["health"]["$ref"], "#/components/schemas/HealthSummary",
            "{kind} documents embed the summary"
        );
    }
    let list = &spec["paths"]["/v1/delivery-health"]["get"];
    assert_eq!(list["operationId"], "list_delivery_health");
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["state", "limit", "cursor"]);
    assert_eq!(
        list["parameters"][0]["schema"]["enum"],
        serde_json::json!(["healthy", "failing", "idle", "paused"])
    );
}

#[test]
fn the_cause_schema_says_what_to_do_about_each_cause() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let causes = schema(&spec, "Cause");
    let description = causes["description"].as_str().unwrap();
    let listed = causes["enum"].as_array().unwrap();
    assert_eq!(listed.len(), logspoke_contract::Cause::ALL.len());
    for cause in listed {
        let row = format!("| `{}` | ", cause.as_str().unwrap());
        assert!(description.contains(&row), "{row}");
    }
}

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
    assert_eq!(operations, 20);
}

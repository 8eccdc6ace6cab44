//! The audit trail.

use serde_json::{json, Value};

use crate::helpers::{cloudwatch_body, TestApp};

#[tokio::test]
async fn every_change_is_audited_with_actor_and_documents() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let path = "/v1/tenants/acme/delivery-configs/cloudwatch";
    let response = app
        .request(reqwest::Method::PUT, path, &op)
        .header("x-request-id", "req-1234")
        .json(&cloudwatch_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let server_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    app.patch(path, &op, &json!({"enabled": false})).await;
    app.patch("/v1/tenants/acme", &op, &json!({"display_name": "Acme"}))
        .await;
    app.delete(path, &op).await;

    let audit: Value = app.audit_trail("acme", &op).await;
    let items = audit["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "delivery_config.deleted",
            "tenant.updated",
            "delivery_config.updated",
            "delivery_config.created",
            "tenant.created"
        ]
    );
    for item in items {
        assert_eq!(item["actor"], "alice");
        assert_eq!(item["actor_role"], "operator");
        assert!(item["occurred_at"].is_string());
    }
    let updated = &items[2];
    assert_eq!(updated["delivery_type"], "cloudwatch");
    assert_eq!(updated["before"]["enabled"], true);
    assert_eq!(updated["after"]["enabled"], false);
    // The server's id is recorded as the request id; the client's is kept beside it.
    assert_ne!(server_id, "req-1234");
    assert_eq!(items[3]["request_id"], server_id.as_str());
    assert_eq!(items[3]["client_request_id"], "req-1234");
    assert_eq!(items[2]["client_request_id"], Value::Null);
    assert_eq!(items[3]["before"], Value::Null);
    assert_eq!(items[0]["after"], Value::Null);
}

#[tokio::test]
async fn a_tenant_cannot_stamp_its_audit_rows_with_another_requests_id() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let by_operator = app
        .request(reqwest::Method::PATCH, "/v1/tenants/acme", &op)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"display_name": "Acme"}"#)
        .send()
        .await
        .unwrap();
    let operators_id = by_operator.headers()["x-request-id"].to_str().unwrap().to_owned();
    let tenant = TestApp::tenant_token("acme");
    let forged = app
        .request(
            reqwest::Method::PUT,
            "/v1/tenants/acme/delivery-configs/cloudwatch",
            &tenant,
        )
        .header("x-request-id", &operators_id)
        .json(&cloudwatch_body())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 201);
    assert_ne!(forged.headers()["x-request-id"], operators_id.as_str());

    let audit: Value = app.audit_trail("acme", &op).await;
    let stamped: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request_id"] == operators_id.as_str())
        .collect();
    assert_eq!(stamped.len(), 1, "only the operator's own change carries its id");
    assert_eq!(stamped[0]["actor_role"], "operator");
}

#[tokio::test]
async fn audit_events_paginate_newest_first() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    for i in 0..4 {
        app.patch(
            "/v1/tenants/acme",
            &op,
            &json!({"display_name": format!("Acme {i}")}),
        )
        .await;
    }
    let first: Value = app
        .get("/v1/tenants/acme/audit-events?limit=2", &op)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/v1/tenants/acme/audit-events?limit=2&cursor={cursor}"),
            &op,
        )
        .await
        .json()
        .await
        .unwrap();
    let third: Value = app
        .get(
            &format!(
                "/v1/tenants/acme/audit-events?limit=2&cursor={}",
                second["next_cursor"].as_str().unwrap()
            ),
            &op,
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = [&first, &second, &third]
        .iter()
        .flat_map(|page| {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(third["next_cursor"], Value::Null);
}

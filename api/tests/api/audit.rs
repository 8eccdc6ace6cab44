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
    app.patch(path, &op, &json!({"enabled": false})).await;
    app.patch("/v1/tenants/acme", &op, &json!({"display_name": "Acme"}))
        .await;
    app.delete(path, &op).await;

    let audit: Value = app
        .get("/v1/tenants/acme/audit-events", &op)
        .await
        .json()
        .await
        .unwrap();
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
    assert_eq!(items[3]["request_id"], "req-1234");
    assert_eq!(items[3]["before"], Value::Null);
    assert_eq!(items[0]["after"], Value::Null);
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

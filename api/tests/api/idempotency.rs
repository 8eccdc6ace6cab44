//! `Idempotency-Key` on tenant creation.

use serde_json::{json, Value};

use crate::helpers::{problem, TestApp};

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.request(reqwest::Method::POST, "/v1/tenants", token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    let body = json!({"tenant_id": "acme", "display_name": "Acme"});
    let first = post_with_key(&app, &op, "key-1", &body).await;
    assert_eq!(first.status(), 201);
    let first_body: Value = first.json().await.unwrap();
    let retry = post_with_key(&app, &op, "key-1", &body).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], "/v1/tenants/acme");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    // Without the key, the same request is a plain duplicate.
    problem(app.post("/v1/tenants", &op, &body).await, 409).await;
    let audit: Value = app.audit_trail("acme", &op).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    assert_eq!(
        post_with_key(&app, &op, "key-1", &json!({"tenant_id": "acme"}))
            .await
            .status(),
        201
    );
    let body = problem(
        post_with_key(&app, &op, "key-1", &json!({"tenant_id": "globex"})).await,
        422,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("Idempotency-Key"));
    problem(app.get("/v1/tenants/globex", &op).await, 404).await;
}

#[tokio::test]
async fn keys_are_scoped_to_the_token_subject() {
    let app = TestApp::spawn().await;
    let alice = TestApp::operator_token();
    let carol = TestApp::sign(&TestApp::claims("operator", "carol", None));
    assert_eq!(
        post_with_key(&app, &alice, "shared", &json!({"tenant_id": "acme"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        post_with_key(&app, &carol, "shared", &json!({"tenant_id": "globex"}))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn concurrent_retries_create_the_tenant_once() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    let body = json!({"tenant_id": "acme"});
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .request(reqwest::Method::POST, "/v1/tenants", &op)
            .header("idempotency-key", "burst")
            .json(&body);
        attempts.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = attempts.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    let audit: Value = app.audit_trail("acme", &op).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn keys_past_their_24_hours_are_purged_and_newer_ones_kept() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    for (key, tenant) in [("old", "acme"), ("new", "globex")] {
        let created = post_with_key(&app, &op, key, &json!({"tenant_id": tenant})).await;
        assert_eq!(created.status(), 201);
    }
    sqlx::query(
        "update idempotency_keys set created_at = now() - interval '25 hours' where idempotency_key = 'old'",
    )
    .execute(&app.pool())
    .await
    .unwrap();
    let purged = logspoke_api::idempotency::purge_expired(&app.pool())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left: Vec<String> = sqlx::query_scalar("select idempotency_key from idempotency_keys")
        .fetch_all(&app.pool())
        .await
        .unwrap();
    assert_eq!(left, ["new"]);
}

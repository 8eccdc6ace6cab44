//! Operational endpoints and cross-cutting HTTP behaviour.

use serde_json::Value;

use crate::helpers::{problem, TestApp};

#[tokio::test]
async fn health_and_metrics_are_served_without_a_token() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        app.client.get(app.url("/readyz")).send().await.unwrap().status(),
        200
    );
    app.get("/v1/tenants", &TestApp::operator_token()).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total{"), "{metrics}");
    assert!(metrics.contains(r#"route="/v1/tenants""#), "{metrics}");
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_request_gets_the_servers_own_request_id_whatever_the_client_sent() {
    let app = TestApp::spawn().await;
    for sent in [Some("abc-123"), None] {
        let mut request = app.client.get(app.url("/healthz"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} (sent {sent:?})");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problem_documents() {
    let app = TestApp::spawn().await;
    problem(app.client.get(app.url("/v2/nothing")).send().await.unwrap(), 404).await;
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert!(response.headers().contains_key("allow"));
    problem(response, 405).await;
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    for i in 0..20 {
        app.create_tenant(&format!("tenant-{i:02}")).await;
    }
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .get(app.url("/v1/tenants"))
        .bearer_auth(&op)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn docs_and_spec_are_served() {
    let app = TestApp::spawn().await;
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("<html"));
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["info"]["title"], "Logspoke control plane");
}

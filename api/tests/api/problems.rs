//! Every problem document shape the API emits, over real HTTP, as insta snapshots: the
//! status, the headers a client acts on (`www-authenticate`, `allow`, `retry-after`) and
//! the body. One test per way of failing: the `ApiError` variants of `api/src/error.rs`,
//! the router's fallback, and the framework rejections `problem_for_bare_errors` turns
//! into problems (unknown method, body limit).
//!
//! A changed shape fails here until the snapshot is reviewed (`cargo insta review`);
//! with `CI=true` insta writes no new snapshot and fails on a missing one.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{json, Map, Value};

use crate::helpers::{cloudwatch_body, problem, Options, TestApp};
use crate::verification::{closed_endpoint, verified_by_force, verify};

/// Headers a client reads off an error response; `x-request-id` shows that even a
/// problem carries the request's id.
const HEADERS: [&str; 5] = [
    "content-type",
    "www-authenticate",
    "allow",
    "retry-after",
    "x-request-id",
];

/// The response as one document: status, the headers of [`HEADERS`] it has, and the
/// problem body (checked by [`problem`] for the media type and the status it repeats).
async fn document(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let headers: Map<String, Value> = HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), json!(value)))
        })
        .collect();
    let body = problem(response, status).await;
    json!({"status": status, "headers": headers, "body": body})
}

/// Snapshots `response` (or an already read `@document`) with the values that differ
/// per run redacted.
macro_rules! assert_problem_snapshot {
    ($response:expr) => {
        assert_problem_snapshot!(@document document($response).await)
    };
    (@document $document:expr) => {
        insta::assert_json_snapshot!($document, {
            ".headers[\"x-request-id\"]" => "[request-id]",
            ".headers[\"retry-after\"]" => "[seconds]",
        })
    };
}

/// Replaces the AWS SDK's own words for a failed call, which the detail quotes in
/// parentheses at its end, so that the snapshot holds only the API's.
fn redact_aws_cause(document: &mut Value) {
    let detail = document["body"]["detail"].as_str().unwrap_or_default();
    if let Some((api, _cause)) = detail.rsplit_once(" (") {
        document["body"]["detail"] = json!(format!("{api} ([aws error])"));
    }
}

fn tenants(app: &TestApp) -> reqwest::RequestBuilder {
    app.request(reqwest::Method::POST, "/v1/tenants", &TestApp::operator_token())
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let response = tenants(&app)
        .header("content-type", "application/json")
        .body("{\"tenant_id\": ")
        .send()
        .await
        .unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_cursor_the_api_did_not_issue_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let response = app
        .get("/v1/tenants?cursor=not-a-cursor", &TestApp::operator_token())
        .await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_request_without_a_token_is_unauthorized_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/v1/tenants")).send().await.unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_unauthorized() {
    let app = TestApp::spawn().await;
    let claims = TestApp::claims("operator", "mallory", None);
    let token = TestApp::sign_with(Algorithm::HS256, b"another-secret-0123456789abcdef", &claims);
    assert_problem_snapshot!(app.get("/v1/tenants", &token).await);
}

#[tokio::test]
async fn tenant_token_cannot_read_another_tenant() {
    let app = TestApp::spawn().await;
    app.create_tenant("globex").await;
    let acme = TestApp::tenant_token("acme");
    assert_problem_snapshot!(app.get("/v1/tenants/globex", &acme).await);
}

#[tokio::test]
async fn an_unknown_route_is_not_found() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/v2/nothing")).send().await.unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn an_unknown_tenant_is_not_found() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/tenants/nobody", &TestApp::operator_token()).await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_tenant_id_no_tenant_could_have_is_not_found() {
    let app = TestApp::spawn().await;
    let response = app
        .get(
            "/v1/tenants/NOT_A_TENANT/delivery-configs",
            &TestApp::operator_token(),
        )
        .await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn an_unsupported_method_is_not_allowed_and_names_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn creating_an_existing_tenant_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let response = app
        .post(
            "/v1/tenants",
            &TestApp::operator_token(),
            &json!({"tenant_id": "acme"}),
        )
        .await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_stale_if_match_is_a_failed_precondition() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/tenants/acme",
            &TestApp::operator_token(),
        )
        .header("if-match", "\"999\"")
        .send()
        .await
        .unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn an_if_match_outside_its_documented_pattern_is_a_bad_request_not_a_failed_precondition() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    for malformed in ["W/\"1\"", "\"abc\"", "\"\""] {
        let response = app
            .request(
                reqwest::Method::DELETE,
                "/v1/tenants/acme",
                &TestApp::operator_token(),
            )
            .header("if-match", malformed)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{malformed}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large() {
    let app = TestApp::spawn().await;
    let huge = json!({"tenant_id": "acme", "display_name": "x".repeat(100_000)});
    let response = app.post("/v1/tenants", &TestApp::operator_token(), &huge).await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_unsupported_media_type() {
    let app = TestApp::spawn().await;
    let response = tenants(&app)
        .header("content-type", "text/plain")
        .body("tenant_id=acme")
        .send()
        .await
        .unwrap();
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn invalid_fields_are_listed_in_errors() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["role_arn"] = json!("arn:aws:iam::12345:role/LogspokeDelivery");
    body["log_group_name"] = json!("not a log group!");
    let response = app
        .put(
            "/v1/tenants/acme/delivery-configs/cloudwatch",
            &TestApp::operator_token(),
            &body,
        )
        .await;
    assert_problem_snapshot!(response);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_unprocessable() {
    let app = TestApp::spawn().await;
    let post = |tenant_id: &str| {
        tenants(&app)
            .header("idempotency-key", "key-1")
            .json(&json!({"tenant_id": tenant_id}))
            .send()
    };
    assert_eq!(post("acme").await.unwrap().status(), 201);
    assert_problem_snapshot!(post("globex").await.unwrap());
}

/// An app whose AWS calls fail at once and that verifies a tenant at most once a minute.
async fn app_without_aws() -> TestApp {
    TestApp::spawn_with(Options {
        aws_endpoint: Some(closed_endpoint()),
        verify_interval: Duration::from_secs(60),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_verification_while_aws_is_unreachable_is_unavailable_with_retry_after() {
    let app = app_without_aws().await;
    verified_by_force(&app, "acme").await;
    let mut unavailable = document(verify(&app, "acme", &json!({})).await).await;
    redact_aws_cause(&mut unavailable);
    assert_problem_snapshot!(@document unavailable);
}

#[tokio::test]
async fn a_second_verification_within_the_interval_is_rate_limited_with_retry_after() {
    let app = app_without_aws().await;
    verified_by_force(&app, "acme").await;
    assert_eq!(verify(&app, "acme", &json!({})).await.status(), 503);
    assert_problem_snapshot!(verify(&app, "acme", &json!({})).await);
}

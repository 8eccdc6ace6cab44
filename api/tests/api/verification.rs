//! Verification over HTTP: the ExternalId probe against the emulator's real trust-policy
//! evaluation, and the rules that keep an unreachable AWS or an eager client from hurting
//! a verified config (503 without storing anything, 429 per tenant, `force` only after
//! onboarding).
//!
//! Every role created here lives under the onboarding template's path `/logspoke/` in a
//! customer account, as the api requires.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::aws::{self, CUSTOMER, REGION, ROLE_PATH};
use crate::helpers::{problem, Options, TestApp};

fn config_path(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/delivery-configs/cloudwatch")
}

fn verify_path(tenant: &str) -> String {
    format!("{}/verify", config_path(tenant))
}

/// Runs onboarding for `tenant` and returns its ExternalId.
async fn onboard(app: &TestApp, tenant: &str) -> String {
    let response = app
        .post(
            &format!("/v1/tenants/{tenant}/onboarding"),
            &TestApp::operator_token(),
            &json!({"region": REGION, "delivery_types": ["cloudwatch"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let link: Value = response.json().await.unwrap();
    link["external_id"].as_str().unwrap().to_owned()
}

/// Creates a CloudWatch config of `tenant` naming `role_arn`.
async fn put_config(app: &TestApp, tenant: &str, role_arn: &str) {
    let body = json!({
        "target_region": REGION,
        "role_arn": role_arn,
        "log_group_name": format!("/logspoke/{tenant}"),
    });
    let response = app
        .put(&config_path(tenant), &TestApp::operator_token(), &body)
        .await;
    assert!(response.status().is_success(), "{:?}", response.text().await);
}

pub async fn verify(app: &TestApp, tenant: &str, body: &Value) -> reqwest::Response {
    app.post(&verify_path(tenant), &TestApp::operator_token(), body)
        .await
}

async fn get_config(app: &TestApp, tenant: &str) -> Value {
    let response = app.get(&config_path(tenant), &TestApp::operator_token()).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A tenant onboarded (it has an ExternalId) whose config an operator forced to
/// verified, without AWS: the starting point of the outage tests. Returns the config.
pub async fn verified_by_force(app: &TestApp, tenant: &str) -> Value {
    app.create_tenant(tenant).await;
    onboard(app, tenant).await;
    put_config(
        app,
        tenant,
        &format!("arn:aws:iam::{CUSTOMER}:role/logspoke/delivery"),
    )
    .await;
    let response = verify(app, tenant, &json!({"force": true})).await;
    assert_eq!(response.status(), 200);
    let forced: Value = response.json().await.unwrap();
    assert_eq!(forced["state"], "active", "{forced:#}");
    get_config(app, tenant).await
}

/// The `Retry-After` seconds of a response, asserting it is there and sensible.
fn retry_after(response: &reqwest::Response, at_most: u64) -> u64 {
    let value = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{} without Retry-After", response.status()));
    let seconds: u64 = value.to_str().unwrap().parse().unwrap();
    assert!((1..=at_most).contains(&seconds), "Retry-After: {seconds}");
    seconds
}

/// The URL of a port nobody listens on: AWS calls fail at once with "connection refused".
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// An endpoint that accepts connections (the kernel completes the handshake) and never
/// answers: AWS calls hang until the verification's own timeout.
struct BlackHole {
    _listener: tokio::net::TcpListener,
    url: String,
}

impl BlackHole {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        Self {
            _listener: listener,
            url,
        }
    }
}

#[tokio::test]
async fn an_unreachable_aws_answers_503_and_keeps_a_verified_config_verified() {
    let app = TestApp::spawn_with(Options {
        aws_endpoint: Some(closed_endpoint()),
        ..Options::default()
    })
    .await;
    let before = verified_by_force(&app, "acme").await;

    let response = verify(&app, "acme", &json!({})).await;
    retry_after(&response, 60);
    let body = problem(response, 503).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("unchanged"), "{detail}");

    // Nothing was stored: same status, checks, version and timestamps.
    assert_eq!(get_config(&app, "acme").await, before);
}

#[tokio::test]
async fn a_verification_that_hangs_times_out_before_the_request_does_and_blocks_a_concurrent_one() {
    let aws = BlackHole::start().await;
    let app = TestApp::spawn_with(Options {
        aws_endpoint: Some(aws.url.clone()),
        ..Options::default()
    })
    .await;
    let before = verified_by_force(&app, "acme").await;

    let started = Instant::now();
    let first = tokio::spawn(
        app.request(
            reqwest::Method::POST,
            &verify_path("acme"),
            &TestApp::operator_token(),
        )
        .json(&json!({}))
        .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One verification per tenant at a time, whatever the interval.
    let second = verify(&app, "acme", &json!({})).await;
    retry_after(&second, 60);
    let body = problem(second, 429).await;
    assert!(body["detail"].as_str().unwrap().contains("running"), "{body}");

    let first = first.await.unwrap().unwrap();
    let elapsed = started.elapsed();
    // The verification's own bound answered, not the router's 15 s request timeout.
    assert!(elapsed < Duration::from_secs(14), "{elapsed:?}");
    retry_after(&first, 60);
    let body = problem(first, 503).await;
    assert!(
        body["detail"].as_str().unwrap().contains("did not finish"),
        "{body}"
    );
    assert_eq!(get_config(&app, "acme").await, before);
}

#[tokio::test]
async fn a_second_verify_of_a_tenant_within_the_interval_is_refused_with_retry_after() {
    let app = TestApp::spawn_with(Options {
        aws_endpoint: Some(closed_endpoint()),
        verify_interval: Duration::from_secs(60),
        ..Options::default()
    })
    .await;
    verified_by_force(&app, "acme").await;
    verified_by_force(&app, "beta").await;

    problem(verify(&app, "acme", &json!({})).await, 503).await;
    let again = verify(&app, "acme", &json!({})).await;
    let seconds = retry_after(&again, 60);
    assert!(seconds > 50, "Retry-After: {seconds}");
    let body = problem(again, 429).await;
    assert!(body["detail"].as_str().unwrap().contains("acme"), "{body}");

    // The limit is per tenant.
    problem(verify(&app, "beta", &json!({})).await, 503).await;
    // An operator's forced verification calls no AWS and is not limited.
    assert_eq!(verify(&app, "acme", &json!({"force": true})).await.status(), 200);
}

#[tokio::test]
async fn forcing_the_verification_of_a_tenant_that_was_never_onboarded_is_refused() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    put_config(
        &app,
        "acme",
        &format!("arn:aws:iam::{CUSTOMER}:role/logspoke/delivery"),
    )
    .await;
    let body = problem(verify(&app, "acme", &json!({"force": true})).await, 409).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("onboarding"), "{detail}");
    let config = get_config(&app, "acme").await;
    assert_eq!(config["verification"]["status"], "unverified");
    assert_eq!(config["state"], "pending_verification");
}

/// Creates a role under `/logspoke/` in `account` that trusts the provider role under
/// `condition` (a trust-policy `Condition` block), allowed to write the tenant's logs.
async fn create_role(account: &str, condition: &Value) -> String {
    let iam = aws_sdk_iam::Client::new(&aws::sdk(account).await);
    let name = aws::unique("verify");
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": aws::provider_role_arn().to_string()},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }],
    });
    let role = iam
        .create_role()
        .path(ROLE_PATH)
        .role_name(&name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }],
    });
    iam.put_role_policy()
        .role_name(&name)
        .policy_name("logs")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let arn = role.role().unwrap().arn().to_owned();
    assert!(arn.contains(":role/logspoke/"), "{arn}");
    arn
}

/// An onboarded tenant whose CloudWatch config names a role trusting the provider under
/// the condition `condition(external_id)`; returns the verification response.
async fn verify_role_with(condition: impl FnOnce(&str) -> Value) -> Value {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let external_id = onboard(&app, &tenant).await;
    aws::create_log_group(CUSTOMER, &format!("/logspoke/{tenant}")).await;
    let role = create_role(CUSTOMER, &condition(&external_id)).await;
    put_config(&app, &tenant, &role).await;
    let response = verify(&app, &tenant, &json!({})).await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert!(
        !result.to_string().contains(&external_id),
        "the ExternalId leaked into the result"
    );
    result
}

fn check<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {result:#}"))
}

#[tokio::test]
async fn a_role_that_accepts_any_external_id_is_not_verified() {
    let any_external_id = [
        json!({"Null": {"sts:ExternalId": "false"}}),
        json!({"StringLike": {"sts:ExternalId": "*"}}),
    ];
    for condition in any_external_id {
        let result = verify_role_with(|_| condition.clone()).await;
        assert_eq!(
            result["verification"]["status"], "failed",
            "{condition}: {result:#}"
        );
        assert_ne!(result["state"], "active", "{condition}");
        // The role does let us in with the tenant's ExternalId and we can write...
        assert_eq!(check(&result, "assume_role")["status"], "passed", "{condition}");
        // ...but it lets in any other ExternalId too.
        let external_id = check(&result, "external_id_required");
        assert_eq!(external_id["status"], "failed", "{condition}");
        assert_eq!(external_id["cause"], "external_id_not_required", "{condition}");
    }
}

#[tokio::test]
async fn a_role_pinned_to_the_tenants_external_id_is_verified() {
    let result =
        verify_role_with(|external_id| json!({"StringEquals": {"sts:ExternalId": external_id}})).await;
    assert_eq!(result["verification"]["status"], "verified", "{result:#}");
    assert_eq!(result["state"], "active");
    assert_eq!(check(&result, "external_id_required")["status"], "passed");
}

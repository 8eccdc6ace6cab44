//! The authentication and authorization matrix.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use logspoke_api::config::JwtKeySource;
use serde_json::{json, Value};

use crate::helpers::{cloudwatch_body, problem, Options, TestApp, SECRET};

async fn assert_unauthorized(app: &TestApp, token: Option<&str>, expect_detail: &str) {
    let mut request = app.client.get(app.url("/v1/tenants"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = problem(response, 401).await;
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "missing challenge"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(expect_detail),
        "detail {detail:?} should mention {expect_detail:?}"
    );
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn bad_credentials_get_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let valid = TestApp::claims("operator", "alice", None);
    let now = chrono::Utc::now().timestamp();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(valid.to_string())
    );
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing"),
        (Some("garbage".into()), "malformed"),
        (Some(alg_none), "malformed"),
        (
            Some(TestApp::sign_with(
                Algorithm::HS256,
                b"another-secret-0123456789abcdef0123",
                &valid,
            )),
            "signature",
        ),
        (
            Some(TestApp::sign_with(Algorithm::HS384, SECRET.as_bytes(), &valid)),
            "algorithm",
        ),
        (
            Some(TestApp::sign(&with(valid.clone(), "aud", json!("someone-else")))),
            "audience",
        ),
        (
            Some(TestApp::sign(&with(
                valid.clone(),
                "iss",
                json!("https://evil.example"),
            ))),
            "issuer",
        ),
        (
            Some(TestApp::sign(&with(valid.clone(), "exp", json!(now - 3600)))),
            "expired",
        ),
        (
            Some(TestApp::sign(&with(valid.clone(), "nbf", json!(now + 3600)))),
            "not valid yet",
        ),
        (
            Some(TestApp::sign(&without(valid.clone(), "exp"))),
            "required claim",
        ),
        (
            Some(TestApp::sign(&without(valid.clone(), "aud"))),
            "required claim",
        ),
        (
            Some(TestApp::sign(&without(valid.clone(), "iss"))),
            "required claim",
        ),
        (
            Some(TestApp::sign(&with(valid.clone(), "role", json!("admin")))),
            "invalid",
        ),
        (
            Some(TestApp::sign(&TestApp::claims("tenant", "bob", None))),
            "tenant_id",
        ),
        (
            Some(TestApp::sign(&TestApp::claims(
                "tenant",
                "bob",
                Some("Not Valid"),
            ))),
            "tenant_id",
        ),
    ];
    for (token, detail) in cases {
        assert_unauthorized(&app, token.as_deref(), detail).await;
    }
    let response = app
        .client
        .get(app.url("/v1/tenants"))
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
}

#[tokio::test]
async fn tenant_token_cannot_reach_another_tenant_whether_or_not_it_exists() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;
    app.create_cloudwatch_config("globex").await;
    let acme = TestApp::tenant_token("acme");
    for target in ["globex", "does-not-exist"] {
        let paths = [
            format!("/v1/tenants/{target}"),
            format!("/v1/tenants/{target}/delivery-configs"),
            format!("/v1/tenants/{target}/delivery-configs/cloudwatch"),
            format!("/v1/tenants/{target}/audit-events"),
        ];
        for path in &paths {
            let body = problem(app.get(path, &acme).await, 403).await;
            assert!(!body["detail"].as_str().unwrap().contains(target));
        }
        let path = format!("/v1/tenants/{target}/delivery-configs/cloudwatch");
        problem(app.put(&path, &acme, &cloudwatch_body()).await, 403).await;
        problem(app.patch(&path, &acme, &json!({"enabled": false})).await, 403).await;
        problem(app.delete(&path, &acme).await, 403).await;
    }
}

#[tokio::test]
async fn tenant_token_cannot_manage_tenants() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let acme = TestApp::tenant_token("acme");
    problem(
        app.post("/v1/tenants", &acme, &json!({"tenant_id": "newco"}))
            .await,
        403,
    )
    .await;
    problem(app.get("/v1/tenants", &acme).await, 403).await;
    problem(
        app.patch("/v1/tenants/acme", &acme, &json!({"enabled": false}))
            .await,
        403,
    )
    .await;
    problem(app.delete("/v1/tenants/acme", &acme).await, 403).await;
}

#[tokio::test]
async fn tenant_token_manages_its_own_configs_and_reads_its_tenant_and_audit() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let acme = TestApp::tenant_token("acme");
    assert_eq!(app.get("/v1/tenants/acme", &acme).await.status(), 200);
    let path = "/v1/tenants/acme/delivery-configs/cloudwatch";
    assert_eq!(app.put(path, &acme, &cloudwatch_body()).await.status(), 201);
    assert_eq!(
        app.patch(path, &acme, &json!({"enabled": false})).await.status(),
        200
    );
    assert_eq!(
        app.get("/v1/tenants/acme/delivery-configs", &acme).await.status(),
        200
    );
    let audit: Value = app
        .get("/v1/tenants/acme/audit-events", &acme)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["actor"], "acme-admin");
    assert_eq!(audit["items"][0]["actor_role"], "tenant");
    assert_eq!(app.delete(path, &acme).await.status(), 204);
}

#[tokio::test]
async fn jwks_mode_accepts_es256_from_the_key_set_and_refuses_hs256() {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures/jwks.json");
    let app = TestApp::spawn_with(Options {
        keys: JwtKeySource::Jwks(jwks.to_owned()),
        ..Options::default()
    })
    .await;
    let pem = include_bytes!("fixtures/es256-test-private.pem");
    let claims = TestApp::claims("operator", "idp-user", None);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-es256".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(pem).unwrap()).unwrap();
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);

    header.kid = Some("unknown-key".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(pem).unwrap()).unwrap();
    problem(app.get("/v1/tenants", &token).await, 401).await;

    // An HS256 token whose "secret" is the public key material must not pass.
    let hs = TestApp::sign_with(Algorithm::HS256, &std::fs::read(jwks).unwrap(), &claims);
    problem(app.get("/v1/tenants", &hs).await, 401).await;
}

#[tokio::test]
async fn minted_tokens_are_accepted() {
    let app = TestApp::spawn().await;
    let token = logspoke_api::auth::jwt::mint_hs256(
        &app.jwt,
        "alice",
        logspoke_api::auth::Role::Operator,
        None,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);
}

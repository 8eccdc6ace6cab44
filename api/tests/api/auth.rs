//! The authentication and authorization matrix.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use logspoke_api::auth::jwks::schedule::RefreshPolicy;
use logspoke_api::auth::jwks::source::JwksLocation;
use logspoke_api::config::JwtKeySource;
use serde_json::{json, Value};

use crate::helpers::{cloudwatch_body, problem, Options, Proxy, TestApp, SECRET};

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
        // Beyond the default 30 s leeway.
        (
            Some(TestApp::sign(&with(valid.clone(), "exp", json!(now - 45)))),
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
    let audit: Value = app.audit_trail("acme", &acme).await;
    assert_eq!(audit["items"][0]["actor"], "acme-admin");
    assert_eq!(audit["items"][0]["actor_role"], "tenant");
    assert_eq!(app.delete(path, &acme).await.status(), 204);
}

#[tokio::test]
async fn jwks_mode_accepts_es256_from_the_key_set_and_refuses_hs256() {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures/jwks.json");
    let app = TestApp::spawn_with(Options {
        keys: JwtKeySource::Jwks {
            location: JwksLocation::parse(jwks).unwrap(),
            refresh: RefreshPolicy::default(),
        },
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

// JWKS refresh: a stand-in identity provider on loopback, behind a proxy that can cut it.

const ORIGINAL_PEM: &[u8] = include_bytes!("fixtures/es256-test-private.pem");
const ORIGINAL_KID: &str = "test-es256";
const ROTATED_PEM: &[u8] = include_bytes!("fixtures/es256-rotated-private.pem");
const ROTATED_KID: &str = "test-es256-rotated";

fn original_set() -> Value {
    serde_json::from_str(include_str!("fixtures/jwks.json")).unwrap()
}

fn rotated_set() -> Value {
    serde_json::from_str(include_str!("fixtures/jwks-rotated.json")).unwrap()
}

/// An operator token signed with `pem` and naming `kid`.
fn es256_token(pem: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let claims = TestApp::claims("operator", "idp-user", None);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(pem).unwrap()).unwrap()
}

/// What the identity provider serves, and how often it was asked.
struct IdpState {
    jwks: Mutex<Value>,
    cache_control: Option<&'static str>,
    fetches: AtomicUsize,
}

/// A JWKS endpoint on 127.0.0.1 whose set can be rotated and which can be taken down.
struct Idp {
    state: Arc<IdpState>,
    proxy: Proxy,
}

impl Idp {
    async fn start(jwks: Value, cache_control: Option<&'static str>) -> Self {
        let state = Arc::new(IdpState {
            jwks: Mutex::new(jwks),
            cache_control,
            fetches: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/jwks.json", axum::routing::get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let proxy = Proxy::start(upstream).await;
        Self { state, proxy }
    }

    fn keys(&self) -> JwtKeySource {
        self.keys_with(RefreshPolicy::default())
    }

    fn keys_with(&self, refresh: RefreshPolicy) -> JwtKeySource {
        let url = format!("http://{}/jwks.json", self.proxy.address);
        JwtKeySource::Jwks {
            location: JwksLocation::parse(&url).unwrap(),
            refresh,
        }
    }

    fn rotate(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    fn set_up(&self, up: bool) {
        self.proxy.set_up(up);
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(state): State<Arc<IdpState>>) -> axum::response::Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let jwks = state.jwks.lock().unwrap().clone();
    match state.cache_control {
        Some(value) => ([(header::CACHE_CONTROL, value)], axum::Json(jwks)).into_response(),
        None => axum::Json(jwks).into_response(),
    }
}

/// Refreshes often enough to watch: a failed fetch is retried after 100 ms, and a short
/// `max-age` is not raised to a minute.
fn quick_refresh() -> RefreshPolicy {
    RefreshPolicy {
        min_ttl: Duration::ZERO,
        retry_after: Duration::from_millis(100),
        fetch_timeout: Duration::from_secs(2),
        ..RefreshPolicy::default()
    }
}

/// The `jwks` check of `/readyz`: its status, or `failed` from a 503 that names it.
async fn jwks_readiness(app: &TestApp) -> String {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    if response.status() == 503 {
        let body = problem(response, 503).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("jwks: "), "{detail}");
        return "failed".into();
    }
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let checks = body["checks"].as_array().unwrap();
    let jwks = checks.iter().find(|c| c["name"] == "jwks").expect("a jwks check");
    jwks["status"].as_str().unwrap().to_owned()
}

/// Polls `condition` every 50 ms for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_jwks_check(app: &TestApp, expected: &str) {
    eventually(&format!("the jwks check to be {expected}"), || async move {
        jwks_readiness(app).await == expected
    })
    .await;
}

#[tokio::test]
async fn a_rotated_key_is_accepted_without_a_restart_and_bogus_kids_cost_one_fetch() {
    let idp = Idp::start(original_set(), None).await;
    let app = TestApp::spawn_with(Options {
        keys: idp.keys(),
        ..Options::default()
    })
    .await;
    assert_eq!(idp.fetches(), 1, "loaded at start");
    let original = es256_token(ORIGINAL_PEM, ORIGINAL_KID);
    assert_eq!(app.get("/v1/tenants", &original).await.status(), 200);
    assert_eq!(jwks_readiness(&app).await, "ok");

    idp.rotate(rotated_set());
    let rotated = es256_token(ROTATED_PEM, ROTATED_KID);
    assert_eq!(app.get("/v1/tenants", &rotated).await.status(), 200);
    assert_eq!(idp.fetches(), 2, "one refetch for the unknown kid");

    // The retired key is gone from the set, and within the minute no kid causes a fetch.
    let body = problem(app.get("/v1/tenants", &original).await, 401).await;
    assert_eq!(body["detail"], "the token's key id is not trusted");
    for i in 0..40 {
        let bogus = es256_token(ORIGINAL_PEM, &format!("bogus-{i}"));
        problem(app.get("/v1/tenants", &bogus).await, 401).await;
    }
    assert_eq!(
        idp.fetches(),
        2,
        "unknown kids within a minute cause no further fetch"
    );
    assert_eq!(app.get("/v1/tenants", &rotated).await.status(), 200);
}

#[tokio::test]
async fn the_last_good_keys_keep_working_while_the_idp_is_down() {
    let idp = Idp::start(original_set(), Some("max-age=1")).await;
    let app = TestApp::spawn_with(Options {
        keys: idp.keys_with(quick_refresh()),
        ..Options::default()
    })
    .await;
    let token = es256_token(ORIGINAL_PEM, ORIGINAL_KID);
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);

    idp.set_up(false);
    // A refresh falls due within a second and fails: readiness says so, tokens still pass.
    wait_for_jwks_check(&app, "unknown").await;
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);
    let rotated = es256_token(ROTATED_PEM, ROTATED_KID);
    problem(app.get("/v1/tenants", &rotated).await, 401).await;

    idp.set_up(true);
    wait_for_jwks_check(&app, "ok").await;
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);
}

#[tokio::test]
async fn the_api_starts_while_the_idp_is_down_refusing_tokens_until_keys_load() {
    let idp = Idp::start(original_set(), None).await;
    idp.set_up(false);
    let app = TestApp::spawn_with(Options {
        keys: idp.keys_with(quick_refresh()),
        ..Options::default()
    })
    .await;
    let token = es256_token(ORIGINAL_PEM, ORIGINAL_KID);
    let body = problem(app.get("/v1/tenants", &token).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("not loaded"), "{body}");
    assert_eq!(jwks_readiness(&app).await, "failed");
    assert_eq!(idp.fetches(), 0);

    idp.set_up(true);
    wait_for_jwks_check(&app, "ok").await;
    assert_eq!(app.get("/v1/tenants", &token).await.status(), 200);
}

#[tokio::test]
async fn the_cache_control_max_age_of_the_key_set_schedules_its_refresh() {
    // max-age=1 against a default TTL of ten minutes: refreshes every second prove it is read.
    let idp = Idp::start(original_set(), Some("public, max-age=1")).await;
    let refresh = RefreshPolicy {
        min_ttl: Duration::ZERO,
        ..RefreshPolicy::default()
    };
    let app = TestApp::spawn_with(Options {
        keys: idp.keys_with(refresh),
        ..Options::default()
    })
    .await;
    assert_eq!(idp.fetches(), 1);
    idp.rotate(rotated_set());
    let idp = &idp;
    eventually("two refreshes on max-age", || async move { idp.fetches() >= 3 }).await;
    let rotated = es256_token(ROTATED_PEM, ROTATED_KID);
    assert_eq!(app.get("/v1/tenants", &rotated).await.status(), 200);
}

#[test]
fn a_plain_http_jwks_url_of_another_host_stops_the_api_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_logspoke-api"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")
        .env("LOGSPOKE_JWT_JWKS", "http://idp.example/.well-known/jwks.json")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: LOGSPOKE_JWT_JWKS: must be an https:// URL"),
        "{stderr}"
    );
}

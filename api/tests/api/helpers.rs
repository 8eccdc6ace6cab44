//! `TestApp`: the real router on a real port, against a fresh Postgres database, with
//! typed request helpers and token minting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use logspoke_api::auth::jwt::Verifier;
use logspoke_api::aws::chain::RoleChain;
use logspoke_api::aws::target_access::AwsTargetAccess;
use logspoke_api::config::{JwtConfig, JwtKeySource, OnboardingConfig, ReplayConfig, DEFAULT_JWT_LEEWAY};
use logspoke_api::onboarding::link::TemplateUrl;
use logspoke_api::state::AppState;
use logspoke_api::verification::rate_limit::VerifyLimiter;
use logspoke_api::write_limit::WriteLimiter;
use logspoke_api::{server, telemetry, MIGRATOR};
use logspoke_contract::Region;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";
pub const ISSUER: &str = "logspoke-test";
pub const AUDIENCE: &str = "logspoke-api-test";
pub const ROLE_ARN: &str = "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery";

/// Postgres server the tests create their databases on.
fn admin_url() -> String {
    std::env::var("LOGSPOKE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// URL of database `name` on the test server.
fn database_url(name: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// `host:port` of the test Postgres server.
pub fn database_address() -> String {
    let admin = admin_url();
    let after_at = admin.rsplit_once('@').map_or(admin.as_str(), |(_, rest)| rest);
    after_at.split('/').next().unwrap_or(after_at).to_owned()
}

/// A fresh, migrated database, dropped when the value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("logspoke_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url())
            .await
            .expect("connect to Postgres");
        sqlx::query(&format!("create database {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = database_url(&name);
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        MIGRATOR.run(&pool).await.unwrap();
        pool.close().await;
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// How to start a `TestApp`.
pub struct Options {
    /// Token verification; HS256 with `SECRET` by default.
    pub keys: JwtKeySource,
    /// Connect the app to Postgres through this `host:port` (a fault-injection proxy).
    pub database_via: Option<String>,
    /// Send the app's AWS calls to this URL instead of the emulator (an outage).
    pub aws_endpoint: Option<String>,
    /// Least time between two verifications of one tenant; zero by default, so tests
    /// that verify one tenant several times in a row are not rate-limited.
    pub verify_interval: Duration,
    /// The delivery ledger table; by default one that does not exist, so config
    /// documents go without their health summary.
    pub ledger_table: Option<String>,
    /// Replays a tenant may start per day.
    pub replays_per_day: u32,
    /// Changes a tenant may make per minute; high by default, so tests that change one
    /// tenant many times are not limited.
    pub writes_per_minute: u32,
    /// The provider regions whose ledgers are read (`LOGSPOKE_DELIVERY_REGIONS`); the
    /// emulator's region by default.
    pub delivery_regions: Vec<Region>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            keys: JwtKeySource::Secret(SECRET.to_owned()),
            database_via: None,
            aws_endpoint: None,
            verify_interval: Duration::ZERO,
            ledger_table: None,
            replays_per_day: 50,
            writes_per_minute: 10_000,
            delivery_regions: vec![crate::aws::home_region()],
        }
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// Kept alive for the app; dropped (and the database with it) at the end of the test.
    _db: TestDatabase,
    pub jwt: JwtConfig,
    /// The app's state, for driving its background work (the notifier) from a test.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let db = TestDatabase::create().await;
        let jwt = JwtConfig {
            keys: options.keys,
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            leeway: DEFAULT_JWT_LEEWAY,
        };
        let url = match &options.database_via {
            Some(address) => db.url.replacen(&database_address(), address, 1),
            None => db.url.clone(),
        };
        let onboarding = OnboardingConfig {
            provider_role_arn: crate::aws::provider_role_arn(),
            customer_template_url: TemplateUrl::parse(&crate::aws::template_url()).unwrap(),
        };
        let mut sdk = crate::aws::sdk(crate::aws::PROVIDER).await;
        if let Some(endpoint) = &options.aws_endpoint {
            sdk = sdk.to_builder().endpoint_url(endpoint).build();
        }
        let ledger_table = options
            .ledger_table
            .unwrap_or_else(|| crate::aws::unique("no-ledger"));
        let health = server::health_reader(&sdk, &ledger_table, &options.delivery_regions);
        let chain = RoleChain::new(sdk, onboarding.provider_role_arn.clone());
        let state = AppState {
            db: server::pool(&url, 5).unwrap(),
            verifier: Arc::new(Verifier::from_config(&jwt).await.unwrap()),
            metrics: telemetry::metrics_handle(),
            onboarding: Arc::new(onboarding),
            aws: AwsTargetAccess::new(chain),
            config_checks: Default::default(),
            verify_limiter: VerifyLimiter::new(options.verify_interval),
            health,
            replays: ReplayConfig {
                staging_retention_days: 90,
                per_tenant_per_day: options.replays_per_day,
            },
            write_limiter: WriteLimiter::new(options.writes_per_minute),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            address,
            client,
            _db: db,
            jwt,
            state,
            shutdown: Some(tx),
        }
    }

    /// The first page of `tenant`'s audit trail as `token` reads it (newest first).
    pub async fn audit_trail(&self, tenant: &str, token: &str) -> Value {
        let path = format!("/v1/tenants/{tenant}/audit-events");
        self.get(&path, token).await.json().await.unwrap()
    }

    /// A new pool on the test database (for relays and direct checks).
    pub fn pool(&self) -> sqlx::PgPool {
        server::pool(&self._db.url, 5).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Signs `claims` with the test secret (HS256).
    pub fn sign(claims: &Value) -> String {
        Self::sign_with(Algorithm::HS256, SECRET.as_bytes(), claims)
    }

    pub fn sign_with(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    /// Standard claims valid for an hour, to be adjusted by the caller.
    pub fn claims(role: &str, sub: &str, tenant_id: Option<&str>) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "sub": sub, "role": role, "iss": ISSUER, "aud": AUDIENCE,
            "iat": now, "nbf": now, "exp": now + 3600,
        });
        if let Some(id) = tenant_id {
            claims["tenant_id"] = json!(id);
        }
        claims
    }

    pub fn operator_token() -> String {
        Self::sign(&Self::claims("operator", "alice", None))
    }

    pub fn tenant_token(tenant_id: &str) -> String {
        Self::sign(&Self::claims(
            "tenant",
            &format!("{tenant_id}-admin"),
            Some(tenant_id),
        ))
    }

    pub fn request(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call("PUT", path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call("PATCH", path, token, Some(body)).await
    }

    /// Any method, with an optional JSON body (a merge patch for PATCH): for tables of
    /// calls and for bodies that may be absent.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.request(method.parse().unwrap(), path, token);
        request = match (method, body) {
            (_, None) => request,
            ("PATCH", Some(body)) => request
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
            (_, Some(body)) => request.json(body),
        };
        request.send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path, token)
            .send()
            .await
            .unwrap()
    }

    /// Creates a tenant as an operator and asserts it worked.
    pub async fn create_tenant(&self, tenant_id: &str) -> Value {
        let response = self
            .post(
                "/v1/tenants",
                &Self::operator_token(),
                &json!({"tenant_id": tenant_id}),
            )
            .await;
        assert_eq!(response.status(), 201, "creating {tenant_id}");
        response.json().await.unwrap()
    }

    /// Creates a CloudWatch config as an operator and asserts it worked.
    pub async fn create_cloudwatch_config(&self, tenant_id: &str) -> reqwest::Response {
        let response = self
            .put(
                &format!("/v1/tenants/{tenant_id}/delivery-configs/cloudwatch"),
                &Self::operator_token(),
                &cloudwatch_body(),
            )
            .await;
        assert_eq!(response.status(), 201);
        response
    }
}

pub fn cloudwatch_body() -> Value {
    json!({
        "target_region": "eu-west-1",
        "role_arn": ROLE_ARN,
        "log_group_name": "/logspoke/acme",
    })
}

pub fn s3_body() -> Value {
    json!({
        "target_region": "us-east-1",
        "role_arn": ROLE_ARN,
        "bucket_name": "acme-logs",
        "bucket_prefix": "k8s",
    })
}

/// Reads a problem document, asserting the media type and status agree.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("https://")));
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// A TCP proxy (to Postgres or the emulator) that can be cut (refusing and severing connections) and restored.
pub struct Proxy {
    pub address: String,
    up: Arc<watch::Sender<bool>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let sender = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !*sender.borrow() {
                    continue; // dropping the socket refuses the connection
                }
                let mut down = sender.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { address, up }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

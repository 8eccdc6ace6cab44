//! Delivery health over HTTP, read from a real ledger table in the emulator that the
//! tests fill with the `contract` item formats, exactly as the workers write them: one
//! target's health, the summary in config documents, and the operators' list.

use aws_config::SdkConfig;
use chrono::DateTime;
use logspoke_contract::ledger::{bucket_start, CounterBucket, Counters, HealthItem, LastError, Target};
use logspoke_contract::{Attributes, Cause, DeliveryType, Region, TenantId};
use serde_json::{json, Value};

use crate::aws::{self, PROVIDER, REGION};
use crate::helpers::{cloudwatch_body, problem, s3_body, Options, TestApp};
use crate::verification::closed_endpoint;

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// A fresh ledger table.
pub struct Ledger {
    sdk: SdkConfig,
    table: String,
}

impl Ledger {
    pub async fn create() -> Self {
        logspoke_test_support::require_emulator();
        let sdk = aws::sdk(PROVIDER).await;
        let table = aws::unique("delivery-ledger");
        logspoke_test_support::create_ledger_table(&sdk, &table).await;
        Self { sdk, table }
    }

    /// The same table in `region` (each provider region has its own ledger).
    async fn also_in(&self, region: &str) -> Self {
        let sdk = logspoke_api::aws::in_region(&self.sdk, Region::parse(region).unwrap());
        logspoke_test_support::create_ledger_table(&sdk, &self.table).await;
        Self {
            sdk,
            table: self.table.clone(),
        }
    }

    /// An app reading this ledger in each of `regions`.
    async fn app_in(&self, regions: &[&str]) -> TestApp {
        TestApp::spawn_with(Options {
            ledger_table: Some(self.table.clone()),
            delivery_regions: regions.iter().map(|r| Region::parse(r).unwrap()).collect(),
            ..Options::default()
        })
        .await
    }

    /// An app reading this ledger.
    pub async fn app(&self) -> TestApp {
        TestApp::spawn_with(Options {
            ledger_table: Some(self.table.clone()),
            ..Options::default()
        })
        .await
    }

    pub async fn put(&self, item: Attributes) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .put_item()
            .table_name(&self.table)
            .set_item(Some(logspoke_aws::read_model::item_to_sdk(&item)))
            .send()
            .await
            .unwrap();
    }

    pub async fn put_health(&self, item: &HealthItem) {
        self.put(item.to_attributes()).await;
    }

    /// Adds a counter bucket of `target` for the time `at_ms`, counting `objects`
    /// objects (and 10 events and 100 bytes per object).
    async fn put_bucket(&self, target: &Target, at_ms: i64, objects: u64) {
        let bucket = CounterBucket {
            target: target.clone(),
            start_s: bucket_start(at_ms),
            counters: Counters {
                objects,
                events: objects * 10,
                bytes: objects * 100,
                rejected_events: 1,
                ..Counters::default()
            },
            expires_at: at_ms / 1000 + 7 * 24 * 3600,
        };
        self.put(bucket.to_attributes()).await;
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn target(tenant: &str, delivery_type: DeliveryType) -> Target {
    Target::new(TenantId::parse(tenant).unwrap(), delivery_type)
}

/// A target that refuses objects: its log group is gone, three objects are parked.
pub fn failing(tenant: &str, now_ms: i64) -> HealthItem {
    HealthItem {
        target: target(tenant, DeliveryType::Cloudwatch),
        last_delivered_at_ms: Some(now_ms - 2 * HOUR_MS),
        last_event_time_ms: Some(now_ms - 2 * HOUR_MS - 5_000),
        lag_seconds: Some(5.25),
        last_error: Some(LastError {
            cause: Cause::LogGroupMissing,
            message: "ResourceNotFoundException: The specified log group does not exist.".into(),
            at_ms: now_ms - MINUTE_MS,
        }),
        consecutive_failures: 4,
        parked_objects: 3,
        parked_cause: Some(Cause::LogGroupMissing),
    }
}

/// A target that received an object a minute ago.
pub fn healthy(tenant: &str, now_ms: i64) -> HealthItem {
    HealthItem {
        last_delivered_at_ms: Some(now_ms - MINUTE_MS),
        last_event_time_ms: Some(now_ms - MINUTE_MS - 2_000),
        lag_seconds: Some(2.0),
        ..HealthItem::empty(target(tenant, DeliveryType::Cloudwatch))
    }
}

pub fn config_path(tenant: &str, kind: &str) -> String {
    format!("/v1/tenants/{tenant}/delivery-configs/{kind}")
}

fn health_path(tenant: &str, kind: &str) -> String {
    format!("{}/health", config_path(tenant, kind))
}

/// A tenant with an `active` config of `kind` (onboarded, verified by an operator's force).
pub async fn active_config(app: &TestApp, tenant: &str, kind: &str) {
    app.create_tenant(tenant).await;
    let operator = TestApp::operator_token();
    let onboarding = json!({"region": REGION, "delivery_types": [kind]});
    let response = app
        .post(
            &format!("/v1/tenants/{tenant}/onboarding"),
            &operator,
            &onboarding,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body = if kind == "s3" {
        s3_body()
    } else {
        cloudwatch_body()
    };
    let response = app.put(&config_path(tenant, kind), &operator, &body).await;
    assert_eq!(response.status(), 201);
    let verify = format!("{}/verify?force=true", config_path(tenant, kind));
    let response = app.call("POST", &verify, &operator, None).await;
    assert_eq!(response.status(), 200);
    let config: Value = response.json().await.unwrap();
    assert_eq!(config["state"], "active", "{config:#}");
}

/// A tenant with a disabled CloudWatch config.
async fn disabled_config(app: &TestApp, tenant: &str) {
    app.create_tenant(tenant).await;
    let mut body = cloudwatch_body();
    body["enabled"] = json!(false);
    let response = app
        .put(
            &config_path(tenant, "cloudwatch"),
            &TestApp::operator_token(),
            &body,
        )
        .await;
    assert_eq!(response.status(), 201);
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// A time of the response as ms since the epoch.
fn ms(value: &Value) -> i64 {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn zeros() -> Value {
    json!({"objects": 0, "events": 0, "bytes": 0, "rejected_events": 0, "duplicates_avoided": 0, "expired_objects": 0, "events_filtered": 0})
}

#[tokio::test]
async fn a_tenant_reads_its_failing_targets_health_with_cause_parked_objects_and_counters() {
    let ledger = Ledger::create().await;
    let now = now_ms();
    let item = failing("acme", now);
    ledger.put_health(&item).await;
    let acme = &item.target;
    ledger.put_bucket(acme, now, 1).await;
    ledger.put_bucket(acme, now - 30 * MINUTE_MS, 2).await;
    ledger.put_bucket(acme, now - 3 * HOUR_MS, 4).await;
    ledger.put_bucket(acme, now - 25 * HOUR_MS, 8).await;
    // Another target's buckets count for it only.
    ledger
        .put_bucket(&target("acme", DeliveryType::S3), now, 16)
        .await;
    let app = ledger.app().await;
    active_config(&app, "acme", "cloudwatch").await;

    let health = get_json(
        &app,
        &health_path("acme", "cloudwatch"),
        &TestApp::tenant_token("acme"),
    )
    .await;
    assert_eq!(health["tenant_id"], "acme");
    assert_eq!(health["type"], "cloudwatch");
    assert_eq!(health["state"], "failing", "{health:#}");
    assert_eq!(health["config_state"], "active");
    assert_eq!(health["parked_objects"], 3);
    assert_eq!(health["parked_cause"], "log_group_missing");
    assert_eq!(health["consecutive_failures"], 4);
    assert_eq!(health["last_error"]["cause"], "log_group_missing");
    assert_eq!(
        health["last_error"]["message"],
        "ResourceNotFoundException: The specified log group does not exist."
    );
    assert_eq!(ms(&health["last_error"]["at"]), now - MINUTE_MS);
    assert_eq!(ms(&health["last_delivered_at"]), now - 2 * HOUR_MS);
    assert_eq!(ms(&health["last_event_time"]), now - 2 * HOUR_MS - 5_000);
    assert_eq!(health["lag_seconds"], 5.25);
    // The last hour holds the buckets of now and 30 minutes ago; the day also the one
    // of 3 hours ago; the bucket of 25 hours ago counts nowhere.
    assert_eq!(
        health["counters"]["last_hour"],
        json!({"objects": 3, "events": 30, "bytes": 300, "rejected_events": 2, "duplicates_avoided": 0, "expired_objects": 0, "events_filtered": 0})
    );
    assert_eq!(
        health["counters"]["last_day"],
        json!({"objects": 7, "events": 70, "bytes": 700, "rejected_events": 3, "duplicates_avoided": 0, "expired_objects": 0, "events_filtered": 0})
    );
}

#[tokio::test]
async fn health_reads_are_refused_and_not_found_exactly_as_config_reads_are() {
    let ledger = Ledger::create().await;
    let app = ledger.app().await;
    active_config(&app, "acme", "cloudwatch").await;
    app.create_tenant("globex").await;
    let globex = TestApp::tenant_token("globex");
    let operator = TestApp::operator_token();
    let cases = [
        // Another tenant's token: 403 whether or not the target exists.
        ("acme", "cloudwatch", &globex, 403),
        ("initech", "cloudwatch", &globex, 403),
        // No such config, tenant or type.
        ("acme", "s3", &operator, 404),
        ("globex", "cloudwatch", &globex, 404),
        ("initech", "cloudwatch", &operator, 404),
        ("acme", "kinesis", &operator, 404),
        ("Not_A_Tenant", "cloudwatch", &operator, 404),
    ];
    for (tenant, kind, token, status) in cases {
        let config = problem(app.get(&config_path(tenant, kind), token).await, status).await;
        let health = problem(app.get(&health_path(tenant, kind), token).await, status).await;
        assert_eq!(health["detail"], config["detail"], "{tenant}/{kind}");
    }
    let own = app
        .get(&health_path("acme", "cloudwatch"), &TestApp::tenant_token("acme"))
        .await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn a_target_nothing_was_recorded_for_is_idle_with_zeros() {
    let ledger = Ledger::create().await;
    let app = ledger.app().await;
    active_config(&app, "acme", "s3").await;
    let health = get_json(&app, &health_path("acme", "s3"), &TestApp::tenant_token("acme")).await;
    assert_eq!(
        health,
        json!({
            "tenant_id": "acme",
            "type": "s3",
            "state": "idle",
            "config_state": "active",
            "last_delivered_at": null,
            "last_event_time": null,
            "lag_seconds": null,
            "last_error": null,
            "consecutive_failures": 0,
            "parked_objects": 0,
            "parked_cause": null,
            "counters": {"last_hour": zeros(), "last_day": zeros()},
            "regions": [{
                "region": "eu-west-1",
                "state": "idle",
                "last_delivered_at": null,
                "last_event_time": null,
                "lag_seconds": null,
                "last_error": null,
                "consecutive_failures": 0,
                "parked_objects": 0,
                "parked_cause": null,
                "counters": {"last_hour": zeros(), "last_day": zeros()},
            }],
            "unreadable_regions": [],
        })
    );
}

#[tokio::test]
async fn a_disabled_configs_target_is_paused_whatever_the_workers_recorded() {
    let ledger = Ledger::create().await;
    ledger.put_health(&failing("acme", now_ms())).await;
    let app = ledger.app().await;
    disabled_config(&app, "acme").await;
    let health = get_json(
        &app,
        &health_path("acme", "cloudwatch"),
        &TestApp::operator_token(),
    )
    .await;
    assert_eq!(health["state"], "paused");
    assert_eq!(health["config_state"], "disabled");
    assert_eq!(health["parked_objects"], 3);
    // A config waiting for verification is paused too.
    app.create_tenant("globex").await;
    let response = app
        .put(
            &config_path("globex", "cloudwatch"),
            &TestApp::operator_token(),
            &cloudwatch_body(),
        )
        .await;
    assert_eq!(response.status(), 201);
    let health = get_json(
        &app,
        &health_path("globex", "cloudwatch"),
        &TestApp::operator_token(),
    )
    .await;
    assert_eq!(
        (&health["state"], &health["config_state"]),
        (&json!("paused"), &json!("pending_verification"))
    );
}

#[tokio::test]
async fn config_documents_embed_the_health_summary() {
    let ledger = Ledger::create().await;
    let now = now_ms();
    ledger.put_health(&failing("acme", now)).await;
    let app = ledger.app().await;
    active_config(&app, "acme", "cloudwatch").await;
    let response = app
        .put(&config_path("acme", "s3"), &TestApp::operator_token(), &s3_body())
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["health"]["state"], "paused",
        "not verified yet: {created:#}"
    );

    let tenant = TestApp::tenant_token("acme");
    let config = get_json(&app, &config_path("acme", "cloudwatch"), &tenant).await;
    let summary = &config["health"];
    assert_eq!(summary["state"], "failing", "{config:#}");
    assert_eq!(summary["parked_objects"], 3);
    assert_eq!(summary["last_error_cause"], "log_group_missing");
    assert_eq!(ms(&summary["last_delivered_at"]), now - 2 * HOUR_MS);
    assert_eq!(summary.as_object().unwrap().len(), 4, "{summary:#}");

    let list = get_json(&app, "/v1/tenants/acme/delivery-configs", &tenant).await;
    let states: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["health"]["state"])
        .collect();
    assert_eq!(states, [&json!("failing"), &json!("paused")]);
    // Tenants are read without the ledger.
    let tenant_document = get_json(&app, "/v1/tenants/acme", &tenant).await;
    assert!(tenant_document.get("health").is_none());
}

#[tokio::test]
async fn config_reads_go_without_the_summary_when_the_ledger_is_unreachable() {
    let ledger = Ledger::create().await;
    let app = TestApp::spawn_with(Options {
        ledger_table: Some(ledger.table.clone()),
        aws_endpoint: Some(closed_endpoint()),
        ..Options::default()
    })
    .await;
    app.create_tenant("acme").await;
    let response = app.create_cloudwatch_config("acme").await;
    let created: Value = response.json().await.unwrap();
    assert!(created.get("health").is_none(), "{created:#}");
    let started = std::time::Instant::now();
    let config = get_json(
        &app,
        &config_path("acme", "cloudwatch"),
        &TestApp::operator_token(),
    )
    .await;
    assert!(config.get("health").is_none(), "{config:#}");
    assert!(
        started.elapsed().as_secs() < 2,
        "a config read waited for the ledger"
    );
    // The health endpoint itself says to retry.
    let response = app
        .get(&health_path("acme", "cloudwatch"), &TestApp::operator_token())
        .await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503).await;
}

#[tokio::test]
async fn operators_list_failing_targets_across_tenants_page_by_page() {
    let ledger = Ledger::create().await;
    let now = now_ms();
    for item in [
        failing("acme", now),
        failing("globex", now),
        failing("hooli", now),
        healthy("initech", now),
        // Its config was deleted: not listed.
        failing("umbrella", now),
    ] {
        ledger.put_health(&item).await;
    }
    let app = ledger.app().await;
    for tenant in ["acme", "globex", "initech"] {
        active_config(&app, tenant, "cloudwatch").await;
    }
    disabled_config(&app, "hooli").await;
    let operator = TestApp::operator_token();

    let listed = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                format!(
                    "{}/{}",
                    h["tenant_id"].as_str().unwrap(),
                    h["state"].as_str().unwrap()
                )
            })
            .collect()
    };
    let failing_page = get_json(&app, "/v1/delivery-health?state=failing", &operator).await;
    assert_eq!(listed(&failing_page), ["acme/failing", "globex/failing"]);
    assert!(failing_page["next_cursor"].is_null());
    assert!(failing_page["items"][0].get("counters").is_none());
    assert_eq!(failing_page["items"][0]["parked_cause"], "log_group_missing");

    let first = get_json(&app, "/v1/delivery-health?state=failing&limit=1", &operator).await;
    assert_eq!(listed(&first), ["acme/failing"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get_json(
        &app,
        &format!("/v1/delivery-health?state=failing&limit=1&cursor={cursor}"),
        &operator,
    )
    .await;
    assert_eq!(listed(&second), ["globex/failing"]);
    assert!(second["next_cursor"].is_null(), "{second:#}");

    let everything = get_json(&app, "/v1/delivery-health", &operator).await;
    assert_eq!(
        listed(&everything),
        [
            "acme/failing",
            "globex/failing",
            "hooli/paused",
            "initech/healthy"
        ]
    );
    let paused = get_json(&app, "/v1/delivery-health?state=paused", &operator).await;
    assert_eq!(listed(&paused), ["hooli/paused"]);

    let refused = app
        .get(
            "/v1/delivery-health?state=failing",
            &TestApp::tenant_token("acme"),
        )
        .await;
    problem(refused, 403).await;
    let bad = app.get("/v1/delivery-health?state=broken", &operator).await;
    problem(bad, 400).await;
}

#[tokio::test]
async fn a_target_failing_in_another_region_is_failing_with_every_region_listed() {
    let west = Ledger::create().await;
    let east = west.also_in("us-east-1").await;
    let now = now_ms();
    let acme = target("acme", DeliveryType::Cloudwatch);
    west.put_health(&healthy("acme", now)).await;
    west.put_bucket(&acme, now, 5).await;
    east.put_health(&failing("acme", now)).await;
    east.put_bucket(&acme, now, 1).await;
    // globex is healthy everywhere; initech recorded nothing in us-east-1.
    west.put_health(&healthy("globex", now)).await;
    east.put_health(&healthy("globex", now)).await;
    west.put_health(&healthy("initech", now)).await;
    let app = west.app_in(&[REGION, "us-east-1"]).await;
    for tenant in ["acme", "globex", "initech"] {
        active_config(&app, tenant, "cloudwatch").await;
    }

    let health = get_json(
        &app,
        &health_path("acme", "cloudwatch"),
        &TestApp::tenant_token("acme"),
    )
    .await;
    assert_eq!(health["state"], "failing", "{health:#}");
    assert_eq!(health["parked_objects"], 3);
    assert_eq!(health["parked_cause"], "log_group_missing");
    assert_eq!(health["last_error"]["cause"], "log_group_missing");
    assert_eq!(
        ms(&health["last_delivered_at"]),
        now - MINUTE_MS,
        "the latest of any region"
    );
    assert_eq!(
        health["lag_seconds"], 2.0,
        "the lag of the region that delivered last"
    );
    assert_eq!(
        health["counters"]["last_hour"]["objects"], 6,
        "both regions' counters"
    );
    assert_eq!(health["unreadable_regions"], json!([]));
    let regions = health["regions"].as_array().unwrap();
    let states: Vec<(&Value, &Value, &Value)> = regions
        .iter()
        .map(|r| (&r["region"], &r["state"], &r["parked_objects"]))
        .collect();
    assert_eq!(
        states,
        [
            (&json!("eu-west-1"), &json!("healthy"), &json!(0)),
            (&json!("us-east-1"), &json!("failing"), &json!(3)),
        ]
    );
    assert_eq!(regions[0]["counters"]["last_hour"]["objects"], 5);
    assert_eq!(regions[1]["counters"]["last_hour"]["objects"], 1);
    assert_eq!(regions[1]["last_error"]["cause"], "log_group_missing");
    assert_eq!(ms(&regions[1]["last_delivered_at"]), now - 2 * HOUR_MS);

    // The config document's summary and the operators' list combine the regions too.
    let config = get_json(
        &app,
        &config_path("acme", "cloudwatch"),
        &TestApp::tenant_token("acme"),
    )
    .await;
    assert_eq!(config["health"]["state"], "failing", "{config:#}");
    assert_eq!(config["health"]["parked_objects"], 3);
    let operator = TestApp::operator_token();
    let page = get_json(&app, "/v1/delivery-health?state=failing", &operator).await;
    assert_eq!(page["unreadable_regions"], json!([]));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page:#}");
    assert_eq!(items[0]["tenant_id"], "acme");
    let listed: Vec<&Value> = items[0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["state"])
        .collect();
    assert_eq!(
        listed,
        [&json!("healthy"), &json!("failing")],
        "the healthy region read too"
    );
    assert!(items[0].get("counters").is_none() && items[0]["regions"][0].get("counters").is_none());
    let everything = get_json(&app, "/v1/delivery-health", &operator).await;
    let initech = &everything["items"][2];
    assert_eq!(initech["tenant_id"], "initech", "{everything:#}");
    assert_eq!(initech["state"], "healthy");
    assert_eq!(initech["regions"][1]["region"], "us-east-1");
    assert_eq!(initech["regions"][1]["state"], "idle", "nothing recorded there");
}

#[tokio::test]
async fn a_region_whose_ledger_cannot_be_read_is_named_and_the_others_answer() {
    let west = Ledger::create().await;
    let now = now_ms();
    west.put_health(&failing("acme", now)).await;
    // No ledger table in ap-south-1.
    let app = west.app_in(&[REGION, "ap-south-1"]).await;
    active_config(&app, "acme", "cloudwatch").await;
    let unreadable = json!([{
        "region": "ap-south-1",
        "reason": "the delivery ledger of this region could not be read; retry later"
    }]);

    let health = get_json(
        &app,
        &health_path("acme", "cloudwatch"),
        &TestApp::operator_token(),
    )
    .await;
    assert_eq!(health["state"], "failing");
    assert_eq!(health["unreadable_regions"], unreadable, "{health:#}");
    let regions: Vec<&Value> = health["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["region"])
        .collect();
    assert_eq!(regions, [&json!("eu-west-1")]);

    let page = get_json(
        &app,
        "/v1/delivery-health?state=failing",
        &TestApp::operator_token(),
    )
    .await;
    assert_eq!(page["unreadable_regions"], unreadable);
    assert_eq!(page["items"][0]["tenant_id"], "acme");
    assert_eq!(page["items"][0]["unreadable_regions"], unreadable);
    let config = get_json(
        &app,
        &config_path("acme", "cloudwatch"),
        &TestApp::operator_token(),
    )
    .await;
    assert_eq!(
        config["health"]["state"], "failing",
        "a summary of the regions read"
    );
}

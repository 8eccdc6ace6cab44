//! Delivery-config resource behaviour: create/replace, merge patch, ETags, validation.

use serde_json::{json, Value};

use crate::helpers::{cloudwatch_body, problem, s3_body, Options, TestApp, ROLE_ARN};

const CW: &str = "/v1/tenants/acme/delivery-configs/cloudwatch";

#[tokio::test]
async fn put_creates_then_replaces() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let created = app.put(CW, &op, &cloudwatch_body()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], CW);
    let created: Value = created.json().await.unwrap();
    insta::assert_json_snapshot!(created, {
        ".version" => "[version]", ".created_at" => "[time]", ".updated_at" => "[time]"
    }, @r###"
    {
      "created_at": "[time]",
      "desired_logs": [],
      "enabled": true,
      "filter": {
        "exclude": [],
        "include": []
      },
      "log_group_name": "/logspoke/acme",
      "message_format": "raw",
      "role_arn": "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery",
      "state": "pending_verification",
      "target_region": "eu-west-1",
      "tenant_id": "acme",
      "type": "cloudwatch",
      "updated_at": "[time]",
      "verification": {
        "checked_at": null,
        "checks": [],
        "status": "unverified"
      },
      "version": "[version]"
    }
    "###);
    let mut body = cloudwatch_body();
    body["desired_logs"] = json!(["api", "web", "api"]);
    body["enabled"] = json!(false);
    let replaced = app.put(CW, &op, &body).await;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["desired_logs"], json!(["api", "web"]));
    assert_eq!(replaced["enabled"], false);
    assert!(replaced["version"].as_i64() > created["version"].as_i64());
    assert_eq!(replaced["created_at"], created["created_at"]);

    let s3 = app
        .put("/v1/tenants/acme/delivery-configs/s3", &op, &s3_body())
        .await;
    assert_eq!(s3.status(), 201);
    let s3: Value = s3.json().await.unwrap();
    assert_eq!(s3["bucket_prefix"], "k8s/");
    let list: Value = app
        .get("/v1/tenants/acme/delivery-configs", &op)
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["cloudwatch", "s3"]);
}

#[tokio::test]
async fn unknown_type_and_missing_tenant_are_not_found() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = app
            .request(method, "/v1/tenants/acme/delivery-configs/kinesis", &op)
            .send()
            .await
            .unwrap();
        problem(response, 404).await;
    }
    problem(
        app.put(
            "/v1/tenants/acme/delivery-configs/kinesis",
            &op,
            &cloudwatch_body(),
        )
        .await,
        404,
    )
    .await;
    problem(
        app.put(
            "/v1/tenants/nobody/delivery-configs/cloudwatch",
            &op,
            &cloudwatch_body(),
        )
        .await,
        404,
    )
    .await;
    problem(app.get("/v1/tenants/nobody/delivery-configs", &op).await, 404).await;
    problem(app.get(CW, &op).await, 404).await;
}

#[tokio::test]
async fn bad_role_arn_gets_a_precise_problem() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["role_arn"] = json!("arn:aws:iam::12345:role/LogspokeDelivery");
    let problem = problem(app.put(CW, &TestApp::operator_token(), &body).await, 422).await;
    insta::assert_json_snapshot!(problem, @r###"
    {
      "detail": "the request has 1 invalid field(s)",
      "errors": [
        {
          "field": "role_arn",
          "message": "account id must be 12 digits"
        }
      ],
      "status": 422,
      "title": "Request validation failed",
      "type": "https://logspoke.dev/problems/validation"
    }
    "###);
}

#[tokio::test]
async fn roles_outside_the_template_path_or_in_the_provider_account_are_refused() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let op = TestApp::operator_token();
    let cases = [
        // The provider's own roles (the worker's, the collector's): never a target.
        (
            "arn:aws:iam::111111111111:role/logspoke/Anything",
            "must be a role in the customer's account, not in the provider's",
        ),
        (
            "arn:aws:iam::111111111111:role/LogspokeProvider",
            "must be a role in the customer's account, not in the provider's",
        ),
        (
            "arn:aws:iam::222222222222:role/LogspokeDelivery",
            "must be a role with the path /logspoke/ (as the onboarding template creates it: \
             arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery)",
        ),
    ];
    for (arn, message) in cases {
        let mut body = cloudwatch_body();
        body["role_arn"] = json!(arn);
        let problem = problem(app.put(CW, &op, &body).await, 422).await;
        assert_eq!(
            problem["errors"],
            json!([{"field": "role_arn", "message": message}]),
            "{arn}"
        );
    }
    assert_eq!(app.put(CW, &op, &cloudwatch_body()).await.status(), 201);
    // PATCH is held to the same rule.
    let patched = app
        .patch(
            CW,
            &op,
            &json!({"role_arn": "arn:aws:iam::111111111111:role/logspoke/x"}),
        )
        .await;
    problem(patched, 422).await;
}

#[tokio::test]
async fn every_invalid_field_is_listed() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let body = json!({
        "target_region": "mars-north-1",
        "role_arn": "arn:aws:iam::222222222222:user/bob",
        "log_group_name": "bad name",
        "bucket_name": "not-for-cloudwatch",
        "desired_logs": [""],
    });
    let problem = problem(app.put(CW, &TestApp::operator_token(), &body).await, 422).await;
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "bucket_name",
            "desired_logs",
            "log_group_name",
            "role_arn",
            "target_region"
        ]
    );
}

/// An entry may confine an application to a namespace; a namespace no Kubernetes
/// namespace could have is refused, naming the entry.
#[tokio::test]
async fn desired_logs_entries_may_name_a_namespace() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["desired_logs"] = json!(["prod/payments", "checkout", "prod/payments"]);
    let created = app.put(CW, &op, &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["desired_logs"], json!(["prod/payments", "checkout"]));

    body["desired_logs"] = json!(["checkout", "Prod/payments"]);
    let problem = problem(app.put(CW, &op, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "desired_logs");
    assert_eq!(
        problem["errors"][0]["message"],
        "entry 1: the namespace before '/' may contain only lowercase letters, digits and '-'"
    );
}

#[tokio::test]
async fn region_must_be_in_the_role_partition() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["target_region"] = json!("cn-north-1");
    let problem = problem(app.put(CW, &TestApp::operator_token(), &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "target_region");
    body["role_arn"] = json!("arn:aws-cn:iam::222222222222:role/logspoke/LogspokeDelivery");
    assert_eq!(app.put(CW, &TestApp::operator_token(), &body).await.status(), 201);
}

#[tokio::test]
async fn merge_patch_changes_only_the_given_fields() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["log_stream_template"] = json!("{cluster_id}/{pod_name}");
    app.put(CW, &op, &body).await;
    let patched = app
        .patch(
            CW,
            &op,
            &json!({"desired_logs": ["api"], "log_stream_template": null}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["desired_logs"], json!(["api"]));
    assert_eq!(patched["log_group_name"], "/logspoke/acme");
    assert_eq!(patched["role_arn"], ROLE_ARN);
    assert!(patched.get("log_stream_template").is_none());

    let invalid = problem(app.patch(CW, &op, &json!({"role_arn": null})).await, 422).await;
    assert_eq!(invalid["errors"][0]["field"], "role_arn");
    let invalid = problem(app.patch(CW, &op, &json!({"version": 99})).await, 422).await;
    assert!(invalid["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field"));
    problem(app.patch(CW, &op, &json!([1, 2])).await, 422).await;
    problem(
        app.patch(
            "/v1/tenants/acme/delivery-configs/s3",
            &op,
            &json!({"enabled": false}),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn stale_if_match_is_refused_with_412() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let first = app.create_cloudwatch_config("acme").await;
    let stale = first.headers()["etag"].to_str().unwrap().to_owned();
    let mut changed = cloudwatch_body();
    changed["desired_logs"] = json!(["api"]);
    let second = app.put(CW, &op, &changed).await;
    let current = second.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(stale, current);

    let with_etag = |method: reqwest::Method, etag: &str| {
        app.request(method, CW, &op)
            .header("if-match", etag)
            .header("content-type", "application/merge-patch+json")
    };
    let body = cloudwatch_body().to_string();
    problem(
        with_etag(reqwest::Method::PUT, &stale)
            .body(body.clone())
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    problem(
        with_etag(reqwest::Method::PATCH, &stale)
            .body("{}")
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    problem(
        with_etag(reqwest::Method::DELETE, &stale).send().await.unwrap(),
        412,
    )
    .await;
    let ok = with_etag(reqwest::Method::PATCH, &current)
        .body(r#"{"enabled": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let newest = ok.headers()["etag"].to_str().unwrap().to_owned();
    problem(
        with_etag(reqwest::Method::DELETE, &current).send().await.unwrap(),
        412,
    )
    .await;
    assert_eq!(
        with_etag(reqwest::Method::DELETE, &newest)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // `If-Match: *` requires the resource to exist.
    problem(
        with_etag(reqwest::Method::PUT, "*")
            .body(body)
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
}

#[tokio::test]
async fn an_ill_typed_patch_is_refused_before_its_precondition() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let patch = |body: &'static str| {
        app.request(reqwest::Method::PATCH, CW, &op)
            .header("if-match", "*")
            .header("content-type", "application/merge-patch+json")
            .body(body)
    };
    // No config exists: `If-Match: *` fails, but the body's types are checked first.
    let body = problem(patch(r#"{"enabled": "yes"}"#).send().await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["field"], "enabled");
    problem(patch(r#"{"enabled": false}"#).send().await.unwrap(), 412).await;
}

#[tokio::test]
async fn a_patch_may_not_name_the_other_types_fields() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    let response = app
        .request(reqwest::Method::PATCH, CW, &op)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"bucket_name": "acme-logs"}"#)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "bucket_name");
}

#[tokio::test]
async fn a_write_that_changes_nothing_writes_no_version_audit_row_or_event() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let created = app.put(CW, &op, &cloudwatch_body()).await;
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let counts = |pool: sqlx::PgPool| async move {
        let audit: i64 = sqlx::query_scalar("select count(*) from audit_events where tenant_id = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap();
        let outbox: i64 = sqlx::query_scalar("select count(*) from config_outbox where tenant_id = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap();
        (audit, outbox)
    };
    let before = counts(app.pool()).await;
    for _ in 0..3 {
        let patched = app.patch(CW, &op, &json!({"enabled": true})).await;
        assert_eq!(patched.status(), 200);
        assert_eq!(
            patched.headers()["etag"].to_str().unwrap(),
            etag,
            "the same version"
        );
        let replaced = app.put(CW, &op, &cloudwatch_body()).await;
        assert_eq!(replaced.status(), 200);
        assert_eq!(replaced.headers()["etag"].to_str().unwrap(), etag);
    }
    assert_eq!(
        counts(app.pool()).await,
        before,
        "no audit row and no published change"
    );
    // A real change still writes all three.
    let changed = app.patch(CW, &op, &json!({"enabled": false})).await;
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let (audit, outbox) = counts(app.pool()).await;
    assert_eq!((audit, outbox), (before.0 + 1, before.1 + 1));
}

/// The `version` and `delivery_version` of the newest read-model item queued for acme's
/// CloudWatch config.
async fn queued_versions(app: &TestApp) -> (i64, i64) {
    let item: Value = sqlx::query_scalar(
        "select item from config_outbox where tenant_id = 'acme' and delivery_type = 'cloudwatch'
         order by id desc limit 1",
    )
    .fetch_one(&app.pool())
    .await
    .unwrap();
    let number = |name: &str| item[name]["N"].as_str().unwrap().parse::<i64>().unwrap();
    (number("version"), number("delivery_version"))
}

#[tokio::test]
async fn only_a_change_that_matters_for_delivery_moves_the_delivery_version() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.put(CW, &op, &cloudwatch_body()).await;
    let (created, delivery) = queued_versions(&app).await;
    assert_eq!(delivery, created, "a new config");

    // An allow-list edit and a cluster registration: new versions, the same delivery version.
    let edited = app.patch(CW, &op, &json!({"desired_logs": ["payments"]})).await;
    assert_eq!(edited.status(), 200);
    let (version, unchanged) = queued_versions(&app).await;
    assert!(version > created);
    assert_eq!(
        unchanged, delivery,
        "an allow-list edit does not matter for delivery"
    );
    let registered = app
        .put("/v1/tenants/acme/clusters/prod-eu-2", &op, &json!({}))
        .await;
    assert!(registered.status().is_success(), "{}", registered.status());
    let (version, unchanged) = queued_versions(&app).await;
    assert!(version > created);
    assert_eq!(unchanged, delivery, "nor does a cluster registration");

    // The role, the enabled flag, the tenant's enabled flag: each moves it.
    let other_role = ROLE_ARN.replace("LogspokeDelivery", "LogspokeDelivery2");
    for (path, change) in [
        (CW, json!({"role_arn": other_role})),
        (CW, json!({"enabled": false})),
        ("/v1/tenants/acme", json!({"enabled": false})),
    ] {
        let changed = app.patch(path, &op, &change).await;
        assert_eq!(changed.status(), 200, "{change}");
        let (version, delivery) = queued_versions(&app).await;
        assert_eq!(delivery, version, "{change} matters for delivery");
    }
}

#[tokio::test]
async fn a_tenant_past_its_write_limit_gets_429_and_other_tenants_and_operators_do_not() {
    let app = TestApp::spawn_with(Options {
        writes_per_minute: 2,
        ..Options::default()
    })
    .await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;
    let acme = TestApp::tenant_token("acme");
    let globex_path = "/v1/tenants/globex/delivery-configs/cloudwatch";
    assert_eq!(app.put(CW, &acme, &cloudwatch_body()).await.status(), 201);
    assert_eq!(
        app.patch(CW, &acme, &json!({"enabled": false})).await.status(),
        200
    );
    // The third change within the minute is refused before its handler runs.
    let limited = app.patch(CW, &acme, &json!({"enabled": true})).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body = problem(limited, 429).await;
    assert!(body["detail"].as_str().unwrap().contains("acme"), "{body}");
    let still: Value = app.get(CW, &acme).await.json().await.unwrap();
    assert_eq!(still["enabled"], false, "the refused change was not made");
    // Reading is not limited; another tenant and the operators are not held back.
    assert_eq!(app.get(CW, &acme).await.status(), 200);
    let globex = TestApp::tenant_token("globex");
    let mut body = cloudwatch_body();
    body["log_group_name"] = json!("/logspoke/globex");
    assert_eq!(app.put(globex_path, &globex, &body).await.status(), 201);
    for enabled in [true, false, true] {
        assert_eq!(
            app.patch(CW, &op, &json!({"enabled": enabled})).await.status(),
            200
        );
    }
}

/// A filter's and a message format's problems are named down to the rule and its part;
/// what was stored is shown as written, and the audit trail records it.
#[tokio::test]
async fn filters_and_message_formats_are_validated_shown_and_audited() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let mut body = cloudwatch_body();
    body["filter"] = json!({
        "include": [{"field": "message", "contains": "ERROR"}, {"field": "message", "regex": "(unclosed"}],
        "exclude": [{"field": "pod", "equals": "a", "contains": "b"}, {"field": "node", "equals": "x"}]
    });
    body["message_fields"] = json!(["pod"]);
    let refused = problem(app.put(CW, &op, &body).await, 422).await;
    let errors: Vec<(&str, &str)> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    // An unknown field fails the rule's shape as a whole (serde), naming `filter`.
    assert_eq!(errors[0].0, "filter");
    assert_eq!(
        errors[1],
        ("message_fields", "only applies with message_format json")
    );

    body["filter"]["exclude"] = json!([{"field": "pod", "equals": "a", "contains": "b"}]);
    let refused = problem(app.put(CW, &op, &body).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "filter.include[1].regex");
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("is not a valid regular expression"));

    body["filter"] = json!({"include": [{"field": "message", "regex": "^(ERROR|WARN)"}],
                            "exclude": [{"field": "container", "equals": "istio-proxy"}]});
    body["message_format"] = json!("json");
    let created = app.put(CW, &op, &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["filter"], body["filter"]);
    assert_eq!(
        (&created["message_format"], &created["message_fields"]),
        (&json!("json"), &json!(["pod"]))
    );
    let trail = app.audit_trail("acme", &op).await;
    let last = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "delivery_config.created");
    assert_eq!(last.unwrap()["after"]["filter"], body["filter"], "{trail}");

    let s3 = app
        .put(
            "/v1/tenants/acme/delivery-configs/s3",
            &op,
            &json!({"target_region": "eu-west-1", "role_arn": ROLE_ARN, "bucket_name": "acme-logs",
                    "message_format": "json", "filter": {"exclude": [{"field": "namespace", "equals": "kube-system"}]}}),
        )
        .await;
    let refused = problem(s3, 422).await;
    assert_eq!(refused["errors"][0]["field"], "message_format");
}

/// An S3 config may lay its copies out as Hive partitions; the layout is S3's alone.
#[tokio::test]
async fn an_s3_config_takes_a_key_layout_and_a_cloudwatch_config_does_not() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let s3 = "/v1/tenants/acme/delivery-configs/s3";
    let created = app.put(s3, &op, &s3_body()).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["key_layout"], "staged");

    let mut body = s3_body();
    body["key_layout"] = json!("hive");
    let replaced: Value = app.put(s3, &op, &body).await.json().await.unwrap();
    assert_eq!(replaced["key_layout"], "hive");

    body["key_layout"] = json!("parquet");
    let refused = problem(app.put(s3, &op, &body).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "key_layout");

    let mut cloudwatch = cloudwatch_body();
    cloudwatch["key_layout"] = json!("hive");
    let refused = problem(app.put(CW, &op, &cloudwatch).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "key_layout");
    assert_eq!(
        refused["errors"][0]["message"],
        "does not apply to cloudwatch configs"
    );
}

/// An S3 config may name its copies' storage class and a KMS key of the bucket's region;
/// both are shown, audited and refused with one error per field when wrong.
#[tokio::test]
async fn an_s3_config_takes_a_storage_class_and_a_kms_key_of_its_region() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let s3 = "/v1/tenants/acme/delivery-configs/s3";
    let key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut body = s3_body();
    body["storage_class"] = json!("STANDARD_IA");
    body["kms_key_arn"] = json!(key);
    let created = app.put(s3, &op, &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        (&created["storage_class"], &created["kms_key_arn"]),
        (&json!("STANDARD_IA"), &json!(key))
    );
    let trail = app.audit_trail("acme", &op).await;
    let created = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "delivery_config.created");
    assert_eq!(created.unwrap()["after"]["kms_key_arn"], key, "{trail}");

    body["storage_class"] = json!("standard");
    body["kms_key_arn"] = json!("arn:aws:kms:us-east-1:222222222222:alias/logs");
    let refused = problem(app.put(s3, &op, &body).await, 422).await;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["storage_class", "kms_key_arn"], "{refused:#}");

    body["storage_class"] = json!("GLACIER_IR");
    body["kms_key_arn"] = json!(key.replace("us-east-1", "eu-west-1"));
    let refused = problem(app.put(s3, &op, &body).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "kms_key_arn");
    assert_eq!(
        refused["errors"][0]["message"],
        "must be a key in the target_region us-east-1 (where the bucket is)"
    );

    let mut cloudwatch = cloudwatch_body();
    cloudwatch["storage_class"] = json!("STANDARD");
    cloudwatch["kms_key_arn"] = json!(key);
    let refused = problem(app.put(CW, &op, &cloudwatch).await, 422).await;
    assert_eq!(refused["errors"].as_array().unwrap().len(), 2, "{refused:#}");
    assert_eq!(
        refused["errors"][0]["message"],
        "does not apply to cloudwatch configs"
    );
}

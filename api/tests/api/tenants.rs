//! Tenant resource behaviour.

use serde_json::{json, Value};

use crate::helpers::{problem, TestApp};

#[tokio::test]
async fn tenant_lifecycle_create_read_patch_delete() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    let response = app
        .post(
            "/v1/tenants",
            &op,
            &json!({"tenant_id": "acme", "display_name": "Acme Corp"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/v1/tenants/acme");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["enabled"], true);
    assert_eq!(format!("\"{}\"", created["version"]), etag);
    insta::assert_json_snapshot!(created, {
        ".version" => "[version]", ".created_at" => "[time]", ".updated_at" => "[time]"
    }, @r###"
    {
      "created_at": "[time]",
      "display_name": "Acme Corp",
      "enabled": true,
      "tenant_id": "acme",
      "updated_at": "[time]",
      "version": "[version]"
    }
    "###);

    let fetched = app.get("/v1/tenants/acme", &op).await;
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);

    let patched = app
        .request(reqwest::Method::PATCH, "/v1/tenants/acme", &op)
        .header("content-type", "application/merge-patch+json")
        .header("if-match", &etag)
        .body(json!({"enabled": false, "display_name": null}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["display_name"], Value::Null);
    assert!(patched["version"].as_i64() > created["version"].as_i64());

    let stale = app
        .request(reqwest::Method::DELETE, "/v1/tenants/acme", &op)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    assert_eq!(app.delete("/v1/tenants/acme", &op).await.status(), 204);
    problem(app.get("/v1/tenants/acme", &op).await, 404).await;
    problem(app.delete("/v1/tenants/acme", &op).await, 404).await;
}

#[tokio::test]
async fn duplicate_tenant_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let body = problem(
        app.post(
            "/v1/tenants",
            &TestApp::operator_token(),
            &json!({"tenant_id": "acme"}),
        )
        .await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("acme"));
}

#[tokio::test]
async fn tenant_ids_are_validated() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    for accepted in ["a", "ab", "a1", "acme", "acme-corp-2", "0abc", &"a".repeat(63)] {
        let response = app
            .post("/v1/tenants", &op, &json!({"tenant_id": accepted}))
            .await;
        assert_eq!(response.status(), 201, "{accepted}");
    }
    for rejected in [
        "",
        "a-",
        "Acme",
        "-acme",
        "acme-",
        "ac_me",
        "ac.me",
        "ac me",
        "ácme",
        &"a".repeat(64),
    ] {
        let body = problem(
            app.post("/v1/tenants", &op, &json!({"tenant_id": rejected}))
                .await,
            422,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "tenant_id", "{rejected}");
    }
}

#[tokio::test]
async fn malformed_bodies_get_precise_problems() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    let body = problem(
        app.post("/v1/tenants", &op, &json!({"tenant_id": "acme", "colour": "red"}))
            .await,
        422,
    )
    .await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `colour`"));
    let body = problem(app.post("/v1/tenants", &op, &json!({"tenant_id": 42})).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "tenant_id");
    let body = problem(app.post("/v1/tenants", &op, &json!({})).await, 422).await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("tenant_id"));
    let response = app
        .request(reqwest::Method::POST, "/v1/tenants", &op)
        .header("content-type", "application/json")
        .body("{\"tenant_id\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
    let response = app
        .request(reqwest::Method::POST, "/v1/tenants", &op)
        .header("content-type", "text/plain")
        .body("tenant_id=acme")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
    let huge = json!({"tenant_id": "acme", "display_name": "x".repeat(100_000)});
    problem(app.post("/v1/tenants", &op, &huge).await, 413).await;
    let body = problem(
        app.post(
            "/v1/tenants",
            &op,
            &json!({"tenant_id": "acme", "display_name": "a\u{0007}"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "display_name");
}

#[tokio::test]
async fn listing_paginates_over_several_pages_in_order() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    let mut expected: Vec<String> = (0..7).map(|i| format!("tenant-{i:02}")).collect();
    for id in expected.iter().rev() {
        app.create_tenant(id).await;
    }
    expected.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants?limit=3&cursor={c}"),
            None => "/v1/tenants?limit=3".to_owned(),
        };
        let page: Value = app.get(&path, &op).await.json().await.unwrap();
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    let default: Value = app.get("/v1/tenants", &op).await.json().await.unwrap();
    assert_eq!(default["items"].as_array().unwrap().len(), 7);
    assert_eq!(default["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_pagination_parameters_are_bad_requests() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    for query in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "cursor=not-a-cursor",
        "unknown=1",
    ] {
        problem(app.get(&format!("/v1/tenants?{query}"), &op).await, 400).await;
    }
}

#[tokio::test]
async fn deleting_a_tenant_deletes_and_audits_its_configs() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    let s3 = app
        .put(
            "/v1/tenants/acme/delivery-configs/s3",
            &op,
            &crate::helpers::s3_body(),
        )
        .await;
    assert_eq!(s3.status(), 201);
    assert_eq!(app.delete("/v1/tenants/acme", &op).await.status(), 204);
    let audit: Value = app.audit_trail("acme", &op).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.deleted",
            "delivery_config.deleted",
            "delivery_config.deleted",
            "delivery_config.created",
            "delivery_config.created",
            "tenant.created"
        ]
    );
    // The id is retired: it is never created again, for any customer.
    let again = app.post("/v1/tenants", &op, &json!({"tenant_id": "acme"})).await;
    let problem = problem(again, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("tenant id 'acme' was used before (deleted "),
        "{problem}"
    );
    // The old trail stays readable to operators.
    let trail: Value = app.audit_trail("acme", &op).await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn a_deleted_tenants_token_reaches_nothing_and_cannot_read_the_old_trail() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    let token = TestApp::tenant_token("acme");
    assert_eq!(
        app.get("/v1/tenants/acme/audit-events", &token).await.status(),
        200
    );
    assert_eq!(app.delete("/v1/tenants/acme", &op).await.status(), 204);
    let empty = json!({});
    let calls: [(&str, &str, Option<&Value>); 10] = [
        ("GET", "/v1/tenants/acme", None),
        ("PATCH", "/v1/tenants/acme", Some(&empty)),
        ("GET", "/v1/tenants/acme/delivery-configs", None),
        ("GET", "/v1/tenants/acme/delivery-configs/cloudwatch", None),
        (
            "PUT",
            "/v1/tenants/acme/delivery-configs/cloudwatch",
            Some(&crate::helpers::cloudwatch_body()),
        ),
        ("DELETE", "/v1/tenants/acme/delivery-configs/cloudwatch", None),
        (
            "POST",
            "/v1/tenants/acme/delivery-configs/cloudwatch/verify",
            Some(&empty),
        ),
        ("POST", "/v1/tenants/acme/onboarding", Some(&empty)),
        ("GET", "/v1/tenants/acme/audit-events", None),
        ("GET", "/v1/tenants/acme/clusters", None),
    ];
    for (method, path, body) in calls {
        let status = app.call(method, path, &token, body).await.status().as_u16();
        assert!(status == 403 || status == 404, "{method} {path}: {status}");
    }
    // Operators still read the old trail.
    assert_eq!(app.get("/v1/tenants/acme/audit-events", &op).await.status(), 200);
}

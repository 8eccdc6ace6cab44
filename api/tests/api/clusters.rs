//! Clusters: which collected clusters may stage logs for a tenant, and how a change
//! reaches the read model.

use serde_json::{json, Value};

use crate::helpers::{problem, TestApp};

async fn put_cluster(app: &TestApp, token: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
    app.call("PUT", path, token, body).await
}

fn actions(trail: &Value) -> Vec<String> {
    trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn operators_register_list_and_deregister_clusters_with_an_audit_trail() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let path = "/v1/tenants/acme/clusters/prod-eu-1";

    let created = put_cluster(&app, &op, path, None).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], path);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["cluster_id"], "prod-eu-1");
    assert_eq!(body["display_name"], Value::Null);

    let renamed = put_cluster(&app, &op, path, Some(&json!({"display_name": "Frankfurt"}))).await;
    assert_eq!(renamed.status(), 200);
    let list: Value = app
        .get("/v1/tenants/acme/clusters", &op)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["display_name"], "Frankfurt");

    assert_eq!(app.delete(path, &op).await.status(), 204);
    let gone = app.delete(path, &op).await;
    let problem = problem(gone, 404).await;
    assert_eq!(
        problem["detail"],
        "cluster 'prod-eu-1' is not registered for tenant 'acme'"
    );
    let trail: Value = app.audit_trail("acme", &op).await;
    assert_eq!(
        actions(&trail)[..3],
        ["cluster.deregistered", "cluster.updated", "cluster.registered"]
    );
}

#[tokio::test]
async fn tenants_read_their_clusters_but_only_operators_change_them() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;
    let path = "/v1/tenants/acme/clusters/prod-eu-1";
    assert_eq!(put_cluster(&app, &op, path, None).await.status(), 201);
    let acme = TestApp::tenant_token("acme");
    assert_eq!(app.get("/v1/tenants/acme/clusters", &acme).await.status(), 200);
    // A tenant vouching for a cluster would let it claim another tenant's pods.
    assert_eq!(
        put_cluster(&app, &acme, "/v1/tenants/acme/clusters/mine", None)
            .await
            .status(),
        403
    );
    assert_eq!(app.delete(path, &acme).await.status(), 403);
    let globex = TestApp::tenant_token("globex");
    assert_eq!(app.get("/v1/tenants/acme/clusters", &globex).await.status(), 403);
}

#[tokio::test]
async fn bad_cluster_ids_and_bodies_get_precise_problems() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let bad = put_cluster(&app, &op, "/v1/tenants/acme/clusters/-prod", None).await;
    let problem_doc = problem(bad, 422).await;
    assert_eq!(problem_doc["errors"][0]["field"], "cluster_id");
    let long = format!("/v1/tenants/acme/clusters/{}", "c".repeat(254));
    problem(put_cluster(&app, &op, &long, None).await, 422).await;
    let unknown_field = put_cluster(
        &app,
        &op,
        "/v1/tenants/acme/clusters/prod",
        Some(&json!({"name": "x"})),
    )
    .await;
    problem(unknown_field, 422).await;
    // The body is an object or nothing: a JSON `null` is neither.
    let null = put_cluster(&app, &op, "/v1/tenants/acme/clusters/prod", Some(&Value::Null)).await;
    let problem_doc = problem(null, 422).await;
    assert_eq!(problem_doc["errors"][0]["field"], "body");
    let missing = put_cluster(&app, &op, "/v1/tenants/nobody/clusters/prod", None).await;
    problem(missing, 404).await;
}

#[tokio::test]
async fn a_cluster_change_republishes_every_config_of_the_tenant_with_its_cluster_list() {
    let app = TestApp::spawn().await;
    let op = TestApp::operator_token();
    app.create_tenant("acme").await;
    let before: Value = app.create_cloudwatch_config("acme").await.json().await.unwrap();
    let path = "/v1/tenants/acme/clusters/prod-eu-1";
    assert_eq!(put_cluster(&app, &op, path, None).await.status(), 201);
    let after: Value = app
        .get("/v1/tenants/acme/delivery-configs/cloudwatch", &op)
        .await
        .json()
        .await
        .unwrap();
    assert!(after["version"].as_i64() > before["version"].as_i64());
    let db = app.pool();
    let newest = || async {
        sqlx::query_scalar::<_, Value>(
            "select item from config_outbox where tenant_id = 'acme' order by id desc limit 1",
        )
        .fetch_one(&db)
        .await
        .unwrap()
    };
    assert_eq!(newest().await["clusters"], json!({"L": [{"S": "prod-eu-1"}]}));
    assert_eq!(app.delete(path, &op).await.status(), 204);
    assert_eq!(newest().await["clusters"], json!({"L": []}));
}

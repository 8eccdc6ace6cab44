//! Onboarding and the trial AssumeRole against the AWS emulator (AUTH=true): customer
//! stacks are created from the template through CloudFormation with the parameters
//! parsed back out of the API's quick-create link.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::aws::{self, CUSTOMER, OTHER_CUSTOMER, REGION};
use crate::helpers::{problem, s3_body, TestApp};

/// A tenant onboarded for CloudWatch: the log group exists in `account` and a stack was
/// created from the link with `ExternalId` overridden when `external_id` is given.
struct Onboarded {
    app: TestApp,
    tenant: String,
    log_group: String,
    link: Value,
}

async fn onboard(account: &str) -> Onboarded {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let link: Value = app
        .post(
            &format!("/v1/tenants/{tenant}/onboarding"),
            &TestApp::operator_token(),
            &json!({"region": REGION, "delivery_types": ["cloudwatch"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let log_group = format!("/logspoke/{tenant}");
    aws::create_log_group(account, &log_group).await;
    Onboarded {
        app,
        tenant,
        log_group,
        link,
    }
}

impl Onboarded {
    fn parameters(&self) -> BTreeMap<String, String> {
        aws::link_parameters(self.link["quick_create_url"].as_str().unwrap())
    }

    fn config_path(&self, ty: &str) -> String {
        format!("/v1/tenants/{}/delivery-configs/{ty}", self.tenant)
    }

    async fn put_cloudwatch(&self, role_arn: &str, log_group: &str) {
        let body = json!({"target_region": REGION, "role_arn": role_arn, "log_group_name": log_group});
        let response = self
            .app
            .put(&self.config_path("cloudwatch"), &TestApp::operator_token(), &body)
            .await;
        assert!(response.status().is_success(), "{:?}", response.text().await);
    }

    /// An S3 config under the prefix `k8s/` (the stacks these tests create say so too).
    async fn put_s3(&self, role_arn: &str, bucket: &str) {
        let body = json!({"target_region": REGION, "role_arn": role_arn, "bucket_name": bucket, "bucket_prefix": "k8s"});
        let response = self
            .app
            .put(&self.config_path("s3"), &TestApp::operator_token(), &body)
            .await;
        assert!(response.status().is_success(), "{:?}", response.text().await);
    }

    async fn verify(&self, ty: &str) -> Value {
        self.verify_as(ty, &TestApp::operator_token()).await
    }

    async fn verify_as(&self, ty: &str, token: &str) -> Value {
        let response = self
            .app
            .post(&format!("{}/verify", self.config_path(ty)), token, &json!({}))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// (check name, status, cause) of each check, for compact assertions.
fn checks(config: &Value) -> Vec<(String, String, Option<String>)> {
    config["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["cause"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn cause_of(config: &Value, check: &str) -> Option<String> {
    checks(config)
        .into_iter()
        .find(|(name, _, _)| name == check)
        .and_then(|(_, _, cause)| cause)
}

#[tokio::test]
async fn onboarding_link_creates_a_role_that_verifies() {
    let t = onboard(CUSTOMER).await;
    let external_id = t.link["external_id"].as_str().unwrap().to_owned();
    assert!(external_id.len() >= 32 && external_id.chars().all(|c| c.is_ascii_alphanumeric()));
    let parameters = t.parameters();
    assert_eq!(parameters["ExternalId"], external_id);
    assert_eq!(
        parameters["ProviderRoleArn"],
        aws::provider_role_arn().to_string()
    );
    assert_eq!(parameters["LogGroupName"], t.log_group);
    assert!(!parameters.contains_key("BucketName"));
    assert!(!parameters.contains_key("BucketPrefix"));
    // Not asked to: the stack creates nothing (the template's defaults say so).
    assert!(!parameters.contains_key("CreateLogGroup"));
    assert!(!parameters.contains_key("CreateBucket"));
    let url = t.link["quick_create_url"].as_str().unwrap();
    assert!(url.starts_with(&format!(
        "https://{REGION}.console.aws.amazon.com/cloudformation/home?region={REGION}#"
    )));
    assert!(url.contains("templateURL=http%3A%2F%2F127.0.0.1%3A"), "{url}");

    // A second call returns the same ExternalId.
    let again: Value = t
        .app
        .post(
            &format!("/v1/tenants/{}/onboarding", t.tenant),
            &TestApp::operator_token(),
            &json!({"region": REGION}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["external_id"], external_id);

    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    assert!(
        role.as_str()
            .starts_with(&format!("arn:aws:iam::{CUSTOMER}:role/logspoke/")),
        "{role}"
    );
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    let before: Value = t
        .app
        .get(&t.config_path("cloudwatch"), &TestApp::operator_token())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["state"], "pending_verification");
    assert_eq!(before["verification"]["status"], "unverified");

    let verified = t.verify("cloudwatch").await;
    assert_eq!(verified["verification"]["status"], "verified", "{verified:#}");
    assert_eq!(verified["state"], "active");
    assert_eq!(
        checks(&verified),
        [
            ("assume_role".to_owned(), "passed".to_owned(), None),
            ("external_id_required".to_owned(), "passed".to_owned(), None),
            ("cloudwatch_write".to_owned(), "passed".to_owned(), None),
        ]
    );
    let messages = aws::log_messages(CUSTOMER, &t.log_group, "logspoke-verification").await;
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Logspoke delivery verification")),
        "{messages:?}"
    );
    assert!(
        !verified.to_string().contains(&external_id),
        "the ExternalId leaked into the config"
    );

    // Changing the role resets the config to unverified; changing the filter does not.
    let patched: Value = t
        .app
        .patch(
            &t.config_path("cloudwatch"),
            &TestApp::operator_token(),
            &json!({"desired_logs": ["api"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["state"], "active");
    let other_role = format!("arn:aws:iam::{CUSTOMER}:role/logspoke/another-role");
    let patched: Value = t
        .app
        .patch(
            &t.config_path("cloudwatch"),
            &TestApp::operator_token(),
            &json!({"role_arn": other_role}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["state"], "pending_verification");
    assert_eq!(patched["verification"]["checks"], json!([]));

    let audit: Value = t
        .app
        .get(
            &format!("/v1/tenants/{}/audit-events", t.tenant),
            &TestApp::operator_token(),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"delivery_config.verified"), "{actions:?}");
    assert!(actions.contains(&"tenant.external_id_issued"), "{actions:?}");
    assert!(
        !audit.to_string().contains(&external_id),
        "the ExternalId leaked into the audit trail"
    );
}

#[tokio::test]
async fn a_stack_with_another_external_id_cannot_be_assumed() {
    let t = onboard(CUSTOMER).await;
    let mut parameters = t.parameters();
    parameters.insert(
        "ExternalId".into(),
        "SomeoneElsesExternalId0123456789abcdef".into(),
    );
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    let result = t.verify("cloudwatch").await;
    assert_eq!(result["verification"]["status"], "failed");
    assert_eq!(result["state"], "verification_failed");
    let cause = cause_of(&result, "assume_role").unwrap();
    assert!(
        ["role_not_assumable", "external_id_mismatch"].contains(&cause.as_str()),
        "{cause}"
    );
    assert_eq!(checks(&result)[2].1, "skipped");
}

#[tokio::test]
async fn a_role_that_trusts_without_external_id_is_unsafe() {
    let t = onboard(CUSTOMER).await;
    let role = aws::create_unsafe_role(CUSTOMER).await;
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    let result = t.verify("cloudwatch").await;
    assert_eq!(result["verification"]["status"], "failed");
    assert_eq!(
        cause_of(&result, "external_id_required").as_deref(),
        Some("external_id_not_required")
    );
}

#[tokio::test]
async fn a_role_without_the_log_group_permission_is_denied() {
    let t = onboard(CUSTOMER).await;
    // The stack grants a different log group than the config names.
    let mut parameters = t.parameters();
    parameters.insert("LogGroupName".into(), "/logspoke/somewhere-else".into());
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    let result = t.verify("cloudwatch").await;
    assert_eq!(
        cause_of(&result, "cloudwatch_write").as_deref(),
        Some("permission_denied")
    );
    let message = &result["verification"]["checks"][2]["message"];
    assert!(
        message.as_str().unwrap().contains("logs:CreateLogStream"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_log_group_is_reported() {
    let t = onboard(CUSTOMER).await;
    let missing = aws::unique("/logspoke/missing");
    let mut parameters = t.parameters();
    parameters.insert("LogGroupName".into(), missing.clone());
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    t.put_cloudwatch(role.as_str(), &missing).await;
    let result = t.verify("cloudwatch").await;
    assert_eq!(
        cause_of(&result, "cloudwatch_write").as_deref(),
        Some("log_group_missing")
    );
}

#[tokio::test]
async fn a_missing_bucket_is_reported_and_an_existing_one_verifies() {
    let t = onboard(CUSTOMER).await;
    let bucket = aws::unique("acme-logs");
    let mut parameters = t.parameters();
    parameters.insert("BucketName".into(), bucket.clone());
    parameters.insert("BucketPrefix".into(), "k8s/".into());
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    t.put_s3(role.as_str(), &bucket).await;
    let result = t.verify("s3").await;
    assert_eq!(cause_of(&result, "s3_write").as_deref(), Some("bucket_missing"));

    aws::create_bucket(CUSTOMER, &bucket).await;
    let result = t.verify("s3").await;
    assert_eq!(result["verification"]["status"], "verified", "{result:#}");
    assert_eq!(result["state"], "active");
}

#[tokio::test]
async fn a_role_in_another_account_cannot_write_into_the_customers_bucket() {
    let t = onboard(CUSTOMER).await;
    let bucket = aws::unique("acme-logs");
    aws::create_bucket(CUSTOMER, &bucket).await;
    // The other customer's stack names the first customer's bucket.
    let mut parameters = t.parameters();
    parameters.insert("BucketName".into(), bucket.clone());
    parameters.insert("BucketPrefix".into(), "k8s/".into());
    let foreign_role = aws::create_customer_stack(OTHER_CUSTOMER, &parameters).await;
    assert!(foreign_role.as_str().contains(OTHER_CUSTOMER));
    t.put_s3(foreign_role.as_str(), &bucket).await;
    let result = t.verify("s3").await;
    assert_eq!(result["verification"]["status"], "failed");
    assert_eq!(
        cause_of(&result, "s3_write").as_deref(),
        Some("permission_denied")
    );
    // Its CloudWatch writes land in its own account, never in the first customer's group.
    t.put_cloudwatch(foreign_role.as_str(), &t.log_group).await;
    let result = t.verify("cloudwatch").await;
    assert_eq!(
        cause_of(&result, "cloudwatch_write").as_deref(),
        Some("log_group_missing")
    );
}

#[tokio::test]
async fn an_s3_link_scopes_the_role_to_the_configs_bucket_prefix() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let bucket = aws::unique("acme-logs");
    aws::create_bucket(CUSTOMER, &bucket).await;
    // The S3 config first (with a role still to be created), so that the link is filled
    // from it: the bucket, and the prefix as the api stores it.
    let path =
        s3_config_before_the_role(&app, &tenant, &bucket, json!({"bucket_prefix": "/k8s//prod"})).await;
    let op = TestApp::operator_token();
    let link: Value = app
        .post(&format!("/v1/tenants/{tenant}/onboarding"), &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let parameters = aws::link_parameters(link["quick_create_url"].as_str().unwrap());
    assert_eq!(parameters["BucketName"], bucket);
    assert_eq!(parameters["BucketPrefix"], "k8s/prod/");
    assert!(!parameters.contains_key("LogGroupName"), "{parameters:?}");
    assert_eq!(link["parameters"]["BucketPrefix"], "k8s/prod/");

    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    let patch = |role: String| json!({"role_arn": role});
    let response = app.patch(&path, &op, &patch(role.to_string())).await;
    assert!(response.status().is_success(), "{:?}", response.text().await);
    let verified: Value = app
        .post(&format!("{path}/verify"), &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["verification"]["status"], "verified", "{verified:#}");
    assert_eq!(
        checks(&verified)[2],
        ("s3_write".to_owned(), "passed".to_owned(), None)
    );

    // What the role may do, asked directly: put under the prefix, delete only markers.
    let s3 = aws::s3_as_customer_role(&role, link["external_id"].as_str().unwrap()).await;
    let put = |key: &'static str| {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
    };
    let delete = |key: &'static str| s3.delete_object().bucket(&bucket).key(key).send();
    let outcomes = [
        aws::s3_outcome(&put("k8s/prod/acme/c1/app/pod/1-u.json.gz").await),
        aws::s3_outcome(&put("k8s/prod-other/acme/c1/app/pod/1-u.json.gz").await),
        aws::s3_outcome(&put("elsewhere/1-u.json.gz").await),
        aws::s3_outcome(&delete("k8s/prod/acme/c1/app/pod/1-u.json.gz").await),
        aws::s3_outcome(&delete("k8s/prod/_logspoke-verification/x.txt").await),
    ];
    assert_eq!(
        outcomes,
        ["ok", "AccessDenied", "AccessDenied", "AccessDenied", "ok"]
    );

    // A stack made for another prefix does not verify for this config.
    let mut other = parameters.clone();
    other.insert("BucketPrefix".into(), "k8s/staging/".into());
    let other_role = aws::create_customer_stack(CUSTOMER, &other).await;
    let response = app.patch(&path, &op, &patch(other_role.to_string())).await;
    assert!(response.status().is_success(), "{:?}", response.text().await);
    let failed: Value = app
        .post(&format!("{path}/verify"), &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cause_of(&failed, "s3_write").as_deref(),
        Some("permission_denied")
    );
}

#[tokio::test]
async fn verification_needs_onboarding_first_and_operators_may_force_it() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await;
    let path = "/v1/tenants/acme/delivery-configs/cloudwatch/verify";
    let result: Value = app
        .post(path, &TestApp::operator_token(), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(result["verification"]["status"], "failed");
    assert_eq!(
        result["verification"]["checks"][0]["cause"],
        "onboarding_required"
    );

    let forced_path = format!("{path}?force=true");
    let tenant = TestApp::tenant_token("acme");
    problem(app.post(&forced_path, &tenant, &json!({})).await, 403).await;
    // Forcing needs the onboarding too: the tenant must have an ExternalId. (The body
    // form of earlier versions, `{"force": true}`, still works.)
    let op = TestApp::operator_token();
    problem(app.post(path, &op, &json!({"force": true})).await, 409).await;
    problem(app.post(&forced_path, &op, &json!({})).await, 409).await;
    let onboarding = app
        .post("/v1/tenants/acme/onboarding", &op, &json!({"region": REGION}))
        .await;
    assert_eq!(onboarding.status(), 200);
    let forced: Value = app
        .post(&forced_path, &TestApp::operator_token(), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(forced["state"], "active");
    assert_eq!(forced["verification"]["checks"][0]["name"], "forced");
    // An empty body is accepted too.
    let response = app
        .request(reqwest::Method::POST, path, &TestApp::operator_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn rotating_the_external_id_stops_delivery_until_the_stack_is_updated() {
    let t = onboard(CUSTOMER).await;
    let role = aws::create_customer_stack(CUSTOMER, &t.parameters()).await;
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    assert_eq!(t.verify("cloudwatch").await["state"], "active");

    let rotate = format!("/v1/tenants/{}/onboarding/rotate-external-id", t.tenant);
    problem(
        t.app
            .post(&rotate, &TestApp::tenant_token(&t.tenant), &json!({}))
            .await,
        403,
    )
    .await;
    let rotation: Value = t
        .app
        .post(&rotate, &TestApp::operator_token(), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotation["external_id"], t.link["external_id"]);
    assert_eq!(rotation["configs_reset"], json!(["cloudwatch"]));
    let config: Value = t
        .app
        .get(&t.config_path("cloudwatch"), &TestApp::operator_token())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["state"], "pending_verification");
    let result = t.verify("cloudwatch").await;
    assert_eq!(result["state"], "verification_failed");

    // The customer updates the stack with the new ExternalId (here: a new stack).
    let mut parameters = t.parameters();
    parameters.insert(
        "ExternalId".into(),
        rotation["external_id"].as_str().unwrap().to_owned(),
    );
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    t.put_cloudwatch(role.as_str(), &t.log_group).await;
    assert_eq!(t.verify("cloudwatch").await["state"], "active");
}

#[tokio::test]
async fn a_tenant_runs_its_own_onboarding_but_not_another_tenants() {
    let t = onboard(CUSTOMER).await;
    let own = TestApp::tenant_token(&t.tenant);
    let response = t
        .app
        .post(
            &format!("/v1/tenants/{}/onboarding", t.tenant),
            &own,
            &json!({"region": REGION}),
        )
        .await;
    assert_eq!(response.status(), 200);
    problem(
        t.app
            .post(
                "/v1/tenants/someone-else/onboarding",
                &own,
                &json!({"region": REGION}),
            )
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn onboarding_region_must_match_the_cloudwatch_target() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let op = TestApp::operator_token();
    // Both depend on the tenant's configs, not on the body alone: a conflict with state.
    let body = problem(
        app.post("/v1/tenants/acme/onboarding", &op, &json!({})).await,
        409,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("region is required"),
        "{body}"
    );
    app.create_cloudwatch_config("acme").await; // eu-west-1
    let body = problem(
        app.post(
            "/v1/tenants/acme/onboarding",
            &op,
            &json!({"region": "us-east-1"}),
        )
        .await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("eu-west-1"), "{body}");
    let link: Value = app
        .post("/v1/tenants/acme/onboarding", &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(link["region"], "eu-west-1");
    assert_eq!(
        aws::link_parameters(link["quick_create_url"].as_str().unwrap())["LogGroupName"],
        "/logspoke/acme"
    );
    problem(
        app.post("/v1/tenants/nobody/onboarding", &op, &json!({"region": REGION}))
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn onboarding_without_a_body_takes_the_defaults() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_cloudwatch_config("acme").await; // eu-west-1
    let op = TestApp::operator_token();
    let path = "/v1/tenants/acme/onboarding";
    let with_defaults: Value = app.post(path, &op, &json!({})).await.json().await.unwrap();
    let no_body = app.call("POST", path, &op, None).await;
    assert_eq!(no_body.status(), 200);
    let no_body: Value = no_body.json().await.unwrap();
    assert_eq!(no_body, with_defaults);
    assert_eq!(no_body["region"], "eu-west-1");
    assert_eq!(
        aws::link_parameters(no_body["quick_create_url"].as_str().unwrap())["LogGroupName"],
        "/logspoke/acme"
    );
    // The documented body is an object or nothing: a JSON `null` is neither.
    let null = problem(app.post(path, &op, &Value::Null).await, 422).await;
    assert_eq!(null["errors"][0]["field"], "body");
    let body = problem(app.post(path, &op, &json!(["eu-west-1"])).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "body");
}

#[tokio::test]
async fn configuration_checks_find_a_template_or_role_that_does_not_match() {
    use logspoke_api::config::OnboardingConfig;
    use logspoke_api::onboarding::link::TemplateUrl;
    use logspoke_api::onboarding::template_check;

    aws::bootstrap_provider().await;
    let sdk = aws::sdk(aws::PROVIDER).await;
    let good = OnboardingConfig {
        provider_role_arn: aws::provider_role_arn(),
        customer_template_url: TemplateUrl::parse(&aws::template_url()).unwrap(),
    };
    let checks = template_check::run(&sdk, &good).await;
    assert!(checks.iter().all(|c| c.status == "ok"), "{checks:?}");

    // A template whose parameter was renamed, published next to the good one.
    let key = format!("{}.yaml", aws::unique("renamed"));
    let renamed = aws::CUSTOMER_TEMPLATE
        .replace("ExternalId:", "ExternalID:")
        .replace("!Ref ExternalId", "!Ref ExternalID");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.put_object()
        .bucket(aws::TEMPLATE_BUCKET)
        .key(&key)
        .body(renamed.into_bytes().into())
        .send()
        .await
        .unwrap();
    let bad = OnboardingConfig {
        provider_role_arn: logspoke_contract::RoleArn::parse(
            "arn:aws:iam::111111111111:role/NoSuchProviderRole",
        )
        .unwrap(),
        customer_template_url: TemplateUrl::parse(&format!(
            "{}/{}/{key}",
            aws::endpoint(),
            aws::TEMPLATE_BUCKET
        ))
        .unwrap(),
    };
    let checks = template_check::run(&sdk, &bad).await;
    assert_eq!(
        checks.iter().map(|c| c.status).collect::<Vec<_>>(),
        ["failed", "failed"],
        "{checks:?}"
    );
    assert!(checks[0].message.contains("ExternalId"), "{}", checks[0].message);
}

/// The onboarding link of `tenant` for `body`, as an operator.
/// Puts `tenant`'s S3 config (`fields` over a placeholder role and `bucket` in
/// [`REGION`]) before its stack exists, so that the link is filled from it; the path of
/// the config.
async fn s3_config_before_the_role(app: &TestApp, tenant: &str, bucket: &str, fields: Value) -> String {
    let path = format!("/v1/tenants/{tenant}/delivery-configs/s3");
    let placeholder = format!("arn:aws:iam::{CUSTOMER}:role/logspoke/to-be-created");
    let mut body = json!({"target_region": REGION, "role_arn": placeholder, "bucket_name": bucket});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let response = app.put(&path, &TestApp::operator_token(), &body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    path
}

/// Points the config at `path` to the role its stack made and verifies it: it must become
/// active.
async fn adopt_role_and_verify(app: &TestApp, path: &str, role: &logspoke_contract::RoleArn) {
    let op = TestApp::operator_token();
    let response = app.patch(path, &op, &json!({"role_arn": role.to_string()})).await;
    assert!(response.status().is_success(), "{:?}", response.text().await);
    let verified: Value = app
        .post(&format!("{path}/verify"), &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["state"], "active", "{verified:#}");
}

async fn link_for(app: &TestApp, tenant: &str, body: Value) -> Value {
    let response = app
        .post(
            &format!("/v1/tenants/{tenant}/onboarding"),
            &TestApp::operator_token(),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_stack_that_creates_its_log_group_verifies_without_a_manual_step() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let link = link_for(
        &app,
        &tenant,
        json!({"region": REGION, "create_log_group": {"retention_days": 14}}),
    )
    .await;
    let parameters = aws::link_parameters(link["quick_create_url"].as_str().unwrap());
    let group = format!("/logspoke/{tenant}");
    assert_eq!(parameters["LogGroupName"], group);
    assert_eq!(parameters["CreateLogGroup"], "true");
    assert_eq!(parameters["LogGroupRetentionDays"], "14");
    // Without a config, both types are wanted; nothing asks for a bucket to be created.
    assert!(!parameters.contains_key("CreateBucket"), "{parameters:?}");
    assert_eq!(link["parameters"]["CreateLogGroup"], "true");

    // No create_log_group call: the stack makes the group.
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws::sdk(CUSTOMER).await);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    let created = &groups.log_groups()[0];
    assert_eq!(created.log_group_name(), Some(group.as_str()));
    assert_eq!(created.retention_in_days(), Some(14));

    let path = format!("/v1/tenants/{tenant}/delivery-configs/cloudwatch");
    let body = json!({"target_region": REGION, "role_arn": role.to_string(), "log_group_name": group});
    let op = TestApp::operator_token();
    assert_eq!(app.put(&path, &op, &body).await.status(), 201);
    let verified: Value = app
        .post(&format!("{path}/verify"), &op, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["state"], "active", "{verified:#}");
}

#[tokio::test]
async fn a_stack_creates_the_bucket_the_s3_config_names() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let bucket = aws::unique("acme-logs");
    let path = s3_config_before_the_role(&app, &tenant, &bucket, json!({"bucket_prefix": "k8s"})).await;
    let link = link_for(&app, &tenant, json!({"create_bucket": {"expiration_days": 90}})).await;
    let parameters = aws::link_parameters(link["quick_create_url"].as_str().unwrap());
    let expected: BTreeMap<String, String> = [
        ("BucketName", bucket.as_str()),
        ("BucketPrefix", "k8s/"),
        ("CreateBucket", "true"),
        ("BucketExpirationDays", "90"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let targets: BTreeMap<String, String> = parameters
        .clone()
        .into_iter()
        .filter(|(k, _)| !["ExternalId", "ProviderRoleArn"].contains(&k.as_str()))
        .collect();
    assert_eq!(targets, expected);

    // The bucket does not exist before the stack; the stack's role verifies against it.
    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    adopt_role_and_verify(&app, &path, &role).await;

    // Asking for a log group too adds CloudWatch to the configured type.
    let both = link_for(
        &app,
        &tenant,
        json!({"create_log_group": {}, "create_bucket": {}}),
    )
    .await;
    let both = aws::link_parameters(both["quick_create_url"].as_str().unwrap());
    assert_eq!(both["LogGroupName"], format!("/logspoke/{tenant}"));
    assert_eq!(both["CreateLogGroup"], "true");
    assert_eq!(both["CreateBucket"], "true");
    assert!(
        !both.contains_key("LogGroupRetentionDays"),
        "the template's default applies"
    );
    assert!(
        !both.contains_key("BucketExpirationDays"),
        "the template's default applies"
    );
}

#[tokio::test]
async fn onboarding_refuses_destinations_the_stack_cannot_create() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let op = TestApp::operator_token();
    let path = "/v1/tenants/acme/onboarding";
    let field_of = |body: &Value| body["errors"][0]["field"].as_str().unwrap().to_owned();
    for (body, field) in [
        (
            json!({"region": REGION, "create_log_group": {"retention_days": 2}}),
            "create_log_group.retention_days",
        ),
        (
            json!({"region": REGION, "create_log_group": {"retention_days": -1}}),
            "create_log_group.retention_days",
        ),
        (
            json!({"region": REGION, "create_log_group": {"retention": 30}}),
            "create_log_group.retention",
        ),
        (
            json!({"region": REGION, "create_log_group": true}),
            "create_log_group",
        ),
        (
            json!({"region": REGION, "create_bucket": {"expiration_days": 36_501}}),
            "create_bucket.expiration_days",
        ),
    ] {
        let problem = problem(app.post(path, &op, &body).await, 422).await;
        assert_eq!(field_of(&problem), field, "{body}: {problem}");
    }

    // The bucket's name comes from the S3 config, and the bucket is made in the stack's
    // region: both depend on what is stored.
    let body = problem(
        app.post(path, &op, &json!({"region": REGION, "create_bucket": {}}))
            .await,
        409,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("no S3 delivery config"),
        "{body}"
    );
    let s3 = app
        .put("/v1/tenants/acme/delivery-configs/s3", &op, &s3_body())
        .await;
    assert_eq!(s3.status(), 201); // in us-east-1
    let body = problem(
        app.post(path, &op, &json!({"region": REGION, "create_bucket": {}}))
            .await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("us-east-1"), "{body}");
    let link = link_for(&app, "acme", json!({"region": "us-east-1", "create_bucket": {}})).await;
    assert_eq!(link["parameters"]["BucketName"], "acme-logs");
    assert_eq!(link["parameters"]["CreateBucket"], "true");

    // A refused request issues no ExternalId: the first link carries the one issued above.
    let audit: Value = app
        .get("/v1/tenants/acme/audit-events", &op)
        .await
        .json()
        .await
        .unwrap();
    let issued = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "tenant.external_id_issued")
        .count();
    assert_eq!(issued, 1, "{audit:#}");
}

/// An S3 config whose copies are encrypted with a customer key: the link hands the key to
/// the stack (which lets the role use it, through S3 only) for an existing bucket, and
/// `verify` writes its marker the way the worker writes copies, with that key.
#[tokio::test]
async fn an_s3_configs_kms_key_reaches_the_stack_and_verifies() {
    aws::bootstrap_provider().await;
    let app = TestApp::spawn().await;
    let tenant = aws::unique("t");
    app.create_tenant(&tenant).await;
    let bucket = aws::unique("acme-logs");
    aws::create_bucket(CUSTOMER, &bucket).await;
    let key = format!("arn:aws:kms:{REGION}:{CUSTOMER}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let fields = json!({"bucket_prefix": "k8s", "kms_key_arn": key, "storage_class": "STANDARD_IA"});
    let path = s3_config_before_the_role(&app, &tenant, &bucket, fields).await;
    let op = TestApp::operator_token();
    let link = link_for(&app, &tenant, json!({})).await;
    let parameters = aws::link_parameters(link["quick_create_url"].as_str().unwrap());
    assert_eq!(parameters["BucketKmsKeyArn"], key);
    assert!(!parameters.contains_key("CreateBucket"), "{parameters:?}");

    let role = aws::create_customer_stack(CUSTOMER, &parameters).await;
    adopt_role_and_verify(&app, &path, &role).await;

    // A stack in another region could grant the key only through S3 of its own region:
    // refused, naming the region to launch it in.
    let cloudwatch = format!("/v1/tenants/{tenant}/delivery-configs/cloudwatch");
    let body =
        json!({"target_region": "us-east-1", "role_arn": role.to_string(), "log_group_name": "/logspoke/x"});
    assert_eq!(app.put(&cloudwatch, &op, &body).await.status(), 201);
    let onboarding = format!("/v1/tenants/{tenant}/onboarding");
    let refused = problem(
        app.post(&onboarding, &op, &json!({"region": "us-east-1"})).await,
        409,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains(REGION),
        "{refused:#}"
    );
}

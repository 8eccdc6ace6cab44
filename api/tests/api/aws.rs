//! The AWS emulator (ministack, AUTH=true) as the tests use it: accounts, the provider
//! role, customer stacks created from the template as a customer's click would.
//!
//! `scripts/test` starts one emulator per run and exports `AWS_ENDPOINT_URL`. State is
//! shared by every test of the run, so every name a test creates is unique.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use logspoke_contract::RoleArn;

pub const PROVIDER: &str = "111111111111";
pub const CUSTOMER: &str = "222222222222";
pub const OTHER_CUSTOMER: &str = "333333333333";
pub const PROVIDER_ROLE: &str = "LogspokeProvider";
pub const TEMPLATE_BUCKET: &str = "logspoke-templates";
pub const TEMPLATE_KEY: &str = "customer-log-delivery-role.yaml";
pub const REGION: &str = "eu-west-1";
/// The IAM path of every customer role: the template's, and the only one Logspoke assumes.
pub const ROLE_PATH: &str = "/logspoke/";

/// The customer role template, as committed.
pub const CUSTOMER_TEMPLATE: &str = include_str!("../../../cloudformation/customer-log-delivery-role.yaml");

/// The emulator endpoint; tests that need AWS fail clearly without one.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:9".to_owned())
}

fn require_emulator() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "this test needs the AWS emulator: run scripts/test (it starts one and sets AWS_ENDPOINT_URL)"
    );
}

pub fn provider_role_arn() -> RoleArn {
    RoleArn::parse(&format!("arn:aws:iam::{PROVIDER}:role/{PROVIDER_ROLE}")).unwrap()
}

/// Path-style URL of the published template (the emulator resolves path-style URLs).
pub fn template_url() -> String {
    format!("{}/{TEMPLATE_BUCKET}/{TEMPLATE_KEY}", endpoint())
}

/// SDK configuration acting as `account` (the emulator maps the access key id to it).
pub async fn sdk(account: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(account, "test", None, None, "tests"))
        .load()
        .await
}

/// A name no other test of the run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// The provider side, idempotently: the provider role (trusting the provider account's
/// base credentials, allowed to assume roles under `/logspoke/` outside its own account,
/// as `cloudformation/provider-regional.yaml` makes it) and the published template.
pub async fn bootstrap_provider() {
    require_emulator();
    let sdk = sdk(PROVIDER).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PROVIDER}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let created = iam
        .create_role()
        .role_name(PROVIDER_ROLE)
        .assume_role_policy_document(trust)
        .send()
        .await;
    if let Err(err) = created {
        let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&err)
            .unwrap_or_default()
            .to_owned();
        assert_eq!(code, "EntityAlreadyExists", "creating the provider role: {err:?}");
    }
    // The template's policy but its ExternalId condition, which the emulator cannot
    // evaluate in an identity policy (docs/adr/0004-provider-stack.md).
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/logspoke/*"}},
            {{"Effect":"Deny","Action":"sts:*","Resource":"arn:aws:iam::{PROVIDER}:role/*"}}]}}"#
    );
    iam.put_role_policy()
        .role_name(PROVIDER_ROLE)
        .policy_name("assume-customer-roles")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
        .build();
    let s3 = s3(&sdk);
    let created = s3
        .create_bucket()
        .bucket(TEMPLATE_BUCKET)
        .create_bucket_configuration(location)
        .send()
        .await;
    if let Err(err) = created {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err)
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            code, "BucketAlreadyOwnedByYou",
            "creating the template bucket: {err:?}"
        );
    }
    s3.put_object()
        .bucket(TEMPLATE_BUCKET)
        .key(TEMPLATE_KEY)
        .body(CUSTOMER_TEMPLATE.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Creates a customer stack from the template through CloudFormation (as the customer's
/// click on the quick-create link would) and returns the role ARN it outputs.
pub async fn create_customer_stack(account: &str, parameters: &BTreeMap<String, String>) -> RoleArn {
    require_emulator();
    let sdk = sdk(account).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let stack = unique("logspoke-role");
    let mut request = cloudformation
        .create_stack()
        .stack_name(&stack)
        .template_body(CUSTOMER_TEMPLATE)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam);
    for (key, value) in parameters {
        let parameter = aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build();
        request = request.parameters(parameter);
    }
    request.send().await.unwrap();
    for _ in 0..100 {
        let described = cloudformation
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        let stack = &described.stacks()[0];
        match stack.stack_status().map(|s| s.as_str()) {
            Some("CREATE_COMPLETE") => {
                let output = stack
                    .outputs()
                    .iter()
                    .find(|o| o.output_key() == Some("RoleArn"))
                    .unwrap();
                return RoleArn::parse(output.output_value().unwrap()).unwrap();
            }
            Some(status) if status.ends_with("IN_PROGRESS") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("stack {stack:?} ended in {other:?}"),
        }
    }
    panic!("stack did not complete");
}

/// Creates a role by hand that trusts the provider role *without* an ExternalId
/// condition (the unsafe shape verification must refuse), allowed to write logs. It is
/// under `/logspoke/` like the template's roles, so that only the trust is wrong.
pub async fn create_unsafe_role(account: &str) -> RoleArn {
    let sdk = sdk(account).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let name = unique("unsafe");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        provider_role_arn()
    );
    let role = iam
        .create_role()
        .role_name(&name)
        .path(ROLE_PATH)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#;
    iam.put_role_policy()
        .role_name(&name)
        .policy_name("logs")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    RoleArn::parse(role.role().unwrap().arn()).unwrap()
}

/// S3 as the customer role `role`, assumed the way the worker does: the provider
/// account's base credentials, then the provider role, then `role` with `external_id`.
pub async fn s3_as_customer_role(role: &RoleArn, external_id: &str) -> aws_sdk_s3::Client {
    let base = sdk(PROVIDER).await;
    let assume = |sdk: SdkConfig, arn: String, external_id: Option<String>| async move {
        let credentials = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(arn)
            .role_session_name("logspoke-tests")
            .set_external_id(external_id)
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "tests",
            ))
            .load()
            .await
    };
    let provider = assume(base, provider_role_arn().to_string(), None).await;
    let customer = assume(provider, role.to_string(), Some(external_id.to_owned())).await;
    s3(&customer)
}

/// The error code of a failed S3 call, or "ok".
pub fn s3_outcome<T, E: aws_sdk_s3::error::ProvideErrorMetadata>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => err.code().unwrap_or("unknown").to_owned(),
    }
}

/// Creates a log group in `account` (ignoring one that exists).
pub async fn create_log_group(account: &str, name: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk(account).await);
    let _ = logs.create_log_group().log_group_name(name).send().await;
}

/// Creates a bucket in `account`.
pub async fn create_bucket(account: &str, name: &str) {
    let sdk = sdk(account).await;
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
        .build();
    s3(&sdk)
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(location)
        .send()
        .await
        .unwrap();
}

/// The messages of a log stream in `account`.
pub async fn log_messages(account: &str, group: &str, stream: &str) -> Vec<String> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk(account).await);
    let events = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .unwrap();
    events
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect()
}

/// The `param_` values of a quick-create link, percent-decoded.
pub fn link_parameters(url: &str) -> BTreeMap<String, String> {
    let (_, query) = url
        .split_once("#/stacks/quickcreate?")
        .expect("a quick-create link");
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| k.strip_prefix("param_").map(|k| (k.to_owned(), v)))
        .map(|(k, v)| {
            (
                k,
                percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

//! The AWS emulator (ministack, AUTH=true) as the api tests use it: what both test
//! binaries need comes from `logspoke-test-support` (accounts, the provider role, customer
//! stacks launched from the template); here are the api's own additions (the published
//! template, the unsafe role, the customer's view through its role, quick-create links).
//!
//! `scripts/test` starts one emulator per run and exports `AWS_ENDPOINT_URL`. State is
//! shared by every test of the run, so every name a test creates is unique.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use logspoke_contract::{Region, RoleArn};
pub use logspoke_test_support::{
    endpoint, provider_role_arn, sdk, unique, CUSTOMER, CUSTOMER_TEMPLATE, OTHER_CUSTOMER, PROVIDER, REGION,
    ROLE_PATH,
};
use logspoke_test_support::{ensure_bucket, ensure_provider_role, require_emulator, s3};

pub const TEMPLATE_BUCKET: &str = "logspoke-templates";
pub const TEMPLATE_KEY: &str = "customer-log-delivery-role.yaml";

/// The emulator's region (`REGION`): the api's own in the tests.
pub fn home_region() -> Region {
    Region::parse(REGION).unwrap()
}

/// Path-style URL of the published template (the emulator resolves path-style URLs).
pub fn template_url() -> String {
    format!("{}/{TEMPLATE_BUCKET}/{TEMPLATE_KEY}", endpoint())
}

/// The provider side, idempotently: the provider role and the published template.
pub async fn bootstrap_provider() {
    require_emulator();
    let sdk = sdk(PROVIDER).await;
    ensure_provider_role(&sdk).await;
    ensure_bucket(&sdk, TEMPLATE_BUCKET).await;
    s3(&sdk)
        .put_object()
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
    logspoke_test_support::launch_customer_stack(&sdk(account).await, parameters.clone()).await
}

/// [`create_customer_stack`], returning every output of the stack by name.
pub async fn create_customer_stack_outputs(
    account: &str,
    parameters: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    logspoke_test_support::launch_customer_stack_outputs(&sdk(account).await, parameters.clone()).await
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
        logspoke_test_support::sdk_with(Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            None,
            "tests",
        ))
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
    logspoke_test_support::create_bucket(&sdk(account).await, name).await;
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

//! Buckets, read-model and delivery-ledger tables, created the way the production stacks
//! create them.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use logspoke_contract::replay::{OPEN_JOBS_ATTRIBUTE, OPEN_JOBS_INDEX};

use crate::REGION;

/// An S3 client for `sdk`, path-style: the emulator has no per-bucket host names.
pub fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn try_create_bucket(
    sdk: &SdkConfig,
    name: &str,
) -> Result<(), aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::create_bucket::CreateBucketError>> {
    let location = CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::from(REGION))
        .build();
    s3(sdk)
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(location)
        .send()
        .await
        .map(|_| ())
}

/// Creates bucket `name` in [`REGION`] in the account of `sdk`.
pub async fn create_bucket(sdk: &SdkConfig, name: &str) {
    try_create_bucket(sdk, name).await.unwrap();
}

/// Creates bucket `name` unless the account of `sdk` already owns it (shared buckets,
/// such as the published template's, that every test may be the first to need).
pub async fn ensure_bucket(sdk: &SdkConfig, name: &str) {
    if let Err(err) = try_create_bucket(sdk, name).await {
        let code = err.code().unwrap_or_default().to_owned();
        assert_eq!(code, "BucketAlreadyOwnedByYou", "creating bucket {name}: {err:?}");
    }
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

/// Creates a read-model table as the provider stack does: key (`tenant_id`, `type`),
/// both strings, billed per request.
pub async fn create_read_model_table(sdk: &SdkConfig, table: &str) {
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(table)
        .attribute_definitions(string_attribute("tenant_id"))
        .attribute_definitions(string_attribute("type"))
        .key_schema(key("tenant_id", KeyType::Hash))
        .key_schema(key("type", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

/// Creates a delivery-ledger table as the provider stack does: key (`pk`, `sk`), both
/// strings, billed per request, with the index of open replay jobs; a table `name` that
/// exists already is left as it is. Its
/// TTL on `expires_at` stays off (the emulator does not apply the stack's either), so no
/// test item expires behind a test's back.
pub async fn create_ledger_table(sdk: &SdkConfig, name: &str) {
    let created = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .attribute_definitions(string_attribute("pk"))
        .attribute_definitions(string_attribute("sk"))
        .attribute_definitions(string_attribute(OPEN_JOBS_ATTRIBUTE))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(OPEN_JOBS_INDEX)
                .key_schema(key(OPEN_JOBS_ATTRIBUTE, KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(err) = created {
        let code = err.code().unwrap_or_default().to_owned();
        assert_eq!(code, "ResourceInUseException", "creating table {name}: {err:?}");
    }
}

/// One long poll (1 s) of up to ten messages from `queue_url`; they stay invisible for the
/// queue's visibility timeout unless deleted.
pub async fn receive_messages(sdk: &SdkConfig, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

//! Reading the DynamoDB read model: the whole table (at start and on resync) or one item
//! (when a change event names it).

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use logspoke_aws::read_model::item_from_sdk;
use logspoke_aws::AwsError;
use logspoke_contract::{ConfigItem, DeliveryType, TenantId};

use super::TenantConfigs;

/// What the worker needs of the read model.
pub trait ReadModel: Send + Sync {
    /// Every item in the table.
    fn scan(&self) -> impl Future<Output = Result<Vec<ConfigItem>, AwsError>> + Send;

    /// One item, read consistently.
    fn get(
        &self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
    ) -> impl Future<Output = Result<Option<ConfigItem>, AwsError>> + Send;
}

/// The DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoReadModel {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoReadModel {
    /// Reads `table` with the worker's own credentials.
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.to_owned(),
        }
    }
}

impl ReadModel for DynamoReadModel {
    async fn scan(&self) -> Result<Vec<ConfigItem>, AwsError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(page.items().iter().filter_map(parse_logged));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn get(
        &self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
    ) -> Result<Option<ConfigItem>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("tenant_id", AttributeValue::S(tenant_id.to_string()))
            .key("type", AttributeValue::S(delivery_type.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item().and_then(parse_logged))
    }
}

/// Parses an item; one the worker cannot read is logged and counted, never fatal.
fn parse_logged(raw: &std::collections::HashMap<String, AttributeValue>) -> Option<ConfigItem> {
    match item_from_sdk(raw) {
        Ok(item) => Some(item),
        Err(err) => {
            let tenant_id = match raw.get("tenant_id") {
                Some(AttributeValue::S(t)) => t.as_str(),
                _ => "?",
            };
            tracing::error!(tenant_id, error = %err, "skipping a read-model item the worker cannot parse");
            metrics::counter!("logspoke_worker_invalid_config_items_total").increment(1);
            None
        }
    }
}

/// Loads the whole table into `configs`; returns how many items were newer than held.
pub async fn resync<R: ReadModel>(source: &R, configs: &TenantConfigs) -> Result<usize, AwsError> {
    let items = source.scan().await?;
    let total = items.len();
    let applied = items
        .into_iter()
        .map(|item| configs.apply(item))
        .filter(|&new| new)
        .count();
    tracing::info!(items = total, applied, "read model loaded");
    metrics::gauge!("logspoke_worker_config_items").set(configs.len() as f64);
    Ok(applied)
}

//! Reading the DynamoDB read model: the whole table (at start and on resync), one tenant
//! (the Lambda function's refresh on use) or one item (when a change event names it).

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use logspoke_aws::read_model::item_from_sdk;
use logspoke_aws::AwsError;
use logspoke_contract::{ConfigItem, DeliveryType, TenantId};

use super::TenantConfigs;

/// A read-model item that could not be parsed, with what could be read of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableItem {
    /// The tenant, when the `tenant_id` attribute itself is valid.
    pub tenant_id: Option<TenantId>,
    /// The type, when the `type` attribute is valid.
    pub delivery_type: Option<DeliveryType>,
}

/// One item as read: parsed, or unreadable (kept, so its tenant is not taken for unknown).
pub type Loaded = Result<ConfigItem, UnreadableItem>;

/// What the worker needs of the read model.
pub trait ReadModel: Send + Sync {
    /// Every item in the table.
    fn scan(&self) -> impl Future<Output = Result<Vec<Loaded>, AwsError>> + Send;

    /// Every item of one tenant, read consistently (one query: a tenant has at most one
    /// item per delivery type).
    fn tenant(&self, tenant_id: &TenantId) -> impl Future<Output = Result<Vec<Loaded>, AwsError>> + Send;

    /// One item, read consistently.
    fn get(
        &self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
    ) -> impl Future<Output = Result<Option<Loaded>, AwsError>> + Send;
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
    async fn scan(&self) -> Result<Vec<Loaded>, AwsError> {
        all_pages(|start| async move {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await
    }

    async fn tenant(&self, tenant_id: &TenantId) -> Result<Vec<Loaded>, AwsError> {
        all_pages(|start| async move {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("tenant_id = :tenant")
                .expression_attribute_values(":tenant", AttributeValue::S(tenant_id.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
        })
        .await
    }

    async fn get(
        &self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
    ) -> Result<Option<Loaded>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("tenant_id", AttributeValue::S(tenant_id.to_string()))
            .key("type", AttributeValue::S(delivery_type.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item().map(parse_logged))
    }
}

/// A raw DynamoDB item (or page key).
type RawItem = std::collections::HashMap<String, AttributeValue>;

/// Every item of a paged read, parsed; `page` reads the page starting after a key.
async fn all_pages<F, Fut>(mut page: F) -> Result<Vec<Loaded>, AwsError>
where
    F: FnMut(Option<RawItem>) -> Fut,
    Fut: Future<Output = Result<(Vec<RawItem>, Option<RawItem>), AwsError>>,
{
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let (found, next) = page(start).await?;
        items.extend(found.iter().map(parse_logged));
        start = next;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Parses an item; one the worker cannot read is logged and counted, never fatal.
fn parse_logged(raw: &RawItem) -> Loaded {
    item_from_sdk(raw).map_err(|err| {
        let text = |name: &str| match raw.get(name) {
            Some(AttributeValue::S(value)) => Some(value.as_str()),
            _ => None,
        };
        let unreadable = UnreadableItem {
            tenant_id: text("tenant_id").and_then(|t| TenantId::parse(t).ok()),
            delivery_type: text("type").and_then(|t| DeliveryType::parse(t).ok()),
        };
        tracing::error!(
            tenant_id = text("tenant_id").unwrap_or("?"),
            delivery_type = text("type").unwrap_or("?"),
            error = %err,
            "a read-model item cannot be parsed; the tenant's objects are held until it is fixed"
        );
        metrics::counter!("logspoke_worker_invalid_config_items_total").increment(1);
        unreadable
    })
}

/// Applies one loaded item (from a resync or a change event); returns whether it changed
/// what is held. It also sets `logspoke_worker_config_items`, so the gauge follows every
/// change, not only the periodic resync.
pub fn apply_loaded(configs: &TenantConfigs, loaded: Loaded) -> bool {
    let changed = match loaded {
        Ok(item) => configs.apply(item),
        Err(UnreadableItem {
            tenant_id: Some(tenant_id),
            delivery_type,
        }) => {
            configs.mark_unreadable(&tenant_id, delivery_type);
            true
        }
        // No tenant to hold: logged and counted by the parser, nothing else to do.
        Err(UnreadableItem { tenant_id: None, .. }) => false,
    };
    metrics::gauge!("logspoke_worker_config_items").set(configs.len() as f64);
    changed
}

/// Loads the whole table into `configs`; returns how many items were newer than held.
pub async fn resync<R: ReadModel>(source: &R, configs: &TenantConfigs) -> Result<usize, AwsError> {
    let items = source.scan().await?;
    let total = items.len();
    let applied = items
        .into_iter()
        .map(|item| apply_loaded(configs, item))
        .filter(|&new| new)
        .count();
    tracing::info!(items = total, applied, "read model loaded");
    Ok(applied)
}

//! [`HealthStore`] over the ledger table, with the api's own credentials. Items are
//! converted with `logspoke_aws::read_model` and parsed with the `contract` types, so the
//! api reads exactly what the workers write. In the multi-item reads a corrupt item is
//! logged and left out (one bad item must not hide every target's health); the
//! single-item read reports it.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use logspoke_aws::read_model::{attributes_from_sdk, item_to_sdk};
use logspoke_contract::ledger::{
    counter_sort_key, key, CounterBucket, HealthItem, ParkedObject, Target, HEALTH_PARTITION, PARKED_PREFIX,
};
use logspoke_contract::replay::ReplayJob;

use super::{HealthError, HealthPage, HealthStore, PageQuery, Prefilter};
use crate::aws::error::{AwsError, AwsErrorKind};

/// Keys per BatchGetItem (DynamoDB's limit).
const BATCH_GET_KEYS: usize = 100;
/// Rounds of BatchGetItem for keys DynamoDB left unprocessed (throttling) before giving up.
const BATCH_GET_ROUNDS: u32 = 3;

type Item = HashMap<String, AttributeValue>;

/// The ledger table, read-only.
#[derive(Debug, Clone)]
pub struct DynamoHealthStore {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoHealthStore {
    /// Reads `table` with the SDK settings `sdk` (the api's own credentials).
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: table.to_owned(),
        }
    }
}

fn parse_health(raw: &Item) -> Result<HealthItem, HealthError> {
    attributes_from_sdk(raw)
        .and_then(|attrs| HealthItem::from_attributes(&attrs))
        .map_err(|e| HealthError::Corrupt(format!("health item {}: {e}", sort_key(raw).unwrap_or("?"))))
}

fn parse_bucket(raw: &Item) -> Result<CounterBucket, HealthError> {
    attributes_from_sdk(raw)
        .and_then(|attrs| CounterBucket::from_attributes(&attrs))
        .map_err(|e| HealthError::Corrupt(format!("counter bucket {}: {e}", sort_key(raw).unwrap_or("?"))))
}

fn parse_job(raw: &Item) -> Result<ReplayJob, HealthError> {
    attributes_from_sdk(raw)
        .and_then(|attrs| ReplayJob::from_attributes(&attrs))
        .map_err(|e| HealthError::Corrupt(format!("replay job {}: {e}", sort_key(raw).unwrap_or("?"))))
}

fn sort_key(raw: &Item) -> Option<&str> {
    raw.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The items that parse; the others are logged and skipped.
fn parsed<T>(raw: &[Item], parse: impl Fn(&Item) -> Result<T, HealthError>) -> Vec<T> {
    raw.iter()
        .filter_map(|item| {
            parse(item)
                .map_err(
                    |err| tracing::warn!(error = %err, "skipping a delivery ledger item that does not parse"),
                )
                .ok()
        })
        .collect()
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn request_error(err: impl std::fmt::Display) -> HealthError {
    HealthError::Aws(AwsError {
        code: None,
        message: Some(err.to_string()),
        status: None,
        kind: AwsErrorKind::Other,
    })
}

impl DynamoHealthStore {
    /// One BatchGetItem of at most [`BATCH_GET_KEYS`] keys, again for what DynamoDB left
    /// unprocessed.
    async fn batch_get(&self, mut keys: Vec<Item>) -> Result<Vec<Item>, HealthError> {
        let mut found = Vec::new();
        for round in 0..BATCH_GET_ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(20 << round)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(request_error)?;
            let answer = self
                .dynamodb
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(AwsError::from)?;
            found.extend(
                answer
                    .responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default(),
            );
            keys = answer
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
                .map(|left| left.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                return Ok(found);
            }
        }
        Err(HealthError::Aws(AwsError::service(
            "ProvisionedThroughputExceededException",
            400,
            "BatchGetItem left keys unprocessed",
        )))
    }
}

impl HealthStore for DynamoHealthStore {
    async fn health(&self, target: &Target) -> Result<Option<HealthItem>, HealthError> {
        let answer = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_to_sdk(&target.health_key())))
            .send()
            .await
            .map_err(AwsError::from)?;
        answer.item.as_ref().map(parse_health).transpose()
    }

    async fn health_of(&self, targets: &[Target]) -> Result<Vec<HealthItem>, HealthError> {
        let mut items = Vec::new();
        for chunk in targets.chunks(BATCH_GET_KEYS) {
            let keys = chunk.iter().map(|t| item_to_sdk(&t.health_key())).collect();
            items.extend(parsed(&self.batch_get(keys).await?, parse_health));
        }
        Ok(items)
    }

    async fn counter_buckets(
        &self,
        target: &Target,
        from_s: i64,
        to_s: i64,
    ) -> Result<Vec<CounterBucket>, HealthError> {
        let mut buckets = Vec::new();
        let mut start: Option<Item> = None;
        // A day is 289 small buckets, well within one page; the loop is for safety.
        loop {
            let answer = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":p", s(target.partition()))
                .expression_attribute_values(":from", s(counter_sort_key(from_s)))
                .expression_attribute_values(":to", s(counter_sort_key(to_s)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(AwsError::from)?;
            buckets.extend(parsed(answer.items(), parse_bucket));
            start = answer.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(buckets);
            }
        }
    }

    async fn health_page(&self, query: &PageQuery) -> Result<HealthPage, HealthError> {
        let start = query
            .after
            .as_ref()
            .map(|sk| item_to_sdk(&key(HEALTH_PARTITION.to_owned(), sk.clone())));
        let mut request = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(HEALTH_PARTITION))
            .limit(query.limit)
            .set_exclusive_start_key(start);
        if let Some(Prefilter::MightBeFailing) = query.prefilter {
            request = request
                .filter_expression("parked_objects > :zero OR consecutive_failures > :zero")
                .expression_attribute_values(":zero", AttributeValue::N("0".into()));
        }
        let answer = request.send().await.map_err(AwsError::from)?;
        Ok(HealthPage {
            items: parsed(answer.items(), parse_health),
            last_evaluated: answer
                .last_evaluated_key
                .as_ref()
                .and_then(sort_key)
                .map(str::to_owned),
        })
    }

    async fn oldest_parked(&self, target: &Target) -> Result<Option<i64>, HealthError> {
        let answer = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :parked)")
            .expression_attribute_values(":p", s(target.partition()))
            .expression_attribute_values(":parked", s(PARKED_PREFIX))
            .projection_expression("sk")
            .limit(1)
            .send()
            .await
            .map_err(AwsError::from)?;
        Ok(answer
            .items()
            .first()
            .and_then(sort_key)
            .and_then(ParkedObject::staged_ms_of))
    }

    async fn replay_jobs(&self, ids: &[String]) -> Result<Vec<ReplayJob>, HealthError> {
        let mut jobs = Vec::new();
        for chunk in ids.chunks(BATCH_GET_KEYS) {
            let keys = chunk
                .iter()
                .map(|id| item_to_sdk(&ReplayJob::key_of(id)))
                .collect();
            jobs.extend(parsed(&self.batch_get(keys).await?, parse_job));
        }
        Ok(jobs)
    }
}

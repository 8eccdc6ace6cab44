//! The ledger in DynamoDB (`LOGSPOKE_LEDGER_TABLE`), written with conditions so that
//! replicas racing on the same object or target never undo each other's work.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use logspoke_aws::error::unless_condition_failed;
use logspoke_aws::read_model::{attributes_from_sdk, item_to_sdk};
use logspoke_aws::AwsError;
use logspoke_contract::ledger::{
    counter_sort_key, key, Counters, HealthItem, ObjectRecord, ObjectState, ParkedObject, Target,
    HEALTH_PARTITION, LEDGER_SCHEMA_VERSION, PARKED_PREFIX,
};
use logspoke_contract::Attributes;

use super::{HealthReport, Ledger, TargetLedger};

/// Counter buckets are kept this long (the api reports the last day).
const COUNTER_TTL_SECONDS: i64 = 2 * 24 * 3600;

/// The ledger table.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    /// The ledger in `table`, with the worker's own credentials.
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.to_owned(),
        }
    }
}

/// A string attribute value.
pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute value.
pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn sdk_key(key: &Attributes) -> HashMap<String, AttributeValue> {
    item_to_sdk(key)
}

fn parse<T>(
    raw: &HashMap<String, AttributeValue>,
    read: impl Fn(&Attributes) -> Result<T, logspoke_contract::ParseError>,
) -> Option<T> {
    match attributes_from_sdk(raw).and_then(|attributes| read(&attributes)) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::warn!(error = %err, "skipping a ledger item that cannot be parsed");
            None
        }
    }
}

impl DynamoLedger {
    async fn batch_get(
        &self,
        keys: Vec<HashMap<String, AttributeValue>>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
        let mut found = Vec::new();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::service("Validation", 400, &e.to_string()))?,
        );
        for _ in 0..4 {
            let Some(request) = pending.take() else { break };
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(AwsError::from);
            crate::telemetry::aws_call("BatchGetItem", &output);
            let mut output = output?;
            if let Some(mut responses) = output.responses.take() {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .take()
                .and_then(|mut left| left.remove(&self.table))
                .filter(|left| !left.keys().is_empty());
        }
        match pending {
            None => Ok(found),
            Some(_) => Err(AwsError::service(
                "ProvisionedThroughputExceededException",
                503,
                "BatchGetItem left keys unprocessed",
            )),
        }
    }

    /// Adds `delta` to the target's parked count (setting `cause` if it has none); returns
    /// the new count.
    async fn add_parked(&self, target: &Target, delta: i64, cause: Option<&str>) -> Result<i64, AwsError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&target.health_key())))
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":tenant", s(target.tenant_id.as_str()))
            .expression_attribute_values(":type", s(target.delivery_type.as_str()))
            .expression_attribute_values(":v", n(LEDGER_SCHEMA_VERSION));
        let mut expression =
            "SET tenant_id = :tenant, #type = :type, schema_version = :v ADD parked_objects :d".to_owned();
        if let Some(cause) = cause {
            expression = "SET tenant_id = :tenant, #type = :type, schema_version = :v, \
                          parked_cause = if_not_exists(parked_cause, :c) ADD parked_objects :d"
                .to_owned();
            update = update.expression_attribute_values(":c", s(cause));
        }
        let result = update
            .update_expression(expression)
            .expression_attribute_names("#type", "type")
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("UpdateItem", &result);
        let count = result?
            .attributes()
            .and_then(|new| new.get("parked_objects"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(count)
    }

    /// Removes the target's `parked_cause` once nothing is parked for it (a conditional
    /// update: a park in between keeps it), so the next object parked for a new reason
    /// names that reason, not one of a backlog long drained.
    async fn forget_cause_once_empty(&self, target: &Target) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&target.health_key())))
            .update_expression("REMOVE parked_cause")
            .condition_expression("attribute_exists(parked_cause) AND parked_objects <= :zero")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        crate::telemetry::aws_call("UpdateItem", &result);
        unless_condition_failed(result)
    }
}

impl Ledger for DynamoLedger {
    async fn lookup(&self, object_key: &str, targets: &[Target]) -> Result<Vec<TargetLedger>, AwsError> {
        let keys = targets
            .iter()
            .flat_map(|t| [sdk_key(&t.record_key(object_key)), sdk_key(&t.health_key())])
            .collect();
        let items = self.batch_get(keys).await?;
        let mut answer: Vec<TargetLedger> = vec![TargetLedger::default(); targets.len()];
        for raw in &items {
            let Some(AttributeValue::S(pk)) = raw.get("pk") else {
                continue;
            };
            if pk == HEALTH_PARTITION {
                let Some(health) = parse(raw, HealthItem::from_attributes) else {
                    continue;
                };
                if let Some(i) = targets.iter().position(|t| *t == health.target) {
                    answer[i].parked_objects = health.parked_objects;
                    answer[i].parked_cause = health.parked_cause;
                }
            } else if let Some(record) = parse(raw, ObjectRecord::from_attributes) {
                if let Some(i) = targets.iter().position(|t| *t == record.target) {
                    answer[i].record = Some(record);
                }
            }
        }
        Ok(answer)
    }

    async fn record(&self, record: &ObjectRecord) -> Result<bool, AwsError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(&record.to_attributes())))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":delivered", s("delivered"))
            .expression_attribute_values(":rejected", s("rejected"));
        put = match &record.state {
            // Progress only moves forward, and only under the same config version.
            ObjectState::InProgress { batches, .. } => put
                .condition_expression(
                    "attribute_not_exists(sk) OR (NOT #status IN (:delivered, :rejected) \
                     AND (attribute_not_exists(batches) OR batches < :b OR config_version <> :cv))",
                )
                .expression_attribute_values(":b", n(batches))
                .expression_attribute_values(":cv", n(record.config_version)),
            _ => {
                put.condition_expression("attribute_not_exists(sk) OR NOT #status IN (:delivered, :rejected)")
            }
        };
        let result = put.send().await.map(|_| ()).map_err(AwsError::from);
        crate::telemetry::aws_call("PutItem", &result);
        match result {
            Ok(()) => Ok(true),
            Err(err) if err.is_condition_failed() => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn park(&self, object: &ParkedObject, config_version: i64) -> Result<(), AwsError> {
        let entry = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(&object.to_attributes())))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        match entry {
            Ok(()) => {
                self.add_parked(&object.target, 1, Some(object.cause.as_str()))
                    .await?;
            }
            // Parked already (a redelivered message): counted once.
            Err(err) if err.is_condition_failed() => return Ok(()),
            Err(err) => return Err(err),
        }
        let pending = ObjectRecord {
            target: object.target.clone(),
            object_key: object.object_key.clone(),
            config_version,
            state: ObjectState::Pending { cause: object.cause },
            updated_at_ms: object.parked_at_ms,
            expires_at: object.expires_at,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(&pending.to_attributes())))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        unless_condition_failed(result)
    }

    async fn parked(&self, target: &Target, limit: usize) -> Result<Vec<ParkedObject>, AwsError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&target.partition()))
            .expression_attribute_values(":prefix", s(PARKED_PREFIX))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("Query", &output);
        Ok(output?
            .items()
            .iter()
            .filter_map(|raw| parse(raw, ParkedObject::from_attributes))
            .collect())
    }

    async fn unpark(&self, object: &ParkedObject) -> Result<(), AwsError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&object.key())))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("DeleteItem", &output);
        if output?.attributes().is_some_and(|old| !old.is_empty())
            && self.add_parked(&object.target, -1, None).await? <= 0
        {
            // The object is unparked either way: a cause left behind names an empty
            // backlog until the next park, which is no reason to retry the object.
            if let Err(err) = self.forget_cause_once_empty(&object.target).await {
                tracing::warn!(target = %object.target, error = %err, "cannot clear the parked cause of a drained target");
            }
        }
        Ok(())
    }

    async fn parked_targets(&self) -> Result<Vec<HealthItem>, AwsError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("parked_objects > :zero")
                .expression_attribute_values(":pk", s(HEALTH_PARTITION))
                .expression_attribute_values(":zero", n(0))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(AwsError::from);
            crate::telemetry::aws_call("Query", &output);
            let output = output?;
            items.extend(
                output
                    .items()
                    .iter()
                    .filter_map(|raw| parse(raw, HealthItem::from_attributes)),
            );
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn lease(
        &self,
        target: &Target,
        owner: &str,
        version: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&target.health_key())))
            .update_expression("SET drain_owner = :me, drain_until_ms = :until, drain_version = :version")
            .condition_expression(
                "attribute_not_exists(drain_until_ms) OR drain_until_ms < :now OR drain_owner = :me \
                 OR drain_version < :version",
            )
            .expression_attribute_values(":version", n(version))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        match result {
            Ok(()) => Ok(true),
            Err(err) if err.is_condition_failed() => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn report(&self, report: &HealthReport) -> Result<(), AwsError> {
        for (start, counters) in &report.counters {
            self.add_counters(&report.target, *start, counters).await?;
        }
        // The later of the two is written last: a failure after the last delivery leaves
        // the failures counted, a delivery after the last failure resets them.
        let failure_last = match (&report.delivered, &report.failed) {
            (Some(d), Some((e, _))) => e.at_ms >= d.at_ms,
            _ => true,
        };
        if !failure_last {
            self.report_failure(report).await?;
        }
        if let Some(delivered) = &report.delivered {
            self.report_delivery(&report.target, delivered).await?;
        }
        if failure_last {
            self.report_failure(report).await?;
        }
        Ok(())
    }
}

impl DynamoLedger {
    async fn add_counters(&self, target: &Target, start_s: i64, counters: &Counters) -> Result<(), AwsError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&key(target.partition(), counter_sort_key(start_s)))))
            .expression_attribute_values(":ttl", n(start_s + COUNTER_TTL_SECONDS))
            .expression_attribute_values(":v", n(LEDGER_SCHEMA_VERSION));
        let mut adds = Vec::new();
        for (name, value) in Counters::NAMES.iter().zip(counters.values()) {
            if value > 0 {
                adds.push(format!("{name} :{name}"));
                update = update.expression_attribute_values(format!(":{name}"), n(value));
            }
        }
        if adds.is_empty() {
            return Ok(());
        }
        let result = update
            .update_expression(format!(
                "SET expires_at = :ttl, schema_version = :v ADD {}",
                adds.join(", ")
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        crate::telemetry::aws_call("UpdateItem", &result);
        result
    }

    async fn report_delivery(
        &self,
        target: &Target,
        delivered: &super::LastDelivery,
    ) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&target.health_key())))
            .update_expression(
                "SET tenant_id = :tenant, #type = :type, schema_version = :v, last_delivered_at_ms = :at, \
                 last_event_time_ms = :event, lag_seconds = :lag, consecutive_failures = :zero",
            )
            .condition_expression("attribute_not_exists(last_delivered_at_ms) OR last_delivered_at_ms < :at")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":tenant", s(target.tenant_id.as_str()))
            .expression_attribute_values(":type", s(target.delivery_type.as_str()))
            .expression_attribute_values(":v", n(LEDGER_SCHEMA_VERSION))
            .expression_attribute_values(":at", n(delivered.at_ms))
            .expression_attribute_values(":event", n(delivered.event_time_ms))
            .expression_attribute_values(":lag", n(format!("{:.3}", delivered.lag_seconds.max(0.0))))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        unless_condition_failed(result)
    }

    async fn report_failure(&self, report: &HealthReport) -> Result<(), AwsError> {
        let Some((error, count)) = &report.failed else {
            return Ok(());
        };
        let target = &report.target;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sdk_key(&target.health_key())))
            .update_expression(
                "SET tenant_id = :tenant, #type = :type, schema_version = :v, last_error_cause = :cause, \
                 last_error_message = :message, last_error_at_ms = :at ADD consecutive_failures :count",
            )
            .condition_expression("attribute_not_exists(last_error_at_ms) OR last_error_at_ms < :at")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":tenant", s(target.tenant_id.as_str()))
            .expression_attribute_values(":type", s(target.delivery_type.as_str()))
            .expression_attribute_values(":v", n(LEDGER_SCHEMA_VERSION))
            .expression_attribute_values(":cause", s(error.cause.as_str()))
            .expression_attribute_values(":message", s(&error.message))
            .expression_attribute_values(":at", n(error.at_ms))
            .expression_attribute_values(":count", n(count))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from);
        unless_condition_failed(result)
    }
}

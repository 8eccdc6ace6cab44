//! Replay jobs in the ledger table and the staging bucket's listing, for real.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use logspoke_aws::read_model::{attributes_from_sdk, item_to_sdk, to_sdk};
use logspoke_aws::AwsError;
use logspoke_contract::replay::{
    ReplayJob, ReplayProgress, ENDED_JOB_TTL_SECONDS, OPEN_JOBS_ATTRIBUTE, OPEN_JOBS_INDEX, REPLAY_PARTITION,
};

use super::{Control, Jobs, Page, Staging, LEASE};
use crate::clock::now_ms;
use crate::ledger::dynamo::{n, s};

/// The job items of the ledger table.
#[derive(Debug, Clone)]
pub struct DynamoJobs {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// Whether this process has looked through the whole partition once: jobs published
    /// before the open-jobs index existed are found there (and indexed when taken).
    looked_everywhere: Arc<AtomicBool>,
}

impl DynamoJobs {
    /// The jobs in `table`, with the worker's own credentials.
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.to_owned(),
            looked_everywhere: Arc::default(),
        }
    }

    /// The query of open jobs: the sparse index (eventually consistent: a new job shows
    /// within about a second), or once per process the whole partition.
    fn open_jobs_query(&self) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self.client.query().table_name(&self.table);
        if self.looked_everywhere.swap(true, Ordering::Relaxed) {
            query
                .index_name(OPEN_JOBS_INDEX)
                .key_condition_expression("#open = :pk")
                .expression_attribute_names("#open", OPEN_JOBS_ATTRIBUTE)
        } else {
            query.key_condition_expression("pk = :pk").consistent_read(true)
        }
    }
}

fn final_states(values: &mut HashMap<String, AttributeValue>) {
    values.insert(":done".into(), s("done"));
    values.insert(":failed".into(), s("failed"));
    values.insert(":cancelled".into(), s("cancelled"));
}

impl Jobs for DynamoJobs {
    async fn open(&self) -> Result<Vec<ReplayJob>, AwsError> {
        let mut jobs = Vec::new();
        let mut start = None;
        let mut values = HashMap::from([(":pk".to_owned(), s(REPLAY_PARTITION))]);
        final_states(&mut values);
        let query = self.open_jobs_query();
        loop {
            let output = query
                .clone()
                .filter_expression(
                    "attribute_not_exists(#state) OR NOT #state IN (:done, :failed, :cancelled)",
                )
                .expression_attribute_names("#state", "state")
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(AwsError::from);
            crate::telemetry::aws_call("Query", &output);
            let output = output?;
            for raw in output.items() {
                match attributes_from_sdk(raw).and_then(|a| ReplayJob::from_attributes(&a)) {
                    Ok(job) => jobs.push(job),
                    Err(err) => tracing::warn!(error = %err, "skipping a replay job that cannot be parsed"),
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                jobs.sort_by_key(|j| j.requested_at_ms);
                return Ok(jobs);
            }
        }
    }

    async fn take(&self, job: &ReplayJob, owner: &str) -> Result<Option<ReplayJob>, AwsError> {
        let now = now_ms();
        let mut values = HashMap::from([
            (":me".to_owned(), s(owner)),
            (":now".to_owned(), n(now)),
            (":until".to_owned(), n(now + LEASE.as_millis() as i64)),
            (":partition".to_owned(), s(REPLAY_PARTITION)),
        ]);
        final_states(&mut values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_to_sdk(&ReplayJob::key_of(&job.replay_id))))
            // Indexed as open also when it was published before the index existed.
            .update_expression(format!(
                "SET #owner = :me, lease_until_ms = :until, {OPEN_JOBS_ATTRIBUTE} = :partition"
            ))
            .condition_expression(
                "attribute_exists(sk) AND (attribute_not_exists(lease_until_ms) OR lease_until_ms < :now \
                 OR #owner = :me) AND (attribute_not_exists(#state) OR NOT #state IN (:done, :failed, :cancelled))",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("UpdateItem", &result);
        match result {
            Ok(output) => {
                let current = output
                    .attributes
                    .as_ref()
                    .and_then(|raw| attributes_from_sdk(raw).ok())
                    .and_then(|attributes| ReplayJob::from_attributes(&attributes).ok());
                // The lease is held either way; a job that no longer parses runs as listed.
                Ok(Some(current.unwrap_or_else(|| job.clone())))
            }
            Err(err) if err.is_condition_failed() => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn progress(
        &self,
        job: &ReplayJob,
        owner: &str,
        progress: &ReplayProgress,
    ) -> Result<Control, AwsError> {
        let now = now_ms();
        let mut names = HashMap::from([("#owner".to_owned(), "owner".to_owned())]);
        let mut values = HashMap::from([
            (":me".to_owned(), s(owner)),
            (":until".to_owned(), n(now + LEASE.as_millis() as i64)),
        ]);
        let mut sets = vec!["lease_until_ms = :until".to_owned()];
        for (name, value) in progress.attributes() {
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(format!(":{name}"), to_sdk(&value));
            sets.push(format!("#{name} = :{name}"));
        }
        let mut expression = String::new();
        if progress.state.is_final() {
            values.insert(":ttl".into(), n(now / 1000 + ENDED_JOB_TTL_SECONDS));
            sets.push("expires_at = :ttl".into());
            expression = format!(" REMOVE {OPEN_JOBS_ATTRIBUTE}");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_to_sdk(&ReplayJob::key_of(&job.replay_id))))
            .update_expression(format!("SET {}{expression}", sets.join(", ")))
            .condition_expression("#owner = :me")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("UpdateItem", &result);
        match result {
            Ok(output) => {
                let cancelled = output
                    .attributes()
                    .and_then(|a| a.get("cancelled"))
                    .is_some_and(|v| matches!(v, AttributeValue::Bool(true)));
                Ok(if cancelled && !progress.state.is_final() {
                    Control::Cancel
                } else {
                    Control::Continue
                })
            }
            Err(err) if err.is_condition_failed() => Ok(Control::Lost),
            Err(err) => Err(err),
        }
    }
}

/// The staging bucket, listed with the worker's own credentials.
#[derive(Debug, Clone)]
pub struct S3Staging {
    client: aws_sdk_s3::Client,
}

impl S3Staging {
    /// Lists with the worker's own credentials.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: logspoke_aws::clients::s3(sdk),
        }
    }
}

impl Staging for S3Staging {
    async fn page(&self, bucket: &str, prefix: &str, start_after: Option<&str>) -> Result<Page, AwsError> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("ListObjectsV2", &output);
        let output = output?;
        Ok(Page {
            keys: output
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned)
                .collect(),
            more: output.is_truncated().unwrap_or(false),
        })
    }
}

//! Where the relay publishes: the DynamoDB read model (conditional on the version), the
//! config-changes SNS topic, and the replay job items of every provider region's
//! delivery ledger ([`RegionalLedgers`]). Behind a
//! narrow trait so the relay's ordering and retry logic is testable with a
//! fault-injecting fake, and exercised for real against the emulator.

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::join_all;
use logspoke_aws::read_model::item_to_sdk;
use logspoke_contract::replay::{ReplayState, ENDED_JOB_TTL_SECONDS, OPEN_JOBS_ATTRIBUTE};
use logspoke_contract::{Attributes, ConfigChanged, Region};

use crate::aws::error::{unless_condition_failed, AwsError};
use crate::aws::in_region;

/// Result of a conditional read-model write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The item now holds this version.
    Written,
    /// The item already held this or a newer version (a replay, or a racing relay).
    AlreadyCurrent,
}

/// What the relay needs from AWS.
pub trait ReadModelSink: Send + Sync {
    /// Writes the item unless the stored version is the same or newer.
    fn write(
        &self,
        item: &Attributes,
        version: i64,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    /// Publishes the change event.
    fn publish(&self, event: &ConfigChanged) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Creates a replay job item, in every configured region's ledger, unless it exists
    /// (a relay that retries after a lost answer, or after another region failed, must
    /// not reset the progress workers wrote since).
    fn create_replay(&self, job: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Marks the replay job with this key cancelled, in every configured region's ledger,
    /// and ends it where no worker has taken it yet; a job that no longer exists (it ended
    /// and expired) is left alone. Marking it again changes nothing.
    fn cancel_replay(&self, key: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What the relay needs of one region's ledger: replay job items. Both writes are
/// idempotent, so a row written into some regions and not others is retried whole.
pub trait ReplayLedger: Send + Sync {
    /// Creates a replay job item unless it exists (a relay that retries must not reset
    /// the progress workers wrote since).
    fn create(&self, job: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Marks the job with this key cancelled (ending it when no worker took it); a job
    /// that does not exist is left alone, and a job marked again stays as it is.
    fn cancel(&self, key: &Attributes) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A replay, as the customer sees it, is one job per provider region: every configured
/// region's ledger gets the job item (same replay id), and each region's workers replay
/// what was staged there. A write fails when it failed in any region (that region
/// named), so the relay keeps the row and writes it into every region again.
#[derive(Debug, Clone)]
pub struct RegionalLedgers<L> {
    regions: Vec<(Region, L)>,
}

impl<L: ReplayLedger> RegionalLedgers<L> {
    /// The ledgers of the configured regions.
    pub fn new(regions: Vec<(Region, L)>) -> Self {
        Self { regions }
    }

    /// Creates the job in every region.
    pub async fn create(&self, job: &Attributes) -> Result<(), AwsError> {
        self.in_every_region(|ledger| ledger.create(job)).await
    }

    /// Cancels the job in every region.
    pub async fn cancel(&self, key: &Attributes) -> Result<(), AwsError> {
        self.in_every_region(|ledger| ledger.cancel(key)).await
    }

    /// `write` into every region at once; the first region's failure (in configured
    /// order), its message prefixed with the region.
    async fn in_every_region<'a, F, Fut>(&'a self, write: F) -> Result<(), AwsError>
    where
        F: Fn(&'a L) -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let written = join_all(self.regions.iter().map(|(_, ledger)| write(ledger))).await;
        let failed = self.regions.iter().zip(written).find_map(|((region, _), result)| {
            let err = result.err()?;
            tracing::warn!(region = region.as_str(), error = %err, "writing a replay job into a region's ledger failed");
            Some((region, err))
        });
        match failed {
            Some((region, err)) => Err(AwsError {
                message: Some(format!(
                    "in {region}: {}",
                    err.message.as_deref().unwrap_or("no message")
                )),
                ..err
            }),
            None => Ok(()),
        }
    }
}

/// The real sink.
#[derive(Debug, Clone)]
pub struct AwsReadModelSink {
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    table: String,
    topic_arn: String,
    ledgers: RegionalLedgers<DynamoReplayLedger>,
}

impl AwsReadModelSink {
    /// Writes to `table`, publishes to `topic_arn` (both in the SDK's region) and writes
    /// replay jobs into `ledger_table` in each of `regions`, with the api's own
    /// credentials.
    pub fn new(
        sdk: &SdkConfig,
        table: &str,
        topic_arn: &str,
        ledger_table: &str,
        regions: &[Region],
    ) -> Self {
        let ledgers = regions
            .iter()
            .map(|region| {
                (
                    *region,
                    DynamoReplayLedger::new(&in_region(sdk, *region), ledger_table),
                )
            })
            .collect();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            table: table.to_owned(),
            topic_arn: topic_arn.to_owned(),
            ledgers: RegionalLedgers::new(ledgers),
        }
    }
}

/// One region's ledger table, for replay job items.
#[derive(Debug, Clone)]
pub struct DynamoReplayLedger {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoReplayLedger {
    /// `table` with the SDK settings `sdk` (their region is the ledger's).
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: table.to_owned(),
        }
    }
}

impl ReadModelSink for AwsReadModelSink {
    async fn write(&self, item: &Attributes, version: i64) -> Result<WriteOutcome, AwsError> {
        let written = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(item)))
            .condition_expression("attribute_not_exists(#v) OR #v < :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .send()
            .await
            .map_err(AwsError::from);
        match written {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(err) if err.is_condition_failed() => Ok(WriteOutcome::AlreadyCurrent),
            Err(err) => Err(err),
        }
    }

    async fn publish(&self, event: &ConfigChanged) -> Result<(), AwsError> {
        let attribute = |value: &str| {
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError {
                    code: None,
                    message: Some(e.to_string()),
                    status: None,
                    kind: crate::aws::error::AwsErrorKind::Other,
                })
        };
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message(event.to_json())
            .message_attributes("tenant_id", attribute(event.tenant_id.as_str())?)
            .message_attributes("type", attribute(event.delivery_type.as_str())?)
            .send()
            .await
            .map_err(AwsError::from)?;
        Ok(())
    }

    async fn create_replay(&self, job: &Attributes) -> Result<(), AwsError> {
        self.ledgers.create(job).await
    }

    async fn cancel_replay(&self, key: &Attributes) -> Result<(), AwsError> {
        self.ledgers.cancel(key).await
    }
}

impl ReplayLedger for DynamoReplayLedger {
    async fn create(&self, job: &Attributes) -> Result<(), AwsError> {
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(job)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(AwsError::from);
        unless_condition_failed(put)
    }

    async fn cancel(&self, key: &Attributes) -> Result<(), AwsError> {
        // A job no worker holds yet ends here and now, so that it never blocks its
        // target waiting for a worker; a running one is told through the flag.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let ended = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_to_sdk(key)))
            .update_expression(format!(
                "SET cancelled = :yes, #state = :cancelled, finished_at_ms = :now, expires_at = :ttl \
                 REMOVE {OPEN_JOBS_ATTRIBUTE}"
            ))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#state) OR #state = :queued) \
                 AND (attribute_not_exists(lease_until_ms) OR lease_until_ms < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(
                ":cancelled",
                AttributeValue::S(ReplayState::Cancelled.as_str().into()),
            )
            .expression_attribute_values(":queued", AttributeValue::S(ReplayState::Queued.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((now_ms / 1000 + ENDED_JOB_TTL_SECONDS).to_string()),
            )
            .send()
            .await
            .map_err(AwsError::from);
        match ended {
            Ok(_) => return Ok(()),
            Err(err) if err.is_condition_failed() => {}
            Err(err) => return Err(err),
        }
        let flagged = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_to_sdk(key)))
            .update_expression("SET cancelled = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(AwsError::from);
        unless_condition_failed(flagged)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    use logspoke_contract::ledger::Target;
    use logspoke_contract::replay::{ReplayJob, ReplayMode, ReplayProgress};
    use logspoke_contract::{Attr, DeliveryType, TenantId};

    use super::*;

    /// One region's ledger in memory, with DynamoDB's conditions; refuses writes on
    /// demand.
    #[derive(Default)]
    struct FakeLedger {
        jobs: Mutex<HashMap<String, Attributes>>,
        refuses: AtomicBool,
    }

    impl FakeLedger {
        fn refused(&self) -> Result<(), AwsError> {
            match self.refuses.load(Ordering::SeqCst) {
                true => Err(AwsError::service("AccessDeniedException", 400, "not authorized")),
                false => Ok(()),
            }
        }

        fn job(&self, id: &str) -> Option<ReplayJob> {
            let jobs = self.jobs.lock().unwrap();
            jobs.get(id).map(|item| ReplayJob::from_attributes(item).unwrap())
        }
    }

    impl ReplayLedger for FakeLedger {
        async fn create(&self, job: &Attributes) -> Result<(), AwsError> {
            self.refused()?;
            let key = sort_key(job);
            self.jobs
                .lock()
                .unwrap()
                .entry(key)
                .or_insert_with(|| job.clone());
            Ok(())
        }

        async fn cancel(&self, key: &Attributes) -> Result<(), AwsError> {
            self.refused()?;
            if let Some(item) = self.jobs.lock().unwrap().get_mut(&sort_key(key)) {
                item.insert("cancelled".into(), Attr::Bool(true));
                if item.get("state") == Some(&Attr::S("queued".into())) {
                    item.insert("state".into(), Attr::S("cancelled".into()));
                }
            }
            Ok(())
        }
    }

    /// The replay id of a job item or key.
    fn sort_key(item: &Attributes) -> String {
        match item.get("sk") {
            Some(Attr::S(sk)) => sk.clone(),
            other => panic!("no sort key: {other:?}"),
        }
    }

    fn job(id: &str) -> ReplayJob {
        ReplayJob {
            replay_id: id.into(),
            target: Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch),
            since_ms: 1_795_338_000_000,
            until_ms: 1_795_341_600_000,
            mode: ReplayMode::Missing,
            cancelled: false,
            requested_at_ms: 1_795_341_700_000,
            progress: ReplayProgress::queued(),
        }
    }

    fn three_regions() -> RegionalLedgers<FakeLedger> {
        let regions = ["eu-west-1", "us-east-1", "ap-south-1"];
        RegionalLedgers::new(
            regions
                .into_iter()
                .map(|name| (Region::parse(name).unwrap(), FakeLedger::default()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn a_replay_job_reaches_every_regions_ledger() {
        let ledgers = three_regions();
        ledgers.create(&job("r1").to_attributes()).await.unwrap();
        for (region, ledger) in &ledgers.regions {
            assert_eq!(ledger.job("r1"), Some(job("r1")), "{region}");
        }
        ledgers.cancel(&ReplayJob::key_of("r1")).await.unwrap();
        for (region, ledger) in &ledgers.regions {
            assert!(ledger.job("r1").unwrap().cancelled, "{region}");
        }
    }

    #[tokio::test]
    async fn a_region_that_refuses_fails_the_write_so_the_row_is_retried_into_every_region() {
        let ledgers = three_regions();
        ledgers.regions[1].1.refuses.store(true, Ordering::SeqCst);
        let err = ledgers.create(&job("r1").to_attributes()).await.unwrap_err();
        assert_eq!(err.code(), "AccessDeniedException");
        assert!(err.describe(None).contains("in us-east-1: "), "{err}");
        assert!(ledgers.regions[0].1.job("r1").is_some());
        assert!(ledgers.regions[1].1.job("r1").is_none());
        assert!(ledgers.regions[2].1.job("r1").is_some());

        // A worker of the first region took the job meanwhile: the retry leaves its
        // progress alone and creates the job where it is missing.
        let mut running = job("r1");
        running.progress.state = ReplayState::Delivering;
        running.progress.objects_done = 7;
        ledgers.regions[0]
            .1
            .jobs
            .lock()
            .unwrap()
            .insert("r1".into(), running.to_attributes());
        ledgers.regions[1].1.refuses.store(false, Ordering::SeqCst);
        ledgers.create(&job("r1").to_attributes()).await.unwrap();
        assert_eq!(ledgers.regions[0].1.job("r1"), Some(running));
        assert_eq!(ledgers.regions[1].1.job("r1"), Some(job("r1")));
    }

    #[tokio::test]
    async fn a_cancellation_retried_after_a_region_refused_it_changes_nothing_twice() {
        let ledgers = three_regions();
        ledgers.create(&job("r1").to_attributes()).await.unwrap();
        ledgers.regions[2].1.refuses.store(true, Ordering::SeqCst);
        assert!(ledgers.cancel(&ReplayJob::key_of("r1")).await.is_err());
        let first = ledgers.regions[0].1.job("r1").unwrap();
        assert!(first.cancelled);
        assert_eq!(first.progress.state, ReplayState::Cancelled);
        ledgers.regions[2].1.refuses.store(false, Ordering::SeqCst);
        ledgers.cancel(&ReplayJob::key_of("r1")).await.unwrap();
        assert_eq!(
            ledgers.regions[0].1.job("r1").unwrap(),
            first,
            "unchanged by the retry"
        );
        for (region, ledger) in &ledgers.regions {
            assert!(ledger.job("r1").unwrap().cancelled, "{region}");
        }
        // A job a region never had (it ended and expired there) stays absent.
        ledgers.cancel(&ReplayJob::key_of("r2")).await.unwrap();
        assert!(ledgers.regions[0].1.job("r2").is_none());
    }
}

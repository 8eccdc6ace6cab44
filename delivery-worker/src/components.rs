//! The worker's parts, built once from its config: the one composition root that the
//! long-running replica ([`crate::replica`]), the Lambda function ([`crate::lambda`]) and
//! the one-off commands ([`crate::cli`]) share, so the three cannot drift apart.

use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;
use logspoke_aws::RoleChain;

use crate::config::WorkerConfig;
use crate::credentials::CredentialCache;
use crate::delivery_health::DeliveryHealth;
use crate::ledger::dynamo::DynamoLedger;
use crate::pipeline::aws::AwsDeliverer;
use crate::pipeline::drain::Drainer;
use crate::pipeline::Pipeline;
use crate::replay::dynamo::{DynamoJobs, S3Staging};
use crate::replay::ReplayRunner;
use crate::sinks::cloudwatch::{self, Tuning};
use crate::tenants::source::{self, DynamoReadModel};
use crate::tenants::TenantConfigs;

/// The pipeline as the worker runs it: AWS sinks and the DynamoDB ledger.
pub type AwsPipeline = Pipeline<AwsDeliverer, DynamoLedger>;

/// Everything a worker process delivers with, whichever way it is driven.
pub struct Components {
    /// The SDK config the parts were built from (the replica's subscription uses it).
    pub sdk: SdkConfig,
    /// The tenants' delivery configs, as the read model and change events leave them.
    pub configs: Arc<TenantConfigs>,
    /// Where the configs are read from.
    pub read_model: Arc<DynamoReadModel>,
    /// Delivery: routing, the ledger, credentials, sinks and delivery health.
    pub pipeline: Arc<AwsPipeline>,
    /// Drains parked objects once their target works again.
    pub drainer: Drainer,
    /// Runs replay jobs.
    pub replays: ReplayRunner<DynamoJobs, S3Staging>,
}

impl Components {
    /// Builds every part from `config` and `sdk`; nothing is read yet ([`Self::load`]).
    pub fn new(config: &WorkerConfig, sdk: SdkConfig) -> Self {
        let configs = Arc::new(TenantConfigs::default());
        let settings = &config.ledger;
        let chain = RoleChain::for_component(sdk.clone(), config.provider_role.clone(), "logspoke-worker");
        // A tenant's share of the decode budget is its share of the slots.
        let budget_share =
            config.max_decode_bytes * config.poll.tenant_share / config.poll.max_in_flight.max(1);
        let tuning = Tuning::new(cloudwatch::service::RETRIES, config.max_decode_bytes)
            .with_budget_share(budget_share)
            .with_max_object_bytes(config.bounds.max_object_bytes as u64);
        let pipeline = Pipeline::new(
            configs.clone(),
            AwsDeliverer::new(Arc::new(CredentialCache::new(chain)), tuning),
            DynamoLedger::new(&sdk, &settings.table),
            Arc::new(DeliveryHealth::default()),
            settings.retention,
        )
        .with_attempt_budget(config.bounds.attempt_seconds)
        .with_destination_ceiling(config.poll.max_in_flight);
        let pipeline = Arc::new(pipeline);
        // One name per process in the drain and replay leases.
        let owner = uuid::Uuid::new_v4().simple().to_string();
        Self {
            read_model: Arc::new(DynamoReadModel::new(&sdk, &config.table)),
            drainer: Drainer::new(owner.clone(), settings.probe, settings.max_probe),
            replays: ReplayRunner {
                jobs: DynamoJobs::new(&sdk, &settings.table),
                staging: S3Staging::new(&sdk),
                bucket: settings.staging_bucket.clone(),
                owner,
                concurrency: ReplayRunner::<DynamoJobs, S3Staging>::concurrency(config.poll.max_in_flight),
            },
            configs,
            pipeline,
            sdk,
        }
    }

    /// [`Self::new`] with the SDK config from the environment.
    pub async fn from_env(config: &WorkerConfig) -> Self {
        Self::new(config, logspoke_aws::load_sdk_config().await)
    }

    /// Loads the whole read model into the configs.
    pub async fn load(&self) -> anyhow::Result<()> {
        source::resync(self.read_model.as_ref(), &self.configs)
            .await
            .context("loading the read model (LOGSPOKE_READ_MODEL_TABLE)")?;
        Ok(())
    }
}

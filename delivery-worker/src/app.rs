//! Wiring: AWS clients, the config cache and its subscription, the delivery queue
//! receivers, and the health/metrics endpoint.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use logspoke_aws::RoleChain;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::config::{ReplayArgs, WorkerConfig};
use crate::credentials::CredentialCache;
use crate::event::StagedObject;
use crate::health::HealthReporter;
use crate::lambda::fresh::Freshness;
use crate::lambda::{self, emf, Function};
use crate::ledger::dynamo::DynamoLedger;
use crate::pipeline::aws::AwsDeliverer;
use crate::pipeline::drain::Drainer;
use crate::pipeline::Outcome;
use crate::pipeline::Pipeline;
use crate::replay::dynamo::{DynamoJobs, S3Staging};
use crate::replay::ReplayRunner;
use crate::retry::Backoff;
use crate::sqs::{self, aws::SqsQueue};
use crate::tenants::source::{self, DynamoReadModel};
use crate::tenants::subscription::Subscription;
use crate::tenants::TenantConfigs;
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::{ReplayJob, ReplayProgress};

pub use crate::telemetry::{init_tracing, metrics_handle};

/// What the health endpoint reports.
#[derive(Clone)]
struct Health {
    ready: Arc<AtomicBool>,
    metrics: PrometheusHandle,
}

/// Runs the worker until `shutdown` resolves, then drains in-flight work and removes
/// this replica's change subscription.
pub async fn run(config: WorkerConfig, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    set_decode_budget(config.max_decode_bytes);
    let health = Health {
        ready: Arc::new(AtomicBool::new(false)),
        metrics: metrics_handle(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("LOGSPOKE_WORKER_LISTEN: cannot listen on {}", config.listen))?;
    let (stop, stopped) = watch::channel(false);
    let mut ops_stopped = stopped.clone();
    tokio::spawn(logspoke_runtime::ops::serve(
        listener,
        health.ready.clone(),
        health.metrics.clone(),
        async move {
            let _ = ops_stopped.wait_for(|stop| *stop).await;
        },
    ));

    let sdk = logspoke_aws::load_sdk_config().await;
    let configs = Arc::new(TenantConfigs::default());
    let read_model = Arc::new(DynamoReadModel::new(&sdk, &config.table));
    // Subscribe before the first scan, so no change between the two is missed.
    let subscription = Subscription::create(&sdk, &config.topic_arn, &config.config_queue_prefix)
        .await
        .context("subscribing to config changes (LOGSPOKE_CONFIG_TOPIC_ARN)")?;
    let result = run_subscribed(
        &config,
        &sdk,
        &subscription,
        read_model,
        configs,
        &health,
        stopped,
        shutdown,
    )
    .await;
    let _ = stop.send(true);
    subscription.remove().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_subscribed(
    config: &WorkerConfig,
    sdk: &aws_config::SdkConfig,
    subscription: &Subscription,
    read_model: Arc<DynamoReadModel>,
    configs: Arc<TenantConfigs>,
    health: &Health,
    stopped: watch::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    source::resync(read_model.as_ref(), &configs)
        .await
        .context("loading the read model (LOGSPOKE_READ_MODEL_TABLE)")?;
    let (stop_work, work_stopped) = watch::channel(false);
    let events = {
        let (subscription, read_model, configs) = (subscription.clone(), read_model.clone(), configs.clone());
        let stopped = work_stopped.clone();
        tokio::spawn(async move { subscription.run(read_model, configs, stopped).await })
    };
    tokio::spawn(resync_periodically(
        read_model,
        configs.clone(),
        config.resync,
        work_stopped.clone(),
    ));

    let chain = RoleChain::for_component(sdk.clone(), config.provider_role.clone(), "logspoke-worker");
    let credentials = Arc::new(CredentialCache::new(chain));
    let settings = &config.ledger;
    let pipeline = Arc::new(Pipeline::new(
        configs,
        AwsDeliverer::new(credentials, Backoff::default()),
        DynamoLedger::new(sdk, &settings.table),
        Arc::new(HealthReporter::default()),
        settings.retention,
    ));
    let reporting = {
        let (pipeline, period, stopped) = (pipeline.clone(), settings.health_interval, work_stopped.clone());
        tokio::spawn(async move { pipeline.health().run(pipeline.ledger(), period, stopped).await })
    };
    {
        let runner = ReplayRunner {
            jobs: DynamoJobs::new(sdk, &settings.table),
            staging: S3Staging::new(sdk),
            bucket: settings.staging_bucket.clone(),
            owner: uuid::Uuid::new_v4().simple().to_string(),
            concurrency: ReplayRunner::<DynamoJobs, S3Staging>::concurrency(config.poll.max_in_flight),
        };
        let (pipeline, stopped, tick) = (pipeline.clone(), work_stopped.clone(), settings.replay_tick);
        tokio::spawn(async move { runner.run(&pipeline, tick, stopped).await });
    }
    {
        let drainer = Drainer::new(
            uuid::Uuid::new_v4().simple().to_string(),
            settings.probe,
            settings.max_probe,
        );
        let (pipeline, stopped) = (pipeline.clone(), work_stopped.clone());
        let tick = settings.probe.min(Duration::from_secs(10));
        tokio::spawn(async move { drainer.run(&pipeline, tick, stopped).await });
    }
    let queue = SqsQueue::new(sdk, &config.queue_url);
    health.ready.store(true, Ordering::Relaxed);
    tracing::info!(listen = %config.listen, "delivery worker started");

    let receiving = tokio::spawn(sqs::run(queue, pipeline, config.poll.clone(), work_stopped));
    shutdown.await;
    tracing::info!("stopping: finishing in-flight messages");
    health.ready.store(false, Ordering::Relaxed);
    let _ = stop_work.send(true);
    let _ = receiving.await;
    let _ = reporting.await;
    let _ = events.await;
    drop(stopped);
    Ok(())
}

/// Installs the process-wide decode budget (the first worker of a process sets it).
fn set_decode_budget(max_decode_bytes: usize) {
    let budget = crate::memory::decode_budget_for(max_decode_bytes);
    if budget.total() != max_decode_bytes {
        tracing::warn!(
            wanted = max_decode_bytes,
            in_force = budget.total(),
            "another worker in this process set the decode budget first; keeping it"
        );
    }
}

async fn resync_periodically(
    read_model: Arc<DynamoReadModel>,
    configs: Arc<TenantConfigs>,
    period: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = stopped.changed() => return,
        }
        if let Err(err) = source::resync(read_model.as_ref(), &configs).await {
            tracing::warn!(error = %err, "periodic read-model resync failed; keeping the cached configs");
        }
    }
}

/// The pipeline a one-off command uses: the read model loaded once, the same deliverer,
/// ledger and health as a running worker (whose health it flushes when done).
async fn one_off_pipeline(
    config: &WorkerConfig,
) -> anyhow::Result<(aws_config::SdkConfig, Arc<Pipeline<AwsDeliverer, DynamoLedger>>)> {
    set_decode_budget(config.max_decode_bytes);
    let sdk = logspoke_aws::load_sdk_config().await;
    let configs = Arc::new(TenantConfigs::default());
    let read_model = DynamoReadModel::new(&sdk, &config.table);
    source::resync(&read_model, &configs)
        .await
        .context("loading the read model (LOGSPOKE_READ_MODEL_TABLE)")?;
    let chain = RoleChain::for_component(sdk.clone(), config.provider_role.clone(), "logspoke-worker");
    let pipeline = Arc::new(Pipeline::new(
        configs,
        AwsDeliverer::new(Arc::new(CredentialCache::new(chain)), Backoff::default()),
        DynamoLedger::new(&sdk, &config.ledger.table),
        Arc::new(HealthReporter::default()),
        config.ledger.retention,
    ));
    Ok((sdk, pipeline))
}

/// Period of the background work (health flush aside) a Lambda execution environment
/// does after a batch: looking for parked targets to drain and replay jobs to run, as a
/// replica's timers do (each look is a DynamoDB query).
const LAMBDA_BACKGROUND_PERIOD: Duration = Duration::from_secs(10);

/// What one Lambda execution environment keeps across invocations.
struct LambdaEnvironment {
    function: LambdaFunction,
    drainer: Drainer,
    replays: ReplayRunner<DynamoJobs, S3Staging>,
    background_at: std::sync::Mutex<Option<std::time::Instant>>,
    metrics: PrometheusHandle,
    flusher: std::sync::Mutex<emf::Flusher>,
}

impl LambdaEnvironment {
    async fn invoke(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let deadline = lambda::deadline_instant(event.context.deadline);
        let answer = self.function.handle(&event.payload, deadline).await;
        let stop_at = deadline.checked_sub(lambda::DEADLINE_MARGIN).unwrap_or(deadline);
        let pipeline = self.function.pipeline();
        if self.background_due() {
            let background = async {
                self.drainer.tick(pipeline).await;
                self.replays.tick(pipeline).await;
            };
            let _ = tokio::time::timeout_at(stop_at.into(), background).await;
        }
        let _ = tokio::time::timeout_at(deadline.into(), pipeline.health().flush(pipeline.ledger())).await;
        lambda::flush_metrics(&self.flusher, &self.metrics.render());
        answer.map_err(Into::into)
    }

    fn background_due(&self) -> bool {
        let mut at = self
            .background_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = at.is_none_or(|t| t.elapsed() >= LAMBDA_BACKGROUND_PERIOD);
        if due {
            *at = Some(std::time::Instant::now());
        }
        due
    }
}

/// The Lambda function of one execution environment.
pub type LambdaFunction = Function<AwsDeliverer, DynamoLedger, DynamoReadModel, SqsQueue>;

/// The function as a cold start builds it: the whole read model loaded, and the same
/// deliverer, ledger and health as a replica.
pub async fn lambda_function(
    config: &WorkerConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<LambdaFunction> {
    let configs = Arc::new(TenantConfigs::default());
    let read_model = DynamoReadModel::new(sdk, &config.table);
    let loaded_at = std::time::Instant::now();
    source::resync(&read_model, &configs)
        .await
        .context("loading the read model (LOGSPOKE_READ_MODEL_TABLE)")?;
    let chain = RoleChain::for_component(sdk.clone(), config.provider_role.clone(), "logspoke-worker");
    let settings = &config.ledger;
    let pipeline = Arc::new(Pipeline::new(
        configs.clone(),
        AwsDeliverer::new(Arc::new(CredentialCache::new(chain)), Backoff::default()),
        DynamoLedger::new(sdk, &settings.table),
        Arc::new(HealthReporter::default()),
        settings.retention,
    ));
    let fresh = Freshness::new(read_model, configs, loaded_at, lambda::fresh::MAX_AGE);
    let queue = SqsQueue::new(sdk, &config.queue_url);
    Ok(Function::new(pipeline, fresh, queue, config.poll.retry_delay))
}

/// `logspoke-worker lambda`: serves the Lambda runtime API (the function's entrypoint),
/// handling batches of the delivery queue until the environment is shut down.
pub async fn lambda(config: WorkerConfig) -> anyhow::Result<()> {
    set_decode_budget(config.max_decode_bytes);
    let metrics = metrics_handle();
    let sdk = logspoke_aws::load_sdk_config().await;
    let function = lambda_function(&config, &sdk).await?;
    let settings = &config.ledger;
    let owner = uuid::Uuid::new_v4().simple().to_string();
    let environment = Arc::new(LambdaEnvironment {
        function,
        drainer: Drainer::new(owner.clone(), settings.probe, settings.max_probe),
        replays: ReplayRunner {
            jobs: DynamoJobs::new(&sdk, &settings.table),
            staging: S3Staging::new(&sdk),
            bucket: settings.staging_bucket.clone(),
            owner,
            concurrency: ReplayRunner::<DynamoJobs, S3Staging>::concurrency(config.poll.max_in_flight),
        },
        background_at: std::sync::Mutex::new(None),
        metrics,
        flusher: std::sync::Mutex::new(emf::Flusher::default()),
    });
    tracing::info!("delivery worker started as a Lambda function");
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
        let environment = environment.clone();
        async move { environment.invoke(event).await }
    }))
    .await
    .map_err(|err| anyhow::anyhow!("the Lambda runtime stopped: {err}"))
}

/// Progress of a replay run from a shell: one line on stderr per report.
struct StderrReport;

impl crate::replay::Report for StderrReport {
    async fn report(&self, progress: &ReplayProgress) -> crate::replay::Control {
        eprintln!(
            "replay: {} — {}/{} objects ({} skipped), {} events, {} bytes{}",
            progress.state.as_str(),
            progress.objects_done,
            progress.objects_total,
            progress.objects_skipped,
            progress.events,
            progress.bytes,
            progress
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        crate::replay::Control::Continue
    }
}

/// `logspoke-worker replay`: the replay executor, run here instead of through a job.
pub async fn replay(config: &WorkerConfig, args: &ReplayArgs) -> anyhow::Result<ReplayProgress> {
    let bucket = config
        .ledger
        .staging_bucket
        .clone()
        .context("LOGSPOKE_STAGING_BUCKET must name the staging bucket to replay from")?;
    let (sdk, pipeline) = one_off_pipeline(config).await?;
    let job = ReplayJob {
        replay_id: format!("cli-{}", uuid::Uuid::new_v4()),
        target: Target::new(args.tenant.clone(), args.delivery_type),
        since_ms: args.since,
        until_ms: args.until,
        mode: args.mode,
        cancelled: false,
        requested_at_ms: crate::pipeline::now_ms(),
        progress: ReplayProgress::queued(),
    };
    let concurrency = ReplayRunner::<DynamoJobs, S3Staging>::concurrency(config.poll.max_in_flight);
    let done = crate::replay::execute(
        &pipeline,
        &S3Staging::new(&sdk),
        &bucket,
        &job,
        concurrency,
        &StderrReport,
    )
    .await;
    pipeline.health().flush(pipeline.ledger()).await;
    Ok(done)
}

/// `logspoke-worker deliver s3://bucket/key`: one staged object through the pipeline.
pub async fn deliver(config: &WorkerConfig, url: &str) -> anyhow::Result<Outcome> {
    let (bucket, key) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .context("the object must be given as s3://bucket/key")?;
    let layout = logspoke_contract::ObjectKey::parse(key).context("the key is not a staged-object key")?;
    let object = StagedObject {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        layout,
        event_time_ms: None,
    };
    let (_, pipeline) = one_off_pipeline(config).await?;
    let outcome = pipeline.deliver(&object).await;
    pipeline.health().flush(pipeline.ledger()).await;
    Ok(outcome)
}

//! One Lambda execution environment as the function's entrypoint builds it
//! (`logspoke-worker lambda`): the worker's [`Components`] with the whole read model
//! loaded at the cold start, the [`Function`] that handles each batch, and the background
//! work of a replica (draining parked targets, replay jobs, the health flush) after a
//! batch, in the time left before the deadline.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use metrics_exporter_prometheus::PrometheusHandle;

use super::fresh::{self, Freshness};
use super::{deadline_instant, emf, flush_metrics, Function, Overflow, DEADLINE_MARGIN};
use crate::components::Components;
use crate::config::WorkerConfig;
use crate::ledger::dynamo::DynamoLedger;
use crate::pipeline::aws::AwsDeliverer;
use crate::sqs::aws::SqsQueue;
use crate::telemetry::metrics_handle;
use crate::tenants::source::DynamoReadModel;

/// The Lambda function of one execution environment.
pub type LambdaFunction = Function<AwsDeliverer, DynamoLedger, DynamoReadModel, SqsQueue>;

/// Period of the background work (health flush aside) an execution environment does
/// after a batch: looking for parked targets to drain and replay jobs to run, as a
/// replica's timers do (each look is a DynamoDB query).
const BACKGROUND_PERIOD: Duration = Duration::from_secs(10);

/// What one Lambda execution environment keeps across invocations.
struct Environment {
    function: LambdaFunction,
    components: Components,
    background_at: Mutex<Option<Instant>>,
    metrics: PrometheusHandle,
    flusher: Mutex<emf::Flusher>,
}

impl Environment {
    async fn invoke(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let deadline = deadline_instant(event.context.deadline);
        let answer = self.function.handle(&event.payload, deadline).await;
        let stop_at = deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline);
        let pipeline = self.function.pipeline();
        if self.background_due() {
            let background = async {
                self.components.drainer.tick(pipeline).await;
                self.components.replays.tick(pipeline).await;
            };
            let _ = tokio::time::timeout_at(stop_at.into(), background).await;
        }
        let _ = tokio::time::timeout_at(deadline.into(), pipeline.health().flush(pipeline.ledger())).await;
        flush_metrics(&self.flusher, &self.metrics.render());
        answer.map_err(Into::into)
    }

    /// True once per [`BACKGROUND_PERIOD`].
    fn background_due(&self) -> bool {
        let mut at = self.background_at.lock().unwrap_or_else(PoisonError::into_inner);
        let due = at.is_none_or(|t| t.elapsed() >= BACKGROUND_PERIOD);
        if due {
            *at = Some(Instant::now());
        }
        due
    }
}

/// The function as a cold start builds it from `components`: the whole read model
/// loaded, and the same deliverer, ledger and health as a replica.
async fn function_of(config: &WorkerConfig, components: &Components) -> anyhow::Result<LambdaFunction> {
    let loaded_at = Instant::now();
    components.load().await?;
    let read_model = components.read_model.as_ref().clone();
    let fresh = Freshness::new(read_model, components.configs.clone(), loaded_at, fresh::MAX_AGE);
    let queue = SqsQueue::new(&components.sdk, &config.queue_url);
    let function = Function::new(components.pipeline.clone(), fresh, queue, config.poll.retry_delay);
    Ok(match config.overflow_queue_url.as_deref() {
        None => function,
        Some(url) => function.with_overflow(Overflow {
            queue: SqsQueue::new(&components.sdk, url),
            name: url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            share: config.poll.tenant_share,
        }),
    })
}

/// The function a cold start builds, with the SDK config `sdk`.
pub async fn lambda_function(
    config: &WorkerConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<LambdaFunction> {
    function_of(config, &Components::new(config, sdk.clone())).await
}

/// `logspoke-worker lambda`: serves the Lambda runtime API (the function's entrypoint),
/// handling batches of the delivery queue until the environment is shut down.
pub async fn serve(config: WorkerConfig) -> anyhow::Result<()> {
    let metrics = metrics_handle();
    let components = Components::from_env(&config).await;
    let function = function_of(&config, &components).await?;
    let environment = Arc::new(Environment {
        function,
        components,
        background_at: Mutex::new(None),
        metrics,
        flusher: Mutex::new(emf::Flusher::default()),
    });
    tracing::info!("delivery worker started as a Lambda function");
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
        let environment = environment.clone();
        async move { environment.invoke(event).await }
    }))
    .await
    .map_err(|err| anyhow::anyhow!("the Lambda runtime stopped: {err}"))
}

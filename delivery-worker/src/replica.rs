//! The long-running worker (a Deployment replica): the ops endpoint, the config-change
//! subscription and periodic resync, the delivery queue receivers, and the background
//! work of draining parked targets, running replay jobs and flushing delivery health.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::components::Components;
use crate::config::WorkerConfig;
use crate::sqs::{self, aws::SqsQueue};
use crate::telemetry::metrics_handle;
use crate::tenants::source;
use crate::tenants::subscription::Subscription;

/// What `/readyz` and `/metrics` report.
#[derive(Clone)]
struct Readiness {
    ready: Arc<AtomicBool>,
    metrics: PrometheusHandle,
}

/// Runs the worker until `shutdown` resolves, then drains in-flight work and removes
/// this replica's change subscription.
pub async fn run(config: WorkerConfig, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let readiness = Readiness {
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
        readiness.ready.clone(),
        readiness.metrics.clone(),
        async move {
            let _ = ops_stopped.wait_for(|stop| *stop).await;
        },
    ));

    let components = Components::from_env(&config).await;
    // Subscribe before the first scan, so no change between the two is missed.
    let subscription = Subscription::create(&components.sdk, &config.topic_arn, &config.config_queue_prefix)
        .await
        .context("subscribing to config changes (LOGSPOKE_CONFIG_TOPIC_ARN)")?;
    let result = run_subscribed(&config, Arc::new(components), &subscription, &readiness, shutdown).await;
    let _ = stop.send(true);
    subscription.remove().await;
    result
}

async fn run_subscribed(
    config: &WorkerConfig,
    components: Arc<Components>,
    subscription: &Subscription,
    readiness: &Readiness,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    components.load().await?;
    let (stop_work, work_stopped) = watch::channel(false);
    let events = {
        let (subscription, components) = (subscription.clone(), components.clone());
        let stopped = work_stopped.clone();
        tokio::spawn(async move {
            subscription
                .run(components.read_model.clone(), components.configs.clone(), stopped)
                .await;
        })
    };
    let reporting = spawn_background(config, &components, &work_stopped);
    let queue = SqsQueue::new(&components.sdk, &config.queue_url);
    let overflow = config
        .overflow_queue_url
        .as_deref()
        .map(|url| SqsQueue::new(&components.sdk, url));
    readiness.ready.store(true, Ordering::Relaxed);
    tracing::info!(listen = %config.listen, "delivery worker started");

    let pipeline = components.pipeline.clone();
    let receiving = tokio::spawn(sqs::run_lanes(
        queue,
        overflow,
        pipeline,
        config.poll.clone(),
        work_stopped,
    ));
    shutdown.await;
    tracing::info!("stopping: finishing in-flight messages");
    readiness.ready.store(false, Ordering::Relaxed);
    let _ = stop_work.send(true);
    let _ = receiving.await;
    let _ = reporting.await;
    let _ = events.await;
    Ok(())
}

/// Starts the periodic work beside the receivers: the read-model resync, replay jobs,
/// the drain, and the health flush (whose handle is returned: it flushes once more when
/// stopped, which the stop waits for).
fn spawn_background(
    config: &WorkerConfig,
    components: &Arc<Components>,
    stopped: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let settings = &config.ledger;
    spawn_every(
        config.resync,
        stopped,
        components,
        |c| async move { resync(&c).await },
    );
    spawn_every(settings.replay_tick, stopped, components, |c| async move {
        c.replays.tick(&c.pipeline).await;
    });
    let drain_tick = settings.probe.min(Duration::from_secs(10));
    spawn_every(drain_tick, stopped, components, |c| async move {
        c.drainer.tick(&c.pipeline).await;
    });
    let (components, stopped, period) = (components.clone(), stopped.clone(), settings.health_interval);
    tokio::spawn(async move {
        let pipeline = &components.pipeline;
        pipeline.health().run(pipeline.ledger(), period, stopped).await;
    })
}

/// Spawns `tick` every `period` until `stopped`.
fn spawn_every<F, Fut>(
    period: Duration,
    stopped: &watch::Receiver<bool>,
    components: &Arc<Components>,
    tick: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<Components>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (components, stopped) = (components.clone(), stopped.clone());
    tokio::spawn(async move {
        logspoke_runtime::periodic::every(period, stopped, || tick(components.clone())).await;
    })
}

async fn resync(components: &Components) {
    if let Err(err) = source::resync(components.read_model.as_ref(), &components.configs).await {
        tracing::warn!(error = %err, "periodic read-model resync failed; keeping the cached configs");
    }
}

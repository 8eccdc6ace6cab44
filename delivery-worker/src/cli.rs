//! The one-off commands of `logspoke-worker`: `replay` (the replay executor, run from a
//! shell instead of through a job) and `deliver` (one staged object through the
//! pipeline). Both use the same parts as a running worker and flush its delivery health
//! when done.

use anyhow::Context;
use logspoke_contract::ledger::Target;
use logspoke_contract::replay::{ReplayJob, ReplayProgress};

use crate::clock::now_ms;
use crate::components::Components;
use crate::config::{ReplayArgs, WorkerConfig};
use crate::event::StagedObject;
use crate::pipeline::Outcome;
use crate::replay::{self, Control, Report};

/// Progress of a replay run from a shell: one line on stderr per report.
struct StderrReport;

impl Report for StderrReport {
    async fn report(&self, progress: &ReplayProgress) -> Control {
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
        Control::Continue
    }
}

/// The worker's parts with the read model loaded once.
async fn loaded(config: &WorkerConfig) -> anyhow::Result<Components> {
    let components = Components::from_env(config).await;
    components.load().await?;
    Ok(components)
}

/// `logspoke-worker replay`: the replay executor, run here instead of through a job.
pub async fn replay(config: &WorkerConfig, args: &ReplayArgs) -> anyhow::Result<ReplayProgress> {
    let bucket = config
        .ledger
        .staging_bucket
        .clone()
        .context("LOGSPOKE_STAGING_BUCKET must name the staging bucket to replay from")?;
    let components = loaded(config).await?;
    let job = ReplayJob {
        replay_id: format!("cli-{}", uuid::Uuid::new_v4()),
        target: Target::new(args.tenant.clone(), args.delivery_type),
        since_ms: args.since,
        until_ms: args.until,
        mode: args.mode,
        cancelled: false,
        requested_at_ms: now_ms(),
        progress: ReplayProgress::queued(),
    };
    let pipeline = &components.pipeline;
    let replays = &components.replays;
    let done = replay::execute(
        pipeline,
        &replays.staging,
        &bucket,
        &job,
        replays.concurrency,
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
    let components = loaded(config).await?;
    let pipeline = &components.pipeline;
    let outcome = pipeline.deliver(&object).await;
    pipeline.health().flush(pipeline.ledger()).await;
    Ok(outcome)
}

//! Replays: redelivering a time window of one target's staged objects.
//!
//! The api publishes a replay as a job item in the ledger table
//! (`logspoke_contract::replay`). Every replica looks for unfinished jobs every few
//! seconds ([`ReplayRunner::tick`], run by the replica's timer and after each Lambda
//! batch); one takes a job's lease (a conditional update) and runs it: it lists the tenant's prefix in the staging bucket one page at a time, keeps
//! the objects whose key timestamp is in the window, and delivers each page's objects to
//! that one target before listing the next page, in the bucket's order — each pod's
//! objects are listed together and oldest first, since a staged key ends in its
//! timestamp — through the same pipeline as live traffic ([`Pipeline::replay_one`]), at
//! most [`ReplayRunner::concurrency`] at a time — a quarter of the live in-flight slots,
//! so live delivery of every tenant keeps three quarters. A replay holds one page of keys
//! (at most 1,000) and the objects in flight, whatever its window. Progress, with a cursor
//! (the staged key up to which every object is finished), is written at least every
//! [`PROGRESS_EVERY`] with the lease renewed; a replica that dies leaves the lease to
//! expire ([`LEASE`]) and another one resumes listing after the cursor, skipping nothing
//! and listing nothing twice. A cancellation is seen at the next progress write.
//! `logspoke-worker replay` runs the same [`execute`] from a shell.

pub mod dynamo;

use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use logspoke_aws::AwsError;
use logspoke_contract::replay::{replay_order_key, ReplayJob, ReplayProgress, ReplayState};
use logspoke_contract::ObjectKey;
use logspoke_runtime::backoff::Backoff;

use crate::clock::now_ms;
use crate::event::StagedObject;
use crate::ledger::Ledger;
use crate::pipeline::replay::Replayed;
use crate::pipeline::{Deliverer, Pipeline};

/// Progress is written at least this often while a replay runs.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// A job's lease lasts this long past its last progress write.
pub const LEASE: Duration = Duration::from_secs(30);

/// Retries of one object when the failure may pass on its own (throttling, an outage):
/// three attempts in all, 0.5 s and 1 s apart.
const RETRY: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(1),
    attempts: 3,
};

/// What the running replay is told after reporting progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop: cancelled on request.
    Cancel,
    /// Stop: another replica holds the job now.
    Lost,
}

/// Where a running replay reports its progress: the job item, or a terminal.
pub trait Report: Send + Sync {
    /// Records `progress`; the answer says whether to go on.
    fn report(&self, progress: &ReplayProgress) -> impl Future<Output = Control> + Send;
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Keys in the bucket's (lexicographic) order.
    pub keys: Vec<String>,
    /// Whether keys follow the last one.
    pub more: bool,
}

/// The staged objects of a tenant, as the staging bucket lists them.
pub trait Staging: Send + Sync {
    /// The first page of keys under `prefix` after `start_after` (all of them without
    /// it), in the bucket's (lexicographic) order.
    fn page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Page, AwsError>> + Send;
}

/// The job items, as narrow as the runner needs them.
pub trait Jobs: Send + Sync {
    /// Jobs that are not final.
    fn open(&self) -> impl Future<Output = Result<Vec<ReplayJob>, AwsError>> + Send;

    /// Takes (or renews) `job`'s lease for `owner` and returns the job as it stands now
    /// (the listing that found it may be old: another replica may have moved it on since);
    /// `None` when another replica holds it or it is final.
    fn take(
        &self,
        job: &ReplayJob,
        owner: &str,
    ) -> impl Future<Output = Result<Option<ReplayJob>, AwsError>> + Send;

    /// Writes `progress` while `owner` holds the lease, renewing it.
    fn progress(
        &self,
        job: &ReplayJob,
        owner: &str,
        progress: &ReplayProgress,
    ) -> impl Future<Output = Result<Control, AwsError>> + Send;
}

/// The objects of `keys` (a page, in listing order) in `job`'s window, in that order,
/// without those an earlier worker finished ([`Cursor::Ordered`]).
pub fn window(job: &ReplayJob, bucket: &str, keys: &[String], cursor: &Cursor) -> Vec<StagedObject> {
    keys.iter()
        .filter_map(|key| {
            let (layout, staged) = in_window(job, key)?;
            if let Cursor::Ordered(done) = cursor {
                if replay_order_key(staged, key) <= *done {
                    return None;
                }
            }
            Some(StagedObject {
                bucket: bucket.to_owned(),
                key: key.clone(),
                event_time_ms: Some(staged.saturating_mul(1000)),
                layout,
            })
        })
        .collect()
}

/// Where a job resumes, from the cursor in its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// From the start of the listing.
    Start,
    /// After this staged key, in listing order.
    After(String),
    /// From the start, skipping the objects up to this order key
    /// (`{unix seconds}#{key}`): the cursor of a job that workers before listing page by
    /// page ran in (key timestamp, key) order.
    Ordered(String),
}

impl Cursor {
    /// The cursor `progress` holds.
    pub fn of(progress: &ReplayProgress) -> Self {
        match progress.cursor.as_deref() {
            None => Self::Start,
            Some(raw) if is_order_key(raw) => Self::Ordered(raw.to_owned()),
            Some(key) => Self::After(key.to_owned()),
        }
    }

    /// Where the listing starts.
    fn start_after(&self) -> Option<&str> {
        match self {
            Self::After(key) => Some(key),
            Self::Start | Self::Ordered(_) => None,
        }
    }
}

/// True for an order key (`{10 digits}#…`); a staged key starts with its tenant id,
/// which has no `#`.
fn is_order_key(raw: &str) -> bool {
    raw.split_once('#')
        .is_some_and(|(seconds, _)| seconds.len() == 10 && seconds.bytes().all(|b| b.is_ascii_digit()))
}

/// `key`'s layout and staged second when it is one of `job`'s objects: a staged-object
/// key of the job's tenant whose timestamp is in the window.
fn in_window(job: &ReplayJob, key: &str) -> Option<(ObjectKey, i64)> {
    let layout = ObjectKey::parse(key).ok()?;
    let staged = layout.written_at_unix_seconds()?;
    (job.covers(staged) && layout.tenant_id() == &job.target.tenant_id).then_some((layout, staged))
}

/// Runs `job` to its end (or until cancelled or taken over), reporting to `report`.
pub async fn execute<D: Deliverer, L: Ledger, S: Staging, R: Report>(
    pipeline: &Pipeline<D, L>,
    staging: &S,
    bucket: &str,
    job: &ReplayJob,
    concurrency: usize,
    report: &R,
) -> ReplayProgress {
    let mut progress = job.progress.clone();
    progress.started_at_ms.get_or_insert_with(now_ms);
    progress.state = ReplayState::Listing;
    if let stop @ (Control::Cancel | Control::Lost) = report.report(&progress).await {
        return stopped(report, progress, stop).await;
    }
    let prefix = format!("{}/", job.target.tenant_id);
    let resume = Cursor::of(&progress);
    // Everything listed from here on is after what is finished (an earlier worker may
    // have counted the rest of its page already): it counts as it is found.
    progress.objects_total = progress.objects_done;
    let mut start_after = resume.start_after().map(str::to_owned);
    let mut beat = tokio::time::Instant::now();
    loop {
        let listed = beating(
            report,
            &progress,
            &mut beat,
            staging.page(bucket, &prefix, start_after.as_deref()),
        )
        .await;
        let page = match listed {
            Ok(Ok(page)) => page,
            Ok(Err(err)) => {
                tracing::warn!(replay_id = %job.replay_id, error = %err, "cannot list the staging bucket for a replay");
                let message =
                    "the staged objects could not be listed; request the replay again later".to_owned();
                return finish(report, progress, Some(message)).await;
            }
            Err(stop) => return stopped(report, progress, stop).await,
        };
        metrics::counter!("logspoke_worker_replay_pages_listed_total").increment(1);
        progress.pages_listed += 1;
        let objects = window(job, bucket, &page.keys, &resume);
        progress.objects_total += objects.len() as u64;
        progress.state = ReplayState::Delivering;
        if let Err(ended) = deliver_page(
            pipeline,
            job,
            objects,
            concurrency,
            report,
            &mut progress,
            &mut beat,
        )
        .await
        {
            return ended;
        }
        // Every key of the page is finished, also those outside the window.
        let Some(last) = page.keys.last() else { break };
        progress.cursor = Some(last.clone());
        if !page.more {
            break;
        }
        start_after = Some(last.clone());
    }
    finish(report, progress, None).await
}

/// Delivers one page's `objects` (in listing order), moving the cursor past each as every
/// object before it is finished; `Err` with the replay's end when it stops (failed,
/// cancelled or taken over).
async fn deliver_page<D: Deliverer, L: Ledger, R: Report>(
    pipeline: &Pipeline<D, L>,
    job: &ReplayJob,
    objects: Vec<StagedObject>,
    concurrency: usize,
    report: &R,
    progress: &mut ReplayProgress,
    reported: &mut tokio::time::Instant,
) -> Result<(), ReplayProgress> {
    let kind = job.target.delivery_type;
    let mut results = stream::iter(objects)
        .map(|object| async move {
            let mut outcome = pipeline.replay_one(&object, kind, job.mode).await;
            for retry in 1..RETRY.attempts {
                if !matches!(outcome, Replayed::Failed { retriable: true, .. }) {
                    break;
                }
                tokio::time::sleep(RETRY.bound(retry)).await;
                outcome = pipeline.replay_one(&object, kind, job.mode).await;
            }
            (object.key, outcome)
        })
        .buffered(concurrency.max(1));
    loop {
        // A slow object does not let the lease lapse: progress (with the cursor of what
        // is finished) is reported meanwhile.
        let next = match beating(report, progress, reported, results.next()).await {
            Ok(next) => next,
            Err(stop) => return Err(stopped(report, progress.clone(), stop).await),
        };
        let Some((key, outcome)) = next else { return Ok(()) };
        match outcome {
            Replayed::Delivered(delivered) => {
                progress.events += delivered.events;
                progress.bytes += delivered.bytes;
            }
            Replayed::Skipped => progress.objects_skipped += 1,
            Replayed::NotWanted => {}
            Replayed::Failed { message, .. } => {
                return Err(finish(report, progress.clone(), Some(message)).await)
            }
        }
        progress.objects_done += 1;
        progress.cursor = Some(key);
        if reported.elapsed() >= PROGRESS_EVERY {
            *reported = tokio::time::Instant::now();
            if let stop @ (Control::Cancel | Control::Lost) = report.report(progress).await {
                return Err(stopped(report, progress.clone(), stop).await);
            }
        }
    }
}

/// Awaits `work`, reporting `progress` whenever [`PROGRESS_EVERY`] passed since `last`
/// (which renews the lease and hears a cancellation); `Err` with the answer when a report
/// says to stop.
async fn beating<T, R: Report>(
    report: &R,
    progress: &ReplayProgress,
    last: &mut tokio::time::Instant,
    work: impl Future<Output = T>,
) -> Result<T, Control> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            () = tokio::time::sleep_until(*last + PROGRESS_EVERY) => {
                *last = tokio::time::Instant::now();
                match report.report(progress).await {
                    Control::Continue => {}
                    stop => return Err(stop),
                }
            }
        }
    }
}

async fn finish<R: Report>(
    report: &R,
    mut progress: ReplayProgress,
    error: Option<String>,
) -> ReplayProgress {
    progress.state = if error.is_some() {
        ReplayState::Failed
    } else {
        ReplayState::Done
    };
    progress.error = error;
    progress.finished_at_ms = Some(now_ms());
    if report.report(&progress).await == Control::Cancel {
        return cancelled(report, progress).await;
    }
    progress
}

/// What a replay a report told to stop ends as: cancelled (and reported so), or as it
/// stood when another replica took it over (which reports from then on).
async fn stopped<R: Report>(report: &R, progress: ReplayProgress, stop: Control) -> ReplayProgress {
    match stop {
        Control::Cancel => cancelled(report, progress).await,
        Control::Continue | Control::Lost => progress,
    }
}

async fn cancelled<R: Report>(report: &R, mut progress: ReplayProgress) -> ReplayProgress {
    progress.state = ReplayState::Cancelled;
    progress.finished_at_ms = Some(now_ms());
    report.report(&progress).await;
    progress
}

/// Reports into the job item through [`Jobs::progress`].
struct JobReport<'a, J> {
    jobs: &'a J,
    job: &'a ReplayJob,
    owner: &'a str,
}

impl<J: Jobs> Report for JobReport<'_, J> {
    async fn report(&self, progress: &ReplayProgress) -> Control {
        match self.jobs.progress(self.job, self.owner, progress).await {
            Ok(control) => control,
            Err(err) => {
                // The lease outlives a few failed writes; the next one renews it.
                tracing::warn!(replay_id = %self.job.replay_id, error = %err, "cannot record replay progress");
                Control::Continue
            }
        }
    }
}

/// Finds open replay jobs and runs them, one at a time per replica.
pub struct ReplayRunner<J, S> {
    /// The job items.
    pub jobs: J,
    /// The staging bucket's listing.
    pub staging: S,
    /// The staging bucket (`LOGSPOKE_STAGING_BUCKET`); without it no job can run.
    pub bucket: Option<String>,
    /// This replica's name in leases.
    pub owner: String,
    /// Objects delivered at once.
    pub concurrency: usize,
}

impl<J: Jobs, S: Staging> ReplayRunner<J, S> {
    /// Replay objects delivered at once for a worker with `max_in_flight` live slots: a
    /// quarter of them, at least one.
    pub fn concurrency(max_in_flight: usize) -> usize {
        (max_in_flight / 4).max(1)
    }

    /// Runs every open job this replica can take, one after the other.
    pub async fn tick<D: Deliverer, L: Ledger>(&self, pipeline: &Pipeline<D, L>) {
        let jobs = match self.jobs.open().await {
            Ok(jobs) => jobs,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list replay jobs");
                return;
            }
        };
        for job in jobs {
            match self.jobs.take(&job, &self.owner).await {
                Ok(Some(current)) => self.run_job(pipeline, &current).await,
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(replay_id = %job.replay_id, error = %err, "cannot take a replay job")
                }
            }
        }
    }

    async fn run_job<D: Deliverer, L: Ledger>(&self, pipeline: &Pipeline<D, L>, job: &ReplayJob) {
        let report = JobReport {
            jobs: &self.jobs,
            job,
            owner: &self.owner,
        };
        if job.cancelled {
            cancelled(&report, job.progress.clone()).await;
            return;
        }
        let Some(bucket) = &self.bucket else {
            tracing::error!(replay_id = %job.replay_id, "cannot run a replay: LOGSPOKE_STAGING_BUCKET is not set");
            let message = "replays are not set up on this installation yet; ask the provider".to_owned();
            finish(&report, job.progress.clone(), Some(message)).await;
            return;
        };
        tracing::info!(replay_id = %job.replay_id, target = %job.target, mode = job.mode.as_str(), "running a replay");
        let done = execute(pipeline, &self.staging, bucket, job, self.concurrency, &report).await;
        tracing::info!(
            replay_id = %job.replay_id,
            state = done.state.as_str(),
            objects = done.objects_done,
            skipped = done.objects_skipped,
            "replay ended"
        );
        metrics::counter!("logspoke_worker_replays_total", "state" => done.state.as_str()).increment(1);
    }
}

#[cfg(test)]
mod tests;

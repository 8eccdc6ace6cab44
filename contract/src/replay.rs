//! Replay jobs: redelivering a time window of one target's staged objects.
//!
//! The api stores a replay in Postgres and publishes it through its outbox as a
//! [`ReplayJob`] item in the delivery ledger table (pk `replay`, sk = the replay id). The
//! workers find unfinished jobs there, one takes a job's lease, runs it and writes its
//! [`ReplayProgress`] into the same item (at least every 5 s); the api reads that progress
//! back for the replay document. A cancellation is the api setting `cancelled`; the worker
//! running the job sees it at its next progress write and stops.

use serde::{Deserialize, Serialize};

use crate::attrs::{n, s, Reader};
use crate::ledger::{key, Target, LEDGER_SCHEMA_VERSION};
use crate::{Attr, Attributes, DeliveryType, ParseError, TenantId};

/// The partition holding every replay job.
pub const REPLAY_PARTITION: &str = "replay";

/// How long an ended job item stays readable (its `expires_at` is set this far past the
/// end), so the api can read how it ended.
pub const ENDED_JOB_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// The sparse index of the jobs that are not final: its key attribute, set to
/// [`REPLAY_PARTITION`] while a job may still run and removed when it ends, so a worker
/// looking for work reads the open jobs only, never the ended ones kept for their
/// progress documents.
pub const OPEN_JOBS_ATTRIBUTE: &str = "open_jobs";

/// The ledger table's index on [`OPEN_JOBS_ATTRIBUTE`] (and `sk`).
pub const OPEN_JOBS_INDEX: &str = "open-replay-jobs";

/// Which objects of the window a replay sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReplayMode {
    /// Only objects the ledger does not show as delivered to the target: a backfill of
    /// gaps, never a duplicate.
    #[default]
    Missing,
    /// Every object of the window, also those the target has (duplicates by request).
    All,
}

impl ReplayMode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::All => "all",
        }
    }

    /// Reads the wire spelling back.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "missing" => Ok(Self::Missing),
            "all" => Ok(Self::All),
            other => Err(ParseError::new(format!(
                "unknown replay mode '{other}'; expected missing or all"
            ))),
        }
    }
}

/// Where a replay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReplayState {
    /// Published, no worker has taken it yet.
    Queued,
    /// A worker lists the first page of the window's objects in the staging bucket.
    Listing,
    /// A worker delivers them page by page (each pod's oldest first), listing on.
    Delivering,
    /// Every object of the window was delivered or skipped.
    Done,
    /// It stopped on an error (`error` says which); objects before it were delivered.
    Failed,
    /// Cancelled on request.
    Cancelled,
}

impl ReplayState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Listing,
        Self::Delivering,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Listing => "listing",
            Self::Delivering => "delivering",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the wire spelling back.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
            .ok_or_else(|| ParseError::new(format!("unknown replay state '{raw}'")))
    }

    /// True once nothing more happens to the replay.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// What a worker reports of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Where it is.
    pub state: ReplayState,
    /// Objects of the window listed so far (final once the replay ends).
    pub objects_total: u64,
    /// Objects finished: delivered or skipped.
    pub objects_done: u64,
    /// Of those, skipped because the target had them (`missing` mode).
    pub objects_skipped: u64,
    /// Events delivered.
    pub events: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// ListObjectsV2 pages the window's listing took so far (up to 1,000 staged keys of
    /// the tenant each): what the listing cost, across every worker that ran the job.
    pub pages_listed: u64,
    /// When a worker started it, ms since the epoch.
    pub started_at_ms: Option<i64>,
    /// When it ended, ms since the epoch.
    pub finished_at_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The staged key, in the bucket's listing order, up to which every object is
    /// finished: a worker that takes the job over lists after it. Workers that sorted the
    /// window wrote an order key (`{unix seconds, 10 digits}#{object key}`) instead.
    pub cursor: Option<String>,
}

impl ReplayProgress {
    /// A job no worker has touched.
    pub fn queued() -> Self {
        Self {
            state: ReplayState::Queued,
            objects_total: 0,
            objects_done: 0,
            objects_skipped: 0,
            events: 0,
            bytes: 0,
            pages_listed: 0,
            started_at_ms: None,
            finished_at_ms: None,
            error: None,
            cursor: None,
        }
    }

    /// The progress attributes, as `name → value` (workers `SET` them).
    pub fn attributes(&self) -> Vec<(&'static str, Attr)> {
        let mut out = vec![
            ("state", s(self.state.as_str())),
            ("objects_total", n(self.objects_total)),
            ("objects_done", n(self.objects_done)),
            ("objects_skipped", n(self.objects_skipped)),
            ("events", n(self.events)),
            ("bytes", n(self.bytes)),
            ("pages_listed", n(self.pages_listed)),
        ];
        let optional = [
            ("started_at_ms", self.started_at_ms.map(n)),
            ("finished_at_ms", self.finished_at_ms.map(n)),
            ("error", self.error.as_deref().map(s)),
            ("cursor", self.cursor.as_deref().map(s)),
        ];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?))),
        );
        out
    }

    fn read(r: &Reader<'_>) -> Result<Self, ParseError> {
        Ok(Self {
            state: match r.opt_s("state") {
                Some(raw) => ReplayState::parse(raw).map_err(|e| r.bad("state", e))?,
                None => ReplayState::Queued,
            },
            objects_total: r.count("objects_total")?,
            objects_done: r.count("objects_done")?,
            objects_skipped: r.count("objects_skipped")?,
            events: r.count("events")?,
            bytes: r.count("bytes")?,
            pages_listed: r.count("pages_listed")?,
            started_at_ms: r.opt_n("started_at_ms")?,
            finished_at_ms: r.opt_n("finished_at_ms")?,
            error: r.opt_s("error").map(str::to_owned),
            cursor: r.opt_s("cursor").map(str::to_owned),
        })
    }
}

/// The sort key of a staged object in a replay's order: staged second, then key.
pub fn replay_order_key(staged_unix_seconds: i64, object_key: &str) -> String {
    format!("{:010}#{object_key}", staged_unix_seconds.max(0))
}

/// A replay as published to the workers, with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayJob {
    /// The replay's id (a UUID, also the api's).
    pub replay_id: String,
    /// The one target it delivers to.
    pub target: Target,
    /// Window start (inclusive), ms since the epoch, by the object keys' timestamps.
    pub since_ms: i64,
    /// Window end (exclusive), ms since the epoch.
    pub until_ms: i64,
    /// Which objects it sends.
    pub mode: ReplayMode,
    /// Set by the api when the replay is cancelled.
    pub cancelled: bool,
    /// When it was requested, ms since the epoch.
    pub requested_at_ms: i64,
    /// What the workers did so far.
    pub progress: ReplayProgress,
}

impl ReplayJob {
    /// The key of replay `replay_id`'s item.
    pub fn key_of(replay_id: &str) -> Attributes {
        key(REPLAY_PARTITION.to_owned(), replay_id.to_owned())
    }

    /// The DynamoDB attributes of this job.
    pub fn to_attributes(&self) -> Attributes {
        let mut item = Self::key_of(&self.replay_id);
        item.insert("schema_version".into(), n(LEDGER_SCHEMA_VERSION));
        item.insert("tenant_id".into(), s(self.target.tenant_id.as_str()));
        item.insert("type".into(), s(self.target.delivery_type.as_str()));
        item.insert("since_ms".into(), n(self.since_ms));
        item.insert("until_ms".into(), n(self.until_ms));
        item.insert("mode".into(), s(self.mode.as_str()));
        item.insert("cancelled".into(), Attr::Bool(self.cancelled));
        item.insert("requested_at_ms".into(), n(self.requested_at_ms));
        for (name, value) in self.progress.attributes() {
            item.insert(name.into(), value);
        }
        if !self.progress.state.is_final() {
            item.insert(OPEN_JOBS_ATTRIBUTE.into(), s(REPLAY_PARTITION));
        }
        item
    }

    /// Reads a job back.
    pub fn from_attributes(item: &Attributes) -> Result<Self, ParseError> {
        let r = Reader(item);
        let tenant = TenantId::parse(r.s("tenant_id")?).map_err(|e| r.bad("tenant_id", e))?;
        let kind = DeliveryType::parse(r.s("type")?).map_err(|e| r.bad("type", e))?;
        Ok(Self {
            replay_id: r.s("sk")?.to_owned(),
            target: Target::new(tenant, kind),
            since_ms: r.n("since_ms")?,
            until_ms: r.n("until_ms")?,
            mode: ReplayMode::parse(r.s("mode")?).map_err(|e| r.bad("mode", e))?,
            cancelled: matches!(item.get("cancelled"), Some(Attr::Bool(true))),
            requested_at_ms: r.n("requested_at_ms")?,
            progress: ReplayProgress::read(&r)?,
        })
    }

    /// True when an object staged at `staged_unix_seconds` is in the window.
    pub fn covers(&self, staged_unix_seconds: i64) -> bool {
        let ms = staged_unix_seconds.saturating_mul(1000);
        ms >= self.since_ms && ms < self.until_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ReplayJob {
        ReplayJob {
            replay_id: "0b6f1c1e-8d2a-4c53-9b7e-2f5d9a1c3e4f".into(),
            target: Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch),
            since_ms: 1_795_338_000_000,
            until_ms: 1_795_341_600_000,
            mode: ReplayMode::Missing,
            cancelled: false,
            requested_at_ms: 1_795_345_200_000,
            progress: ReplayProgress::queued(),
        }
    }

    #[test]
    fn jobs_round_trip_and_unknown_modes_and_states_are_errors() {
        let mut running = job();
        running.progress = ReplayProgress {
            state: ReplayState::Delivering,
            objects_total: 30,
            objects_done: 12,
            objects_skipped: 2,
            events: 600,
            bytes: 60_000,
            pages_listed: 1,
            started_at_ms: Some(1_795_345_201_000),
            finished_at_ms: None,
            error: None,
            cursor: Some(replay_order_key(
                1_795_338_060,
                "acme/c1/app/pod/1795338060-a.json.gz",
            )),
        };
        for job in [job(), running] {
            assert_eq!(ReplayJob::from_attributes(&job.to_attributes()).unwrap(), job);
        }
        let mut item = job().to_attributes();
        item.insert("mode".into(), s("some"));
        assert!(ReplayJob::from_attributes(&item)
            .unwrap_err()
            .message
            .starts_with("attribute mode"));
        item.insert("mode".into(), s("all"));
        item.insert("state".into(), s("paused"));
        assert!(ReplayJob::from_attributes(&item)
            .unwrap_err()
            .message
            .starts_with("attribute state"));
        for state in ReplayState::ALL {
            assert_eq!(ReplayState::parse(state.as_str()).unwrap(), state);
        }
    }

    #[test]
    fn the_window_includes_its_start_and_excludes_its_end() {
        let job = job();
        assert!(job.covers(1_795_338_000));
        assert!(job.covers(1_795_341_599));
        assert!(!job.covers(1_795_341_600));
        assert!(!job.covers(1_795_337_999));
    }

    #[test]
    fn replay_order_is_staged_time_then_key() {
        let mut keys = [
            replay_order_key(1_795_338_061, "acme/c1/a/p/1795338061-a.json.gz"),
            replay_order_key(999, "acme/c1/a/p/999-z.json.gz"),
            replay_order_key(1_795_338_060, "acme/c9/a/p/1795338060-b.json.gz"),
        ];
        keys.sort();
        assert!(keys[0].contains("999-z") && keys[1].contains("c9") && keys[2].ends_with("-a.json.gz"));
    }
}

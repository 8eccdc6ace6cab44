//! One replay, as the customer sees it, is one job per provider region: each region's
//! workers replay the window from their own staging bucket and report in their own
//! ledger. [`combine`] makes one progress of the regions' (the rule, tested in
//! `tests.rs`):
//!
//! - counts add up; `started_at` is the earliest start;
//! - the replay has ended only when every region's job has ended and every region was
//!   read (a region whose ledger could not be read counts as not ended, so the replay is
//!   never shown, nor recorded, as ended without every region's word). Then its state
//!   is `failed` if any region failed, else `cancelled` if any was cancelled, else
//!   `done`; `finished_at` is the latest end;
//! - until then it is `delivering` if any region delivers, else `listing` if any
//!   lists, else `queued` (a region that ended waits for the others): the most advanced
//!   running state, since the replay as a whole is as far as its furthest region;
//! - `error` is the first region's (in configured order) that has one, prefixed with
//!   `{region}: ` when the replay runs in more than one region; it shows as soon as
//!   a region failed, while the others still run.

use logspoke_contract::replay::ReplayState;
use logspoke_contract::Region;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::Progress;
use crate::openapi::fields;

/// One provider region's part of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegionProgress {
    /// The provider region, whose workers replay what was staged there.
    #[schema(schema_with = fields::delivery_region)]
    #[serde(deserialize_with = "region_name")]
    pub region: Region,
    /// Where this region's job is, as its workers report it.
    pub progress: Progress,
}

/// Reads a region's name back (`Region`'s own `Deserialize` borrows for `'static`).
fn region_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Region, D::Error> {
    let name = String::deserialize(deserializer)?;
    Region::parse(&name).map_err(serde::de::Error::custom)
}

/// A replay's progress: combined, and each region's. Also what Postgres keeps once the
/// replay ended (`final_progress`: the combined fields, with `regions`; replays recorded
/// before regions were read have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionalProgress {
    /// The regions combined ([`combine`]).
    #[serde(flatten)]
    pub progress: Progress,
    /// Each region read, in configured order.
    #[serde(default)]
    pub regions: Vec<RegionProgress>,
}

impl RegionalProgress {
    /// The regions' progress and their combination; `unread` when some configured
    /// region could not be read.
    pub fn of(regions: Vec<RegionProgress>, unread: bool) -> Self {
        Self {
            progress: combine(&regions, unread),
            regions,
        }
    }
}

impl RegionalProgress {
    /// A replay no worker has taken yet in any of `regions`.
    pub fn queued(regions: &[Region]) -> Self {
        let regions = regions
            .iter()
            .map(|region| RegionProgress {
                region: *region,
                progress: Progress::queued(),
            })
            .collect();
        Self::of(regions, false)
    }
}

/// The regions' progress as one (see the module's rules).
pub fn combine(regions: &[RegionProgress], unread: bool) -> Progress {
    let mut combined = Progress::queued();
    for region in regions {
        let progress = &region.progress;
        let add = |sum: &mut u64, more: u64| *sum = sum.saturating_add(more);
        add(&mut combined.objects_total, progress.objects_total);
        add(&mut combined.objects_done, progress.objects_done);
        add(&mut combined.objects_skipped, progress.objects_skipped);
        add(&mut combined.events, progress.events);
        add(&mut combined.bytes, progress.bytes);
        add(&mut combined.pages_listed, progress.pages_listed);
        combined.started_at = match (combined.started_at, progress.started_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let states: Vec<ReplayState> = regions.iter().map(|r| r.progress.state).collect();
    combined.state = combined_state(&states, unread);
    if combined.state.is_final() {
        combined.finished_at = regions.iter().filter_map(|r| r.progress.finished_at).max();
    }
    let several = regions.len() > 1 || (unread && !regions.is_empty());
    combined.error = regions.iter().find_map(|r| {
        let error = r.progress.error.as_ref()?;
        Some(match several {
            true => format!("{}: {error}", r.region),
            false => error.clone(),
        })
    });
    combined
}

/// The state of a replay whose regions are in `states` (`unread`: some region is not
/// known), by the module's rules.
pub fn combined_state(states: &[ReplayState], unread: bool) -> ReplayState {
    let any = |state: ReplayState| states.contains(&state);
    let ended = !unread && !states.is_empty() && states.iter().all(|s| s.is_final());
    if ended {
        if any(ReplayState::Failed) {
            ReplayState::Failed
        } else if any(ReplayState::Cancelled) {
            ReplayState::Cancelled
        } else {
            ReplayState::Done
        }
    } else if any(ReplayState::Delivering) {
        ReplayState::Delivering
    } else if any(ReplayState::Listing) {
        ReplayState::Listing
    } else {
        ReplayState::Queued
    }
}

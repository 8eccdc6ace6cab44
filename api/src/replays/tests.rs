use chrono::{TimeDelta, TimeZone, Utc};
use logspoke_contract::replay::ReplayProgress;

use super::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    at("2026-12-03T12:00:00Z")
}

const WEST: &str = "eu-west-1";
const EAST: &str = "us-east-1";
const SOUTH: &str = "ap-south-1";

fn region(name: &str) -> Region {
    Region::parse(name).unwrap()
}

/// The job items of a replay in one region (eu-west-1).
fn alone(job: Option<&ReplayJob>) -> Vec<(Region, Option<&ReplayJob>)> {
    vec![(region(WEST), job)]
}

fn in_region(name: &str, progress: Progress) -> RegionProgress {
    RegionProgress {
        region: region(name),
        progress,
    }
}

fn target() -> Target {
    Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
}

fn stored(requested_at: DateTime<Utc>, final_progress: Option<RegionalProgress>) -> StoredReplay {
    StoredReplay {
        replay_id: Uuid::now_v7(),
        target: target(),
        since: at("2026-12-02T00:00:00Z"),
        until: at("2026-12-03T00:00:00Z"),
        mode: ReplayMode::Missing,
        requested_by: "alice".into(),
        requested_at,
        cancel_requested_at: None,
        final_progress,
    }
}

#[test]
fn a_window_within_the_retention_is_accepted_up_to_its_limits() {
    let cases = [
        ("2026-12-03T11:00:00Z", "2026-12-03T12:00:00Z"),
        // Exactly the retention, starting at the oldest object the bucket may hold.
        ("2026-09-04T12:00:00Z", "2026-12-03T12:00:00Z"),
        // A window reaching into the future is fine: what is not staged yet is live.
        ("2026-12-03T11:00:00Z", "2026-12-04T00:00:00Z"),
    ];
    for (since, until) in cases {
        assert_eq!(
            check_window(at(since), at(until), now(), 90),
            Ok(()),
            "{since}..{until}"
        );
    }
}

#[test]
fn empty_reversed_too_long_and_too_old_windows_name_the_field_and_the_retention() {
    let refused = |since: &str, until: &str| check_window(at(since), at(until), now(), 90).unwrap_err();
    let empty = refused("2026-12-03T11:00:00Z", "2026-12-03T11:00:00Z");
    assert_eq!(empty.field, "until");
    assert!(empty.message.contains("empty"), "{}", empty.message);
    let reversed = refused("2026-12-03T11:00:00Z", "2026-12-03T10:00:00Z");
    assert!(reversed.message.contains("reversed"), "{}", reversed.message);
    let long = refused("2026-09-04T12:00:00Z", "2026-12-04T12:00:01Z");
    assert_eq!(long.field, "until");
    assert!(long.message.contains("90 days"), "{}", long.message);
    let old = refused("2026-09-04T11:59:59Z", "2026-09-05T00:00:00Z");
    assert_eq!(old.field, "since");
    assert!(
        old.message.contains("90 days") && old.message.contains("2026-09-04T12:00:00Z"),
        "{}",
        old.message
    );
}

#[test]
fn the_job_carries_the_window_in_milliseconds_and_starts_queued() {
    let replay = NewReplay {
        target: target(),
        since: at("2026-12-03T11:00:00Z"),
        until: at("2026-12-03T12:00:00Z"),
        mode: ReplayMode::All,
    };
    let id = Uuid::now_v7();
    let job = job_for(id, &replay, now());
    assert_eq!(job.replay_id, id.to_string());
    assert_eq!(
        (job.since_ms, job.until_ms),
        (1_796_295_600_000, 1_796_299_200_000)
    );
    assert_eq!(job.requested_at_ms, now().timestamp_millis());
    assert_eq!(job.mode, ReplayMode::All);
    assert!(!job.cancelled);
    assert_eq!(job.progress, ReplayProgress::queued());
}

#[test]
fn a_replay_stands_as_recorded_as_reported_or_queued_until_its_record_could_have_expired() {
    let done = Progress {
        state: ReplayState::Done,
        objects_total: 3,
        objects_done: 3,
        ..Progress::queued()
    };
    let done = RegionalProgress::of(vec![in_region(WEST, done)], false);
    let recorded = stored(now(), Some(done.clone()));
    assert_eq!(
        standing(&recorded, &alone(None), false, now()),
        Standing::Recorded(done)
    );

    let fresh = stored(now(), None);
    let mut job = job_for(fresh.replay_id, &new_of(&fresh), fresh.requested_at);
    assert_eq!(
        standing(&fresh, &alone(None), false, now()),
        Standing::Reported {
            progress: RegionalProgress::queued(&[region(WEST)]),
            newly_final: false
        }
    );
    job.progress.state = ReplayState::Delivering;
    job.progress.started_at_ms = Some(now().timestamp_millis());
    let running = standing(&fresh, &alone(Some(&job)), false, now());
    assert_eq!(running.progress().progress.state, ReplayState::Delivering);
    assert_eq!(running.progress().progress.started_at, Some(now()));
    assert!(matches!(
        running,
        Standing::Reported {
            newly_final: false,
            ..
        }
    ));
    job.progress.state = ReplayState::Cancelled;
    assert!(matches!(
        standing(&fresh, &alone(Some(&job)), false, now()),
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));

    // No item 31 days after the request: it ended unseen and its item expired.
    let old = stored(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), None);
    let expired = standing(&old, &alone(None), false, now());
    assert_eq!(expired.progress().progress.state, ReplayState::Failed);
    assert!(expired
        .progress()
        .progress
        .error
        .as_deref()
        .unwrap()
        .contains("expired"));
    assert!(matches!(
        expired,
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));
}

fn new_of(replay: &StoredReplay) -> NewReplay {
    NewReplay {
        target: replay.target.clone(),
        since: replay.since,
        until: replay.until,
        mode: replay.mode,
    }
}

#[test]
fn a_cancelled_replay_whose_job_never_appeared_ends_and_an_item_of_another_target_is_not_its_own() {
    let mut asked = stored(now() - TimeDelta::minutes(10), None);
    asked.cancel_requested_at = Some(now() - TimeDelta::minutes(2));
    assert_eq!(
        standing(&asked, &alone(None), false, now())
            .progress()
            .progress
            .state,
        ReplayState::Queued
    );
    asked.cancel_requested_at = Some(now() - TimeDelta::minutes(6));
    let ended = standing(&asked, &alone(None), false, now());
    assert_eq!(ended.progress().progress.state, ReplayState::Cancelled);
    assert_eq!(ended.progress().progress.finished_at, asked.cancel_requested_at);
    assert!(matches!(
        ended,
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));

    let fresh = stored(now(), None);
    let mut job = job_for(fresh.replay_id, &new_of(&fresh), fresh.requested_at);
    job.progress.state = ReplayState::Done;
    job.target = Target::new(TenantId::parse("globex").unwrap(), DeliveryType::Cloudwatch);
    assert_eq!(
        standing(&fresh, &alone(Some(&job)), false, now())
            .progress()
            .progress
            .state,
        ReplayState::Queued
    );
}

fn progress(state: ReplayState) -> Progress {
    Progress {
        state,
        ..Progress::queued()
    }
}

#[test]
fn a_replay_ends_only_once_every_region_ended_and_until_then_is_as_far_as_its_furthest_region() {
    use ReplayState::*;
    let cases: [(&[ReplayState], bool, ReplayState); 14] = [
        (&[Done, Done], false, Done),
        (&[Done, Failed], false, Failed),
        (&[Cancelled, Done], false, Cancelled),
        (&[Cancelled, Failed, Done], false, Failed),
        (&[Done], false, Done),
        // Not every region ended: the most advanced running state, else queued.
        (&[Done, Queued], false, Queued),
        (&[Done, Delivering], false, Delivering),
        (&[Queued, Listing], false, Listing),
        (&[Listing, Queued, Delivering], false, Delivering),
        (&[Failed, Listing], false, Listing),
        (&[Cancelled, Queued], false, Queued),
        // A region that could not be read has not ended.
        (&[Done, Done], true, Queued),
        (&[Failed, Delivering], true, Delivering),
        (&[], false, Queued),
    ];
    for (states, unread, expected) in cases {
        assert_eq!(
            regions::combined_state(states, unread),
            expected,
            "{states:?} unread={unread}"
        );
        let regions: Vec<RegionProgress> = states
            .iter()
            .zip([WEST, EAST, SOUTH])
            .map(|(state, name)| in_region(name, progress(*state)))
            .collect();
        let combined = RegionalProgress::of(regions, unread);
        assert_eq!(combined.progress.state, expected, "{states:?} unread={unread}");
    }
}

#[test]
fn counts_add_up_from_the_earliest_start_to_the_latest_end_once_all_ended() {
    let west = Progress {
        state: ReplayState::Done,
        objects_total: 10,
        objects_done: 10,
        objects_skipped: 2,
        events: 80,
        bytes: 8_000,
        pages_listed: 1,
        started_at: Some(at("2026-12-03T11:00:05Z")),
        finished_at: Some(at("2026-12-03T11:02:00Z")),
        error: None,
    };
    let east = Progress {
        state: ReplayState::Delivering,
        objects_total: 5,
        objects_done: 1,
        objects_skipped: 0,
        events: 10,
        bytes: 1_000,
        pages_listed: 2,
        started_at: Some(at("2026-12-03T11:00:01Z")),
        finished_at: None,
        error: None,
    };
    let running = regions::combine(
        &[in_region(WEST, west.clone()), in_region(EAST, east.clone())],
        false,
    );
    assert_eq!(
        running,
        Progress {
            state: ReplayState::Delivering,
            objects_total: 15,
            objects_done: 11,
            objects_skipped: 2,
            events: 90,
            bytes: 9_000,
            pages_listed: 3,
            started_at: Some(at("2026-12-03T11:00:01Z")),
            finished_at: None,
            error: None,
        }
    );
    let east_done = Progress {
        state: ReplayState::Done,
        objects_done: 5,
        finished_at: Some(at("2026-12-03T11:01:00Z")),
        ..east
    };
    let done = regions::combine(&[in_region(WEST, west), in_region(EAST, east_done)], false);
    assert_eq!(done.state, ReplayState::Done);
    assert_eq!(done.objects_done, 15);
    assert_eq!(
        done.finished_at,
        Some(at("2026-12-03T11:02:00Z")),
        "the latest end"
    );
    assert_eq!(regions::combine(&[], false), Progress::queued());
}

#[test]
fn a_failed_regions_reason_is_named_by_its_region_when_several_run_the_replay() {
    let failed = |error: &str| Progress {
        state: ReplayState::Failed,
        error: Some(error.to_owned()),
        ..Progress::queued()
    };
    let several = regions::combine(
        &[
            in_region(WEST, progress(ReplayState::Delivering)),
            in_region(EAST, failed("the staging bucket is gone")),
            in_region(SOUTH, failed("listing failed")),
        ],
        false,
    );
    assert_eq!(several.state, ReplayState::Delivering, "ends once the others end");
    assert_eq!(
        several.error.as_deref(),
        Some("us-east-1: the staging bucket is gone")
    );
    let alone = regions::combine(&[in_region(WEST, failed("listing failed"))], false);
    assert_eq!(
        alone.error.as_deref(),
        Some("listing failed"),
        "as before regions"
    );
    let with_unread = regions::combine(&[in_region(WEST, failed("listing failed"))], true);
    assert_eq!(with_unread.error.as_deref(), Some("eu-west-1: listing failed"));
    assert_eq!(with_unread.state, ReplayState::Queued);
}

#[test]
fn a_replay_across_regions_is_newly_final_once_every_region_ended_and_was_read() {
    let fresh = stored(now(), None);
    let mut west = job_for(fresh.replay_id, &new_of(&fresh), fresh.requested_at);
    west.progress.state = ReplayState::Done;
    west.progress.objects_done = 4;
    let mut east = west.clone();
    east.progress.objects_done = 3;
    let two = |east| -> Vec<(Region, Option<&ReplayJob>)> {
        vec![(region(WEST), Some(&west)), (region(EAST), east)]
    };

    // The relay has not reached us-east-1 yet: queued there, so not ended.
    let waiting = standing(&fresh, &two(None), false, now());
    assert_eq!(waiting.progress().progress.state, ReplayState::Queued);
    let states: Vec<ReplayState> = waiting
        .progress()
        .regions
        .iter()
        .map(|r| r.progress.state)
        .collect();
    assert_eq!(states, [ReplayState::Done, ReplayState::Queued]);
    assert!(matches!(
        waiting,
        Standing::Reported {
            newly_final: false,
            ..
        }
    ));

    let ended = standing(&fresh, &two(Some(&east)), false, now());
    assert_eq!(ended.progress().progress.state, ReplayState::Done);
    assert_eq!(ended.progress().progress.objects_done, 7);
    assert!(matches!(
        ended,
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));

    // A third region could not be read: not final, whatever the others say.
    let unread = standing(&fresh, &two(Some(&east)), true, now());
    assert!(matches!(
        unread,
        Standing::Reported {
            newly_final: false,
            ..
        }
    ));

    // Cancelled long ago and us-east-1 never got the job: it ended there unseen.
    let mut asked = fresh.clone();
    asked.cancel_requested_at = Some(now() - TimeDelta::minutes(CANCELLED_UNSEEN_MINUTES + 1));
    let cancelled = standing(&asked, &two(None), false, now());
    assert_eq!(cancelled.progress().progress.state, ReplayState::Cancelled);
    assert!(matches!(
        cancelled,
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));
}

#[test]
fn the_recorded_end_keeps_each_region_and_old_records_read_without_regions() {
    let progress = RegionalProgress::of(
        vec![
            in_region(WEST, progress(ReplayState::Done)),
            in_region(EAST, progress(ReplayState::Cancelled)),
        ],
        false,
    );
    let stored = serde_json::to_value(&progress).unwrap();
    assert_eq!(stored["state"], "cancelled");
    assert_eq!(stored["regions"][1]["region"], "us-east-1");
    assert_eq!(stored["regions"][1]["progress"]["state"], "cancelled");
    let read: RegionalProgress = serde_json::from_value(stored).unwrap();
    assert_eq!(read, progress);

    let old = serde_json::json!({
        "state": "done", "objects_total": 3, "objects_done": 3, "objects_skipped": 0,
        "events": 30, "bytes": 300, "started_at": null, "finished_at": null, "error": null
    });
    let read: RegionalProgress = serde_json::from_value(old).unwrap();
    assert_eq!(read.progress.objects_done, 3);
    assert!(read.regions.is_empty());
}

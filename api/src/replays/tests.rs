use chrono::{TimeDelta, TimeZone, Utc};
use logspoke_contract::replay::ReplayProgress;

use super::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    at("2026-12-03T12:00:00Z")
}

fn target() -> Target {
    Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
}

fn stored(requested_at: DateTime<Utc>, final_progress: Option<Progress>) -> StoredReplay {
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
    let recorded = stored(now(), Some(done.clone()));
    assert_eq!(standing(&recorded, None, now()), Standing::Recorded(done));

    let fresh = stored(now(), None);
    let mut job = job_for(fresh.replay_id, &new_of(&fresh), fresh.requested_at);
    assert_eq!(
        standing(&fresh, None, now()),
        Standing::Reported {
            progress: Progress::queued(),
            newly_final: false
        }
    );
    job.progress.state = ReplayState::Delivering;
    job.progress.started_at_ms = Some(now().timestamp_millis());
    let running = standing(&fresh, Some(&job), now());
    assert_eq!(running.progress().state, ReplayState::Delivering);
    assert_eq!(running.progress().started_at, Some(now()));
    assert!(matches!(
        running,
        Standing::Reported {
            newly_final: false,
            ..
        }
    ));
    job.progress.state = ReplayState::Cancelled;
    assert!(matches!(
        standing(&fresh, Some(&job), now()),
        Standing::Reported {
            newly_final: true,
            ..
        }
    ));

    // No item 31 days after the request: it ended unseen and its item expired.
    let old = stored(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), None);
    let expired = standing(&old, None, now());
    assert_eq!(expired.progress().state, ReplayState::Failed);
    assert!(expired.progress().error.as_deref().unwrap().contains("expired"));
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
        standing(&asked, None, now()).progress().state,
        ReplayState::Queued
    );
    asked.cancel_requested_at = Some(now() - TimeDelta::minutes(6));
    let ended = standing(&asked, None, now());
    assert_eq!(ended.progress().state, ReplayState::Cancelled);
    assert_eq!(ended.progress().finished_at, asked.cancel_requested_at);
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
        standing(&fresh, Some(&job), now()).progress().state,
        ReplayState::Queued
    );
}

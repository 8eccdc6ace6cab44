use chrono::TimeZone;
use logspoke_contract::ledger::HealthState::{Failing, Healthy, Idle, Paused};

use super::*;

fn target() -> Target {
    Target::new(TenantId::parse("acme").unwrap(), DeliveryType::Cloudwatch)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

const RETENTION: TimeDelta = TimeDelta::days(7);

fn seen(state: HealthState, parked: u64, cause: Option<Cause>) -> Seen {
    Seen {
        state,
        parked,
        cause,
        complete: true,
        oldest_parked_at: None,
    }
}

fn episode(opened_ago: TimeDelta, parked_max: u64, expiry_warned: bool) -> Episode {
    Episode {
        episode_id: Uuid::nil(),
        target: target(),
        opened_at: now() - opened_ago,
        parked_max,
        expiry_warned,
    }
}

#[test]
fn a_target_that_starts_failing_for_the_customer_opens_an_episode() {
    let parked = seen(Failing, 3, Some(Cause::LogGroupMissing));
    assert_eq!(decide(None, &parked, RETENTION, now()), Decision::Open);
    let denied = seen(Failing, 0, Some(Cause::PermissionDenied));
    assert_eq!(decide(None, &denied, RETENTION, now()), Decision::Open);
    let throttled = seen(Failing, 2, Some(Cause::Throttled));
    assert_eq!(decide(None, &throttled, RETENTION, now()), Decision::Open);
}

#[test]
fn provider_side_trouble_and_quiet_targets_notify_nobody() {
    let provider = seen(Failing, 0, Some(Cause::AwsUnavailable));
    assert_eq!(decide(None, &provider, RETENTION, now()), Decision::Nothing);
    for state in [Healthy, Idle, Paused] {
        assert_eq!(
            decide(None, &seen(state, 0, None), RETENTION, now()),
            Decision::Nothing
        );
    }
}

#[test]
fn a_failing_target_is_tracked_then_closed_with_what_drained() {
    let open = episode(TimeDelta::hours(1), 3, false);
    let more = seen(Failing, 7, Some(Cause::LogGroupMissing));
    assert_eq!(
        decide(Some(&open), &more, RETENTION, now()),
        Decision::Track { parked_max: 7 }
    );
    let fewer = seen(Failing, 2, Some(Cause::LogGroupMissing));
    assert_eq!(decide(Some(&open), &fewer, RETENTION, now()), Decision::Nothing);
    let open = episode(TimeDelta::hours(1), 7, false);
    assert_eq!(
        decide(Some(&open), &seen(Healthy, 0, None), RETENTION, now()),
        Decision::Close { drained: 7 }
    );
}

#[test]
fn recovery_needs_every_region_and_nothing_parked() {
    let open = episode(TimeDelta::hours(1), 4, false);
    let unread = Seen {
        complete: false,
        ..seen(Healthy, 0, None)
    };
    assert_eq!(decide(Some(&open), &unread, RETENTION, now()), Decision::Nothing);
    // Disabled while failing: parked objects wait, so nothing is told.
    assert_eq!(
        decide(Some(&open), &seen(Paused, 4, None), RETENTION, now()),
        Decision::Nothing
    );
    assert_eq!(
        decide(Some(&open), &seen(Idle, 0, None), RETENTION, now()),
        Decision::Close { drained: 4 }
    );
}

#[test]
fn the_oldest_parked_object_decides_the_warning_not_the_episodes_start() {
    // Objects parked while the target was paused, long before it failed.
    let young = episode(TimeDelta::hours(1), 5, false);
    let old_objects = Seen {
        oldest_parked_at: Some(now() - TimeDelta::days(6) - TimeDelta::hours(2)),
        ..seen(Failing, 5, Some(Cause::BucketMissing))
    };
    assert!(old_objects.wants_oldest_parked(Some(&young)));
    assert_eq!(
        decide(Some(&young), &old_objects, RETENTION, now()),
        Decision::WarnExpiry {
            expires_at: now() - TimeDelta::days(6) - TimeDelta::hours(2) + RETENTION
        }
    );
    let warned = episode(TimeDelta::hours(1), 5, true);
    assert!(!old_objects.wants_oldest_parked(Some(&warned)));
    assert!(!seen(Healthy, 0, None).wants_oldest_parked(Some(&young)));
}

#[test]
fn parked_objects_are_warned_about_once_a_day_before_they_expire() {
    let failing = seen(Failing, 5, Some(Cause::BucketMissing));
    let young = episode(TimeDelta::days(5), 5, false);
    assert_eq!(
        decide(Some(&young), &failing, RETENTION, now()),
        Decision::Nothing
    );
    let old = episode(TimeDelta::days(6) + TimeDelta::hours(1), 5, false);
    assert_eq!(
        decide(Some(&old), &failing, RETENTION, now()),
        Decision::WarnExpiry {
            expires_at: old.opened_at + RETENTION
        }
    );
    let warned = episode(TimeDelta::days(6) + TimeDelta::hours(1), 5, true);
    assert_eq!(
        decide(Some(&warned), &failing, RETENTION, now()),
        Decision::Nothing
    );
}

#[test]
fn messages_carry_the_cause_what_to_do_and_a_short_subject() {
    let failing = Message::failing(&target(), Some(Cause::LogGroupMissing), 3, now());
    let json = serde_json::to_value(&failing).unwrap();
    assert_eq!(json["kind"], "target_failing");
    assert_eq!(json["cause"], "log_group_missing");
    assert_eq!(json["what_to_do"], Cause::LogGroupMissing.what_to_do());
    assert_eq!(json["parked_objects"], 3);
    assert_eq!(json["delivery_type"], "cloudwatch");
    assert!(json.get("drained_objects").is_none(), "{json}");
    let back: Message = serde_json::from_value(json).unwrap();
    assert_eq!(back, failing);

    let long = TenantId::parse(&"t".repeat(63)).unwrap();
    let test = Message::test(&long, now());
    assert!(test.subject().len() <= 100);
    let recovered = Message::recovered(&target(), 9, now());
    assert!(
        recovered.summary.contains("9 parked object(s)"),
        "{}",
        recovered.summary
    );
}

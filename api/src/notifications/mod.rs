//! Notifications: telling a tenant, on an SNS topic in its own account, that delivery
//! broke, recovered, is about to lose parked objects, or that a replay ended.
//!
//! Decisions (ADR 14):
//! - **No URL the provider calls.** The target is an SNS topic of the customer's account,
//!   published to through the customer's own delivery role (assumed with the tenant's
//!   ExternalId, exactly as delivery assumes it); the onboarding stack can create the
//!   topic with an e-mail subscription and grants the role `sns:Publish` on it alone. So
//!   there is no webhook to point at the provider's network, and a customer can only
//!   ever notify itself: the role must be that of one of the tenant's verified delivery
//!   configs (`verify` proved it refuses other tenants' ExternalIds), the topic in its
//!   account.
//! - **Decided once, sent at least once.** A notification is a Postgres row written in
//!   the transaction that decides it: a failing *episode* of a target is opened (at most
//!   one open per target, a unique index) with its `target_failing` row, closed with its
//!   `target_recovered` row, warned once with `parked_objects_expiring`; a replay's end is
//!   recorded with its `replay_ended` row (`replays::repository::record_final`). Two api
//!   replicas that see the same change write it once. The [`notifier`] then publishes
//!   each row until SNS takes it, retrying with backoff; a crash between the publish and
//!   the row's update sends it again, with the same `notification_id` for the subscriber
//!   to deduplicate by (the SNS message attribute and, on a FIFO topic, the deduplication
//!   id).
//! - **Fair.** A batch takes at most two rows of a tenant
//!   ([`repository::PER_TENANT_PER_BATCH`]), one test waits per tenant, a recovered
//!   target is not told it fails again for [`repository::REOPEN_AFTER_MINUTES`], and
//!   each send has a deadline: a tenant whose topic is broken or flapping cannot hold
//!   up anyone else's notifications.
//! - **Never a blocker.** The notifier runs beside the api's other background work and
//!   only reads the delivery ledger; workers know nothing of it. A notification target
//!   that fails records its cause (the shared vocabulary, e.g. `topic_missing`,
//!   `permission_denied`) on the notification target, shown as its `state: failing`.
//! - **What counts as failing**: a target of an `active` config whose health is
//!   `failing` for a cause the customer can act on (objects parked, or a non-transient
//!   last error); provider-side trouble (`aws_unavailable`) is the operators' to fix and
//!   not sent. It has recovered once it is `healthy` or `idle` with nothing parked, read
//!   from every region.
//! - **Expiry warning**: parked objects are deleted with their staged object after the
//!   staging bucket's retention (`LOGSPOKE_STAGING_RETENTION_DAYS`); the warning is sent
//!   once per episode when less than 24 h remain for the oldest object parked (the first
//!   of the target's parked range in any region, whose sort key is its staged time; the
//!   episode's start when no region could be read).

pub mod notifier;
pub mod publisher;
pub mod repository;
pub mod topic;

use chrono::{DateTime, TimeDelta, Utc};
use logspoke_contract::ledger::{HealthState, Target};
use logspoke_contract::replay::ReplayState;
use logspoke_contract::{Cause, DeliveryType, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use topic::NotificationTopic;

/// Version of the message layout, in every message.
pub const MESSAGE_SCHEMA_VERSION: u32 = 1;

/// How long before parked objects expire the warning is sent.
pub const EXPIRY_WARNING: TimeDelta = TimeDelta::hours(24);

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A target started failing for a cause the customer can fix.
    TargetFailing,
    /// A failing target works again.
    TargetRecovered,
    /// Parked objects of a failing target expire within 24 hours.
    ParkedObjectsExpiring,
    /// A replay ended (done, failed or cancelled).
    ReplayEnded,
    /// Asked for through the API, to check the subscription.
    Test,
}

impl Kind {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetFailing => "target_failing",
            Self::TargetRecovered => "target_recovered",
            Self::ParkedObjectsExpiring => "parked_objects_expiring",
            Self::ReplayEnded => "replay_ended",
            Self::Test => "test",
        }
    }
}

/// One notification as sent (with its id) and as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// [`MESSAGE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What it tells.
    pub kind: Kind,
    /// One sentence for a human (the e-mail's first line).
    pub summary: String,
    /// The tenant.
    pub tenant_id: String,
    /// The target it is about (none for `test`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_type: Option<DeliveryType>,
    /// Why the target fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_to_do: Option<String>,
    /// Objects parked for the target when this was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parked_objects: Option<u64>,
    /// On recovery: the most objects seen parked during the failure, now drained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained_objects: Option<u64>,
    /// On an expiry warning: when the oldest parked objects are deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// On a replay's end: which replay, and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_id: Option<Uuid>,
    /// How the replay ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_state: Option<ReplayState>,
    /// When the api decided it.
    pub occurred_at: DateTime<Utc>,
}

impl Message {
    fn new(kind: Kind, tenant_id: &TenantId, summary: String, now: DateTime<Utc>) -> Self {
        Self {
            schema_version: MESSAGE_SCHEMA_VERSION,
            kind,
            summary,
            tenant_id: tenant_id.to_string(),
            delivery_type: None,
            cause: None,
            what_to_do: None,
            parked_objects: None,
            drained_objects: None,
            expires_at: None,
            replay_id: None,
            replay_state: None,
            occurred_at: now,
        }
    }

    fn about(kind: Kind, target: &Target, summary: String, now: DateTime<Utc>) -> Self {
        Self {
            delivery_type: Some(target.delivery_type),
            ..Self::new(kind, &target.tenant_id, summary, now)
        }
    }

    /// `target` started failing for `cause` with `parked` objects parked.
    pub fn failing(target: &Target, cause: Option<Cause>, parked: u64, now: DateTime<Utc>) -> Self {
        let why = cause.map_or("an unknown cause", Cause::as_str);
        let summary = format!(
            "Logspoke: delivery of {}'s logs to {} is failing ({why}); {parked} object(s) wait, parked, and \
             are delivered in order once it works again.",
            target.tenant_id,
            describe(target.delivery_type)
        );
        Self {
            cause,
            what_to_do: cause.map(|c| c.what_to_do().to_owned()),
            parked_objects: Some(parked),
            ..Self::about(Kind::TargetFailing, target, summary, now)
        }
    }

    /// `target` works again; `drained` objects that were parked have been delivered.
    pub fn recovered(target: &Target, drained: u64, now: DateTime<Utc>) -> Self {
        let summary = format!(
            "Logspoke: delivery of {}'s logs to {} works again; {drained} parked object(s) were delivered.",
            target.tenant_id,
            describe(target.delivery_type)
        );
        Self {
            drained_objects: Some(drained),
            ..Self::about(Kind::TargetRecovered, target, summary, now)
        }
    }

    /// Parked objects of `target` are deleted from `expires_at` on.
    pub fn expiring(
        target: &Target,
        cause: Option<Cause>,
        parked: u64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let summary = format!(
            "Logspoke: {parked} object(s) parked for {}'s {} expire from {} on and will then never be \
             delivered; fix the target before then.",
            target.tenant_id,
            describe(target.delivery_type),
            expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        Self {
            cause,
            what_to_do: cause.map(|c| c.what_to_do().to_owned()),
            parked_objects: Some(parked),
            expires_at: Some(expires_at),
            ..Self::about(Kind::ParkedObjectsExpiring, target, summary, now)
        }
    }

    /// Replay `replay_id` of `target` ended in `state`.
    pub fn replay_ended(target: &Target, replay_id: Uuid, state: ReplayState, now: DateTime<Utc>) -> Self {
        let summary = format!(
            "Logspoke: replay {replay_id} of {}'s {} ended: {}.",
            target.tenant_id,
            describe(target.delivery_type),
            state.as_str()
        );
        Self {
            replay_id: Some(replay_id),
            replay_state: Some(state),
            ..Self::about(Kind::ReplayEnded, target, summary, now)
        }
    }

    /// A test notification of `tenant_id`.
    pub fn test(tenant_id: &TenantId, now: DateTime<Utc>) -> Self {
        let summary =
            format!("Logspoke: a test notification of {tenant_id}. Delivery notifications arrive here.");
        Self::new(Kind::Test, tenant_id, summary, now)
    }

    /// The e-mail subject SNS uses: at most 100 characters.
    pub fn subject(&self) -> String {
        let mut subject = match self.kind {
            Kind::TargetFailing => format!("Logspoke: {} delivery failing", self.tenant_id),
            Kind::TargetRecovered => format!("Logspoke: {} delivery recovered", self.tenant_id),
            Kind::ParkedObjectsExpiring => format!("Logspoke: {} parked logs expire soon", self.tenant_id),
            Kind::ReplayEnded => format!("Logspoke: {} replay ended", self.tenant_id),
            Kind::Test => format!("Logspoke: {} test notification", self.tenant_id),
        };
        subject.truncate(100);
        subject
    }
}

fn describe(delivery_type: DeliveryType) -> &'static str {
    match delivery_type {
        DeliveryType::Cloudwatch => "CloudWatch Logs",
        DeliveryType::S3 => "S3 bucket",
    }
}

/// What the notifier read of one target of an active config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Its state across regions.
    pub state: HealthState,
    /// Objects parked for it, every region together.
    pub parked: u64,
    /// Why it fails (the parked objects' cause, else the last error's).
    pub cause: Option<Cause>,
    /// Every region's ledger was read.
    pub complete: bool,
    /// When the oldest object parked for it was staged (read only for a failing target
    /// of an open episode not yet warned).
    pub oldest_parked_at: Option<DateTime<Utc>>,
}

impl Seen {
    /// Failing for a cause the customer can act on.
    pub fn failing_for_customer(&self) -> bool {
        self.state == HealthState::Failing
            && (self.parked > 0 || self.cause.is_some_and(|c| !c.is_transient()))
    }

    /// Whether [`decide`] needs the oldest parked object's time for this target in
    /// `open`: a failing target with objects parked, not yet warned of their expiry.
    pub fn wants_oldest_parked(&self, open: Option<&Episode>) -> bool {
        open.is_some_and(|e| !e.expiry_warned) && self.state == HealthState::Failing && self.parked > 0
    }

    /// Working again, as far as every region shows.
    pub fn recovered(&self) -> bool {
        self.complete && matches!(self.state, HealthState::Healthy | HealthState::Idle) && self.parked == 0
    }
}

/// A target's open failing episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// Its id (notifications name it).
    pub episode_id: Uuid,
    /// The target.
    pub target: Target,
    /// When the notifier first saw the target failing.
    pub opened_at: DateTime<Utc>,
    /// The most objects seen parked since.
    pub parked_max: u64,
    /// The expiry warning was decided.
    pub expiry_warned: bool,
}

/// What to do about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changed.
    Nothing,
    /// It started failing: open an episode and notify.
    Open,
    /// Still failing with more parked than seen before: remember it.
    Track {
        /// The new maximum.
        parked_max: u64,
    },
    /// Still failing, and its oldest parked objects expire at `expires_at`, less than
    /// [`EXPIRY_WARNING`] away: warn once.
    WarnExpiry {
        /// When they expire.
        expires_at: DateTime<Utc>,
    },
    /// It works again: close the episode and notify.
    Close {
        /// Parked objects delivered since it opened.
        drained: u64,
    },
}

/// What to do about a target in `open` episode (or none) that the notifier `seen` at
/// `now`, where objects staged `retention` ago are deleted.
///
/// A failing target of an open episode not yet warned needs `seen.oldest_parked_at`
/// ([`Seen::wants_oldest_parked`]).
pub fn decide(open: Option<&Episode>, seen: &Seen, retention: TimeDelta, now: DateTime<Utc>) -> Decision {
    let Some(episode) = open else {
        return if seen.failing_for_customer() {
            Decision::Open
        } else {
            Decision::Nothing
        };
    };
    if seen.recovered() {
        return Decision::Close {
            drained: episode.parked_max.max(seen.parked),
        };
    }
    if seen.state != HealthState::Failing {
        // Paused (disabled or awaiting verification), or a region unread: wait.
        return Decision::Nothing;
    }
    let expires_at = seen.oldest_parked_at.unwrap_or(episode.opened_at) + retention;
    if !episode.expiry_warned && seen.parked > 0 && expires_at - now <= EXPIRY_WARNING {
        return Decision::WarnExpiry { expires_at };
    }
    if seen.parked > episode.parked_max {
        return Decision::Track {
            parked_max: seen.parked,
        };
    }
    Decision::Nothing
}

#[cfg(test)]
mod tests;

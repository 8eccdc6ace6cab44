-- Notifications: a tenant's SNS topic (in its own account, published to through its own
-- delivery role) and what the api tells it: a target started failing, recovered, has
-- parked objects about to expire, a replay ended. Each notification is a row first
-- (written in the transaction that decides it), then sent at least once by the
-- notifier; its id is what a subscriber deduplicates by.

create table notification_targets (
    tenant_id       text primary key references tenants (tenant_id) on delete cascade,
    topic_arn       text not null,
    role_arn        text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    -- The last send: when it worked, and when and why it last failed (a cause of the
    -- shared vocabulary and AWS's scrubbed message).
    last_sent_at    timestamptz,
    last_failed_at  timestamptz,
    last_cause      text,
    last_message    text
);

-- A target's failing episode: opened when the notifier first sees the target failing,
-- closed when it sees it healthy again. At most one open episode per target, so two api
-- replicas that see the same change open (and notify) it once.
create table failing_episodes (
    episode_id      uuid primary key,
    tenant_id       text not null references tenants (tenant_id) on delete cascade,
    delivery_type   text not null check (delivery_type in ('cloudwatch', 's3')),
    opened_at       timestamptz not null default now(),
    cause           text,
    -- The most objects seen parked during the episode, for the recovery's "drained".
    parked_max      bigint not null default 0,
    expiry_warned   boolean not null default false,
    closed_at       timestamptz
);
create unique index failing_episodes_open on failing_episodes (tenant_id, delivery_type)
    where closed_at is null;

create table notifications (
    notification_id uuid primary key,
    tenant_id       text not null references tenants (tenant_id) on delete cascade,
    kind            text not null check (kind in
        ('target_failing', 'target_recovered', 'parked_objects_expiring', 'replay_ended', 'test')),
    -- The whole message as sent (without the id, added when sending).
    body            jsonb not null,
    created_at      timestamptz not null default now(),
    sent_at         timestamptz,
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_cause      text,
    -- Each episode and replay notifies each kind once.
    episode_id      uuid references failing_episodes (episode_id) on delete cascade,
    replay_id       uuid,
    unique (episode_id, kind),
    unique (replay_id, kind)
);
create index notifications_unsent on notifications (next_attempt_at) where sent_at is null;
create index notifications_by_tenant on notifications (tenant_id, created_at desc);

-- The transactional outbox: every committed change of a delivery config's read-model
-- item, written in the same transaction as the change, drained in order by the relay.

create table config_outbox (
    id              bigint generated always as identity primary key,
    tenant_id       text not null,
    delivery_type   text not null,
    -- The read-model version this row writes (monotonic per config, see change_version_seq).
    version         bigint not null,
    change          text not null check (change in ('upserted', 'deleted')),
    -- The read-model item as DynamoDB JSON (a tombstone for deletions).
    item            jsonb not null,
    created_at      timestamptz not null default now(),
    attempts        integer not null default 0,
    last_error      text,
    next_attempt_at timestamptz not null default now(),
    sent_at         timestamptz
);

-- What the relay scans: unsent rows, in order, per config.
create index config_outbox_unsent on config_outbox (tenant_id, delivery_type, id) where sent_at is null;
create index config_outbox_unsent_by_id on config_outbox (id) where sent_at is null;

-- Wake the relay as soon as a change commits (it also polls, in case a notification is lost).
create function notify_config_outbox() returns trigger language plpgsql as $$
begin
    perform pg_notify('config_outbox', '');
    return null;
end
$$;

create trigger config_outbox_notify after insert on config_outbox
    for each statement execute function notify_config_outbox();

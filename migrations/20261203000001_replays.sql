-- Replays: redeliveries of a time window of one delivery config's staged objects. The
-- request is stored here and published through the outbox as a job item in the delivery
-- ledger table, where the workers run it and write its progress; the api reads that
-- progress back and keeps the final one here (job items expire 30 days after they end).

create table replays (
    -- A UUIDv7: ordering by id is ordering by request time.
    replay_id           uuid primary key,
    tenant_id           text not null,
    delivery_type       text not null check (delivery_type in ('cloudwatch', 's3')),
    -- The window by the object keys' timestamps: since inclusive, until exclusive.
    since_at            timestamptz not null,
    until_at            timestamptz not null,
    mode                text not null check (mode in ('missing', 'all')),
    requested_by        text not null,
    requested_at        timestamptz not null default now(),
    cancel_requested_at timestamptz,
    -- The progress once the job ended (done, failed or cancelled), as the api document's
    -- progress fields; null while it may still change.
    final_progress      jsonb,
    check (since_at < until_at)
);

-- A target's replays, newest first; and the ones that have not ended.
create index replays_by_target on replays (tenant_id, delivery_type, replay_id desc);
create index replays_unfinished on replays (tenant_id, delivery_type) where final_progress is null;

-- The outbox also carries replay jobs and their cancellations, in order per config.
alter table config_outbox
    drop constraint config_outbox_change_check,
    add constraint config_outbox_change_check
        check (change in ('upserted', 'deleted', 'replay_requested', 'replay_cancelled'));

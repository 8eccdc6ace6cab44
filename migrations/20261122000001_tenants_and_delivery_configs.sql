-- Tenants, their delivery configs, the audit log and idempotency records.

-- One sequence versions every tenant and config write. Versions are therefore
-- monotonic per resource even across delete and re-create, so an ETag never repeats
-- and the read model can always tell a newer write from an older one.
create sequence change_version_seq as bigint;

create table tenants (
    tenant_id    text primary key
                 check (tenant_id ~ '^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])?$'),
    display_name text,
    enabled      boolean not null default true,
    version      bigint not null default nextval('change_version_seq'),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create table delivery_configs (
    tenant_id           text not null references tenants (tenant_id) on delete cascade,
    delivery_type       text not null check (delivery_type in ('cloudwatch', 's3')),
    enabled             boolean not null,
    target_region       text not null,
    role_arn            text not null,
    desired_logs        text[] not null default '{}',
    log_group_name      text,
    log_stream_template text,
    bucket_name         text,
    bucket_prefix       text,
    version             bigint not null default nextval('change_version_seq'),
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (tenant_id, delivery_type),
    check (
        (delivery_type = 'cloudwatch' and log_group_name is not null and bucket_name is null)
        or (delivery_type = 's3' and bucket_name is not null and log_group_name is null)
    )
);

-- No foreign key: the trail of a deleted tenant outlives it.
create table audit_events (
    id            bigint generated always as identity primary key,
    tenant_id     text not null,
    actor         text not null,
    actor_role    text not null,
    action        text not null,
    delivery_type text,
    before        jsonb,
    after         jsonb,
    request_id    text,
    occurred_at   timestamptz not null default now()
);

create index audit_events_by_tenant on audit_events (tenant_id, id desc);

-- The first successful response to a POST carrying an Idempotency-Key, per principal.
create table idempotency_keys (
    subject         text not null,
    idempotency_key text not null,
    request_hash    text not null,
    response_status smallint not null,
    response_body   jsonb not null,
    location        text,
    created_at      timestamptz not null default now(),
    primary key (subject, idempotency_key)
);

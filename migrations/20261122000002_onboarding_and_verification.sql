-- Per-tenant ExternalIds and the verification state of delivery configs.

-- The ExternalId a tenant's customer role must require. Issued on the first onboarding
-- call; rotation replaces it (and resets every config of the tenant to unverified).
create table tenant_external_ids (
    tenant_id   text primary key references tenants (tenant_id) on delete cascade,
    external_id text not null check (length(external_id) between 32 and 1224),
    issued_at   timestamptz not null default now(),
    rotated_at  timestamptz
);

-- The result of the last trial AssumeRole. `enabled` stays the customer's intent; logs
-- flow only to configs that are enabled and verified.
alter table delivery_configs
    add column verification_status text not null default 'unverified'
        check (verification_status in ('unverified', 'verified', 'failed')),
    add column verification_checked_at timestamptz,
    add column verification_checks jsonb not null default '[]';

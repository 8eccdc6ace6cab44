-- Tenant binding: the clusters whose staged objects a tenant receives, and retired
-- tenant ids.

-- The clusters registered for a tenant. The worker delivers an object only when the
-- {tenant_id}/{cluster_id} of its key is registered here (published with every config
-- item of the tenant). One cluster may serve several tenants (one namespace each).
create table tenant_clusters (
    tenant_id    text not null references tenants (tenant_id) on delete cascade,
    cluster_id   text not null
                 check (cluster_id ~ '^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$'),
    display_name text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    primary key (tenant_id, cluster_id)
);

-- A tenant id names one customer forever: a deleted tenant's id is kept here and is
-- never created again, so a new customer cannot inherit the old one's audit trail or
-- be reached by the old one's still-valid tokens.
create table retired_tenant_ids (
    tenant_id  text primary key,
    retired_at timestamptz not null default now()
);

-- Tenant ids of two characters are valid: the id is 1 to 63 characters (the old
-- pattern admitted 1 or 3 to 63 by accident). Widening the check keeps every existing
-- id valid; the tables that reference tenants need no change.
alter table tenants
    drop constraint tenants_tenant_id_check,
    add constraint tenants_tenant_id_check
        check (tenant_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');

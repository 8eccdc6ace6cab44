-- The version at which something delivery depends on last changed: the role, the region,
-- the destination, the config's enabled flag, its verification, the tenant's ExternalId
-- or its enabled flag. The read model carries it so that the worker's drainer makes a
-- failing target due at once, and takes it from the replica draining it, only for such a
-- change, never for an edit of the allow-list or a cluster registration. Existing configs
-- start at their current version. A replica of the previous release writing during the
-- rollout leaves it as it was (0 for a config it creates): such a target is probed on its
-- normal schedule rather than at once.
alter table delivery_configs add column delivery_version bigint not null default 0;
update delivery_configs set delivery_version = version;

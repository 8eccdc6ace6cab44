-- At most one test notification waits per tenant: asking again while one waits returns it,
-- so a tenant cannot pile up notifications its (perhaps failing) topic must work through.
create unique index notifications_one_waiting_test on notifications (tenant_id)
    where kind = 'test' and sent_at is null;

-- The notifier's purge deletes by age.
create index notifications_by_age on notifications (created_at);

-- Idempotency keys are answered for 24 hours; the api purges older ones every hour, in
-- batches, by their creation time.
create index idempotency_keys_created_at on idempotency_keys (created_at);

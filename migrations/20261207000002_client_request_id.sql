-- The request id an audit row carries is the server's own (every request gets one,
-- whatever the client sent); the client's `x-request-id`, if any, is kept beside it and
-- labelled as the client's, so no client can stamp its changes with another request's id.
alter table audit_events add column client_request_id text;

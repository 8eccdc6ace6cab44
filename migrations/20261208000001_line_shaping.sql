-- What a delivery config delivers of each staged line, and how: its filter (include and
-- exclude rules, as the API took them; null: every line) and, for CloudWatch, the shape
-- of each message (raw: the line's text; json: an object with the text and the metadata
-- fields in message_fields).
alter table delivery_configs
    add column filter jsonb,
    add column message_format text not null default 'raw' check (message_format in ('raw', 'json')),
    add column message_fields text[];

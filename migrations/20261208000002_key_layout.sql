-- How an S3 config's copies are laid out under its prefix: staged (the staged key) or
-- hive (cluster=/namespace=/dt=/hour= partitions for Athena and Glue).
alter table delivery_configs
    add column key_layout text not null default 'staged' check (key_layout in ('staged', 'hive'));

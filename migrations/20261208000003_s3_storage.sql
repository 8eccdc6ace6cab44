-- How an S3 config's copies are stored: their storage class and the KMS key they are
-- encrypted with (null: the bucket's defaults).
alter table delivery_configs
    add column storage_class text,
    add column kms_key_arn text;

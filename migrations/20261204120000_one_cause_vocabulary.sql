-- Verification results name a missing log group or bucket as delivery health does:
-- `log_group_missing` and `bucket_missing` (were `log_group_not_found` and
-- `bucket_not_found`), one cause vocabulary in a config document. The api still reads the
-- old spellings for one release: results a replica of the previous release stores during
-- the rollout. Audit events keep the documents as they were answered.
update delivery_configs
   set verification_checks = (
           select jsonb_agg(
                      case item ->> 'cause'
                          when 'log_group_not_found' then jsonb_set(item, '{cause}', '"log_group_missing"')
                          when 'bucket_not_found' then jsonb_set(item, '{cause}', '"bucket_missing"')
                          else item
                      end
                      order by position)
             from jsonb_array_elements(verification_checks) with ordinality as checks (item, position))
 where verification_checks @> '[{"cause": "log_group_not_found"}]'
    or verification_checks @> '[{"cause": "bucket_not_found"}]';

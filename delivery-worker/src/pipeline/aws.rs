//! The real [`Deliverer`]: the tenant's role from the credential cache, the object from
//! the staging bucket (with the worker's own credentials, read once for all the targets
//! being sent to, [`tee`]), then each target's sink with clients built for the tenant's
//! account and region, given the lines the attempt's filter keeps (a target whose filter
//! removes the whole object needs no role and no client: its lines are only counted,
//! [`crate::sinks::discard`]). Those clients are kept with the
//! credentials they were built from ([`TenantClients`]) and built again only when the
//! credentials are renewed: a client is cheap to use but not to build, and a replay of
//! small objects would build one per object.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use futures_util::future::join_all;
use logspoke_aws::clients;
use logspoke_aws::AwsError;
use logspoke_contract::{BucketName, Cause, DeliveryTarget, LiveConfig};

use super::{tee, Attempt, Delivered, Deliverer, Progress, TargetError};
use crate::clock::now_ms;
use crate::credentials::CredentialCache;
use crate::event::StagedObject;
use crate::sinks::cloudwatch::message::Messages;
use crate::sinks::cloudwatch::service::AwsLogs;
use crate::sinks::cloudwatch::{self, Destination, Source, Tuning};
use crate::sinks::{discard, s3, Step};

/// Delivers objects to tenants' CloudWatch Logs and S3 targets.
pub struct AwsDeliverer {
    credentials: Arc<CredentialCache>,
    staging: aws_sdk_s3::Client,
    tuning: Tuning,
    clients: TenantClients,
}

/// A target's clients by (role, region), with the access key of the credentials they
/// hold: a renewed session has a new key, so its clients are built anew.
#[derive(Default)]
struct TenantClients {
    logs: Mutex<HashMap<ClientKey, (String, aws_sdk_cloudwatchlogs::Client)>>,
    s3: Mutex<HashMap<ClientKey, (String, aws_sdk_s3::Client)>>,
}

/// (role ARN, region).
type ClientKey = (String, String);

/// Entries kept per kind before the map is cleared (a bound, not a working set: one
/// entry per tenant target).
const MAX_CACHED_CLIENTS: usize = 4_096;

/// The client cached for `key` if it holds `credentials`, else the one `build` makes from
/// them (and caches).
fn cached<C: Clone>(
    map: &Mutex<HashMap<ClientKey, (String, C)>>,
    key: ClientKey,
    credentials: Credentials,
    build: impl FnOnce(Credentials) -> C,
) -> C {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((access_key, client)) = map.get(&key) {
        if access_key == credentials.access_key_id() {
            return client.clone();
        }
    }
    if map.len() >= MAX_CACHED_CLIENTS {
        map.clear();
    }
    let access_key = credentials.access_key_id().to_owned();
    let client = build(credentials);
    map.insert(key, (access_key, client.clone()));
    client
}

impl AwsDeliverer {
    /// A deliverer reading the staging bucket with the worker's own credentials and
    /// writing to CloudWatch Logs as `tuning` says (retries of throttled calls, the decode
    /// budget).
    pub fn new(credentials: Arc<CredentialCache>, tuning: Tuning) -> Self {
        let staging = clients::s3(credentials.sdk());
        Self {
            credentials,
            staging,
            tuning,
            clients: TenantClients::default(),
        }
    }

    async fn assume(&self, object: &StagedObject, config: &LiveConfig) -> Result<Credentials, TargetError> {
        let Some(external_id) = config.external_id.as_ref() else {
            // The tenant has not been onboarded since: parked until it is and verified.
            return Err(TargetError::Customer(
                logspoke_contract::ledger::Cause::AwaitingVerification,
                "the config has no ExternalId".into(),
            ));
        };
        self.credentials
            .customer(object.layout.tenant_id(), &config.role_arn, external_id)
            .await
            .map_err(|e| TargetError::aws(Step::AssumeRole, &e, Some(external_id.as_str())))
    }

    /// The time of the object's first event, for a key laid out by it: a ranged read of
    /// its first [`s3::FIRST_EVENT_BYTES`] with the worker's own credentials.
    async fn first_event_ms(&self, object: &StagedObject) -> Result<i64, TargetError> {
        let output = self
            .staging
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .range(format!("bytes=0-{}", s3::FIRST_EVENT_BYTES - 1))
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("GetObject", &output);
        let output = output.map_err(|e| TargetError::aws(Step::ReadStaged, &e, None))?;
        let head = output.body.collect().await.map_err(|e| {
            TargetError::Transient(
                Cause::AwsUnavailable,
                format!("reading the staged object's first bytes: {e}"),
            )
        })?;
        let fallback = object.event_time_ms.unwrap_or_else(now_ms);
        Ok(s3::first_event_ms(&head.into_bytes(), fallback))
    }

    /// The staged object's body (and length), read with the worker's own credentials; an
    /// object whose size alone is over the object limit is refused unread.
    async fn open(&self, object: &StagedObject) -> Result<(ByteStream, Option<i64>), TargetError> {
        let output = self
            .staging
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(AwsError::from);
        crate::telemetry::aws_call("GetObject", &output);
        let output = output.map_err(|e| TargetError::aws(Step::ReadStaged, &e, None))?;
        let limit = self.tuning.max_object_bytes;
        if let Some(length) = output
            .content_length
            .filter(|l| u64::try_from(*l).is_ok_and(|l| l > limit))
        {
            // Never read: its compressed bytes alone are past what it may decode to.
            return Err(TargetError::Permanent(
                "too_large",
                format!("the staged object is {length} bytes, over the {limit}-byte object limit"),
            ));
        }
        Ok((output.body, output.content_length))
    }
}

/// A target ready for the object: clients built from the tenant role's credentials and
/// where in the target the object goes, or nothing to send.
enum Sink<'c> {
    /// The filter removes every line: they are counted, nothing is sent.
    Discard,
    CloudWatch {
        logs: AwsLogs,
        group: &'c str,
        stream: String,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: &'c BucketName,
        /// The account that must own the bucket: the tenant role's.
        owner: &'c str,
        key: String,
    },
}

impl AwsDeliverer {
    /// The sink `attempt`'s config describes, with the tenant role's credentials (assumed,
    /// or from the cache); none for an attempt whose filter removes the whole object.
    async fn sink<'c, P>(
        &self,
        object: &StagedObject,
        attempt: &Attempt<'c, P>,
    ) -> Result<Sink<'c>, TargetError> {
        if attempt.lines.drops_all() {
            return Ok(Sink::Discard);
        }
        let config: &'c LiveConfig = attempt.config;
        let credentials = self.assume(object, config).await?;
        let sdk = self.credentials.sdk();
        let key = (config.role_arn.to_string(), config.target_region.to_string());
        match &config.target {
            DeliveryTarget::CloudWatch {
                log_group_name,
                log_stream_template,
            } => {
                let client = cached(&self.clients.logs, key, credentials, |c| {
                    clients::tenant_logs(sdk, c, &config.target_region)
                });
                Ok(Sink::CloudWatch {
                    logs: AwsLogs::new(client),
                    group: log_group_name.as_str(),
                    stream: cloudwatch::stream_name(&object.layout, log_stream_template.as_ref())?,
                })
            }
            DeliveryTarget::S3 {
                bucket_name,
                bucket_prefix,
            } => {
                let first_event_ms = match config.key_layout.needs_first_event() {
                    true => self.first_event_ms(object).await?,
                    false => 0,
                };
                let client = cached(&self.clients.s3, key, credentials, |c| {
                    clients::tenant_s3(sdk, c, &config.target_region)
                });
                Ok(Sink::S3 {
                    client,
                    bucket: bucket_name,
                    owner: config.role_arn.account_id(),
                    key: s3::target_key(config.key_layout, bucket_prefix, &object.layout, first_event_ms),
                })
            }
        }
    }

    /// Writes one read of the object (`body`, `length` bytes) into every sink of
    /// `ready`: directly for one, through [`tee`] for more.
    async fn write_all<P: Progress>(
        &self,
        object: &StagedObject,
        ready: &[(Sink<'_>, &Attempt<'_, P>)],
        body: ByteStream,
        length: Option<i64>,
    ) -> Vec<Result<Delivered, TargetError>> {
        if let [(sink, attempt)] = ready {
            return vec![self.write(object, sink, attempt, body, length).await];
        }
        let exact = length.and_then(|l| u64::try_from(l).ok());
        let (bodies, copying) = tee::tee(body, exact, ready.len());
        let writes = ready
            .iter()
            .zip(bodies)
            .map(|((sink, attempt), body)| self.write(object, sink, attempt, body, length));
        let ((), written) = tokio::join!(copying, join_all(writes));
        written
    }

    /// Writes `body` into one sink.
    async fn write<P: Progress>(
        &self,
        object: &StagedObject,
        sink: &Sink<'_>,
        attempt: &Attempt<'_, P>,
        body: ByteStream,
        length: Option<i64>,
    ) -> Result<Delivered, TargetError> {
        let tenant_id = object.layout.tenant_id().as_str();
        match sink {
            Sink::Discard => discard::count(body, &self.tuning, tenant_id).await,
            Sink::CloudWatch { logs, group, stream } => {
                let to = Destination {
                    group,
                    stream,
                    tenant_id,
                };
                let source = Source {
                    body,
                    fallback_ms: object.event_time_ms.unwrap_or_else(now_ms),
                    lines: attempt.lines.clone(),
                    messages: Messages::new(&attempt.config.message_format, &object.layout),
                };
                cloudwatch::deliver(logs, to, source, &self.tuning, attempt.resume, attempt.progress).await
            }
            Sink::S3 {
                client,
                bucket,
                owner,
                key,
            } => {
                let to = s3::Destination {
                    tenant_id,
                    client,
                    bucket,
                    owner,
                    key,
                    storage_class: attempt.config.storage_class,
                    kms_key_arn: attempt.config.kms_key_arn.as_ref(),
                };
                if attempt.lines.keeps_all() {
                    s3::copy(&to, body, length).await
                } else {
                    s3::copy_filtered(&to, body, attempt.lines.clone(), &self.tuning).await
                }
            }
        }
    }
}

impl Deliverer for AwsDeliverer {
    async fn deliver<P: Progress>(
        &self,
        object: &StagedObject,
        attempts: &[Attempt<'_, P>],
    ) -> Vec<Result<Delivered, TargetError>> {
        let sinks = join_all(attempts.iter().map(|a| self.sink(object, a))).await;
        let mut results: Vec<Option<Result<Delivered, TargetError>>> = Vec::with_capacity(attempts.len());
        let mut ready = Vec::with_capacity(attempts.len());
        for (sink, attempt) in sinks.into_iter().zip(attempts) {
            match sink {
                Ok(sink) => {
                    results.push(None);
                    ready.push((sink, attempt));
                }
                Err(err) => results.push(Some(Err(err))),
            }
        }
        if !ready.is_empty() {
            let mut written = match self.open(object).await {
                Ok((body, length)) => self.write_all(object, &ready, body, length).await,
                Err(err) => vec![Err(err); ready.len()],
            }
            .into_iter();
            for slot in results.iter_mut().filter(|r| r.is_none()) {
                *slot = written.next();
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(super::missing_result())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(access_key: &str) -> Credentials {
        Credentials::new(access_key, "secret", Some("token".into()), None, "test")
    }

    #[test]
    fn a_client_is_built_once_per_target_and_again_when_its_credentials_are_renewed() {
        let map = Mutex::new(HashMap::new());
        let mut built = 0;
        let key = |role: &str| (role.to_owned(), "eu-west-1".to_owned());
        let mut get = |role: &str, access_key: &str| {
            cached(&map, key(role), credentials(access_key), |c| {
                built += 1;
                format!("{built}:{}", c.access_key_id())
            })
        };
        assert_eq!(get("role-a", "ASIA1"), "1:ASIA1");
        assert_eq!(get("role-a", "ASIA1"), "1:ASIA1", "cached");
        assert_eq!(get("role-b", "ASIA9"), "2:ASIA9", "another target");
        assert_eq!(get("role-a", "ASIA2"), "3:ASIA2", "renewed credentials");
        assert_eq!(get("role-a", "ASIA2"), "3:ASIA2");
    }
}

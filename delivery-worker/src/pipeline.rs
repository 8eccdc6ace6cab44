//! Delivering one staged object to every active target of its tenant.
//!
//! The targets of an object run concurrently and independently. An object is done when
//! every target either delivered it or refused it for good (a corrupt file, a config that
//! cannot work); any target that failed in a way that may pass (throttling, a denied
//! AssumeRole, an outage) keeps the message for a retry. Only that tenant's targets are
//! involved: one tenant's broken role never affects another's delivery.

use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::primitives::ByteStream;
use futures_util::future::join_all;
use logspoke_aws::AwsError;
use logspoke_contract::{DeliveryTarget, DeliveryType, LiveConfig, LogStreamTemplate, Region};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::credentials::CredentialCache;
use crate::event::{reject, StagedObject};
use crate::reader::{EventReader, ReadError};
use crate::retry::Backoff;
use crate::sinks::cloudwatch::packer::{Batch, Packer};
use crate::sinks::cloudwatch::service::{send, AwsLogs};
use crate::sinks::s3;
use crate::tenants::{Targets, TenantConfigs};

/// Batches decoded ahead of the one being sent. The decoder packs only while it holds a
/// free slot, so an object holds at most this many batches plus the one being sent (and
/// its request): about 5 MiB (see `crate::memory`).
const BATCHES_AHEAD: usize = 1;

/// How an object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every target has it (or none wanted it).
    Done,
    /// At least one target failed in a way a retry may fix.
    Retry,
}

/// How one target ended.
#[derive(Debug)]
enum TargetError {
    /// A retry may succeed.
    Transient(String),
    /// It never will; counted and logged as a rejection.
    Permanent(&'static str, String),
}

impl TargetError {
    fn aws(action: &str, err: &AwsError) -> Self {
        let text = format!("{action}: {err}");
        if err.code() == "NoSuchKey" {
            Self::Permanent("object_missing", text)
        } else {
            // Throttling and outages, but also a denied role or a missing group or bucket:
            // the customer may fix those, so retry later; after maxReceiveCount the
            // message goes to the DLQ, nothing is lost.
            Self::Transient(text)
        }
    }
}

/// Delivers objects.
pub struct Deliverer {
    configs: Arc<TenantConfigs>,
    credentials: Arc<CredentialCache>,
    staging: aws_sdk_s3::Client,
    backoff: Backoff,
}

impl Deliverer {
    /// A deliverer reading the staging bucket with the worker's own credentials.
    pub fn new(configs: Arc<TenantConfigs>, credentials: Arc<CredentialCache>, backoff: Backoff) -> Self {
        let staging = s3_client(credentials.sdk(), None, None);
        Self {
            configs,
            credentials,
            staging,
            backoff,
        }
    }

    /// Delivers `object` to its tenant's active targets.
    #[tracing::instrument(skip_all, fields(tenant_id = %object.layout.tenant_id(), object_key = %object.key))]
    pub async fn deliver(&self, object: &StagedObject) -> Outcome {
        let layout = &object.layout;
        let targets = match self.configs.targets(
            layout.tenant_id(),
            layout.cluster_id(),
            layout.application(),
        ) {
            Targets::UnknownTenant => {
                reject(
                    "unknown_tenant",
                    "no delivery config for this tenant",
                    &object.key,
                );
                return Outcome::Done;
            }
            Targets::UnregisteredCluster => {
                // Never delivered, also not once the cluster is registered later: the
                // object was staged by a cluster the tenant had not vouched for.
                let detail = format!(
                    "cluster '{}' is not registered for this tenant",
                    layout.cluster_id()
                );
                reject("unregistered_cluster", &detail, &object.key);
                return Outcome::Done;
            }
            Targets::UnreadableConfig => {
                tracing::warn!("holding an object back: a read-model item of its tenant cannot be parsed");
                metrics::counter!("logspoke_worker_objects_held_total", "reason" => "unreadable_config")
                    .increment(1);
                return Outcome::Retry;
            }
            Targets::AwaitingVerification => {
                tracing::info!("holding an object back until the tenant's config is verified again");
                metrics::counter!("logspoke_worker_objects_held_total", "reason" => "awaiting_verification")
                    .increment(1);
                return Outcome::Retry;
            }
            Targets::Deliver(targets) => targets,
        };
        if targets.is_empty() {
            metrics::counter!("logspoke_worker_objects_skipped_total", "reason" => "no_active_target")
                .increment(1);
            return Outcome::Done;
        }
        let results = join_all(targets.iter().map(|(_, config)| self.deliver_to(object, config))).await;
        let mut outcome = Outcome::Done;
        for ((kind, _), result) in targets.iter().zip(results) {
            outcome = match self.record(object, *kind, result) {
                Outcome::Retry => Outcome::Retry,
                Outcome::Done => outcome,
            };
        }
        outcome
    }

    fn record(&self, object: &StagedObject, kind: DeliveryType, result: Result<(), TargetError>) -> Outcome {
        let tenant = object.layout.tenant_id().to_string();
        let target = kind.as_str();
        match result {
            Ok(()) => {
                if let Some(written) = object.event_time_ms {
                    let lag = (now_ms() - written).max(0) as f64 / 1000.0;
                    metrics::histogram!("logspoke_worker_delivery_lag_seconds", "tenant_id" => tenant.clone())
                        .record(lag);
                }
                metrics::counter!("logspoke_worker_objects_delivered_total", "tenant_id" => tenant, "target" => target)
                    .increment(1);
                Outcome::Done
            }
            Err(TargetError::Permanent(reason, detail)) => {
                reject(reason, &detail, &object.key);
                Outcome::Done
            }
            Err(TargetError::Transient(detail)) => {
                tracing::warn!(target, detail, "delivery failed; the object will be retried");
                metrics::counter!("logspoke_worker_delivery_failures_total", "tenant_id" => tenant, "target" => target)
                    .increment(1);
                Outcome::Retry
            }
        }
    }

    async fn deliver_to(&self, object: &StagedObject, config: &LiveConfig) -> Result<(), TargetError> {
        let Some(external_id) = config.external_id.as_ref() else {
            return Err(TargetError::Permanent(
                "no_external_id",
                "the config has no ExternalId".into(),
            ));
        };
        let credentials = self
            .credentials
            .customer(object.layout.tenant_id(), &config.role_arn, external_id)
            .await
            .map_err(|e| TargetError::aws("AssumeRole", &e))?;
        let provider = SharedCredentialsProvider::new(credentials);
        match &config.target {
            DeliveryTarget::CloudWatch {
                log_group_name,
                log_stream_template,
            } => {
                let logs = logs_client(self.credentials.sdk(), provider, &config.target_region);
                let stream = stream_name(object, log_stream_template.as_ref())?;
                self.to_cloudwatch(object, &logs, log_group_name.as_str(), &stream)
                    .await
            }
            DeliveryTarget::S3 {
                bucket_name,
                bucket_prefix,
            } => {
                let tenant_s3 = s3_client(
                    self.credentials.sdk(),
                    Some(provider),
                    Some(&config.target_region),
                );
                let (body, length) = self.open(object).await?;
                let key = s3::target_key(bucket_prefix, &object.layout);
                s3::put(&tenant_s3, bucket_name, &key, body, length)
                    .await
                    .map_err(|e| TargetError::aws("s3:PutObject", &e))
            }
        }
    }

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
        let output = output.map_err(|e| TargetError::aws("s3:GetObject (staging)", &e))?;
        Ok((output.body, output.content_length))
    }

    /// Streams the object through the decoder and packer (on a blocking thread) and sends
    /// each batch as soon as it is full, a bounded number of batches ahead.
    async fn to_cloudwatch(
        &self,
        object: &StagedObject,
        logs: &AwsLogs,
        group: &str,
        stream: &str,
    ) -> Result<(), TargetError> {
        let (body, _) = self.open(object).await?;
        let fallback = object.event_time_ms.unwrap_or_else(now_ms);
        let (tx, mut rx) = mpsc::channel::<Batch>(BATCHES_AHEAD);
        let decoding = tokio::task::spawn_blocking(move || decode_into(body, fallback, &tx));
        let tenant = object.layout.tenant_id().to_string();
        let mut sent_error = None;
        while let Some(batch) = rx.recv().await {
            match send(logs, group, stream, &batch, &self.backoff).await {
                Ok(sent) => record_batch(&tenant, &batch, sent.accepted, sent.rejected),
                Err(err) => {
                    sent_error = Some(TargetError::aws("logs:PutLogEvents", &err));
                    break;
                }
            }
        }
        drop(rx);
        let decoded = decoding
            .await
            .map_err(|e| TargetError::Transient(format!("decoder task failed: {e}")))?;
        if let Some(err) = sent_error {
            return Err(err);
        }
        match decoded {
            Ok(()) => Ok(()),
            Err(err) if err.is_retriable() => {
                Err(TargetError::Transient(format!("reading the object: {err}")))
            }
            Err(err) => Err(TargetError::Permanent("unreadable_file", err.to_string())),
        }
    }
}

/// Decodes `body` and sends full batches into `tx`; stops early when the sender is gone.
/// It waits for a free slot *before* packing on, so no full batch waits in its hands; long
/// lines are paid for from the process-wide decode budget (`crate::memory`), and each
/// line's batches are handed over before the next line is read, which ends its reservation.
fn decode_into(body: ByteStream, fallback_ms: i64, tx: &mpsc::Sender<Batch>) -> Result<(), ReadError> {
    let budget = crate::memory::decode_budget().clone();
    let mut events = EventReader::new(SyncIoBridge::new(body.into_async_read()), fallback_ms)?
        .with_budget(budget, crate::memory::LONG_LINE_COST);
    let mut packer = Packer::new();
    let mut full = Vec::new();
    let Some(mut slot) = free_slot(tx) else {
        return Ok(());
    };
    while let Some(event) = events.next_event()? {
        packer.push(event, &mut full);
        for batch in full.drain(..) {
            slot.send(batch);
            let Some(next) = free_slot(tx) else {
                return Ok(());
            };
            slot = next;
        }
    }
    if let Some(batch) = packer.finish() {
        slot.send(batch);
    }
    record_decoded(events.stats(), packer.stats());
    Ok(())
}

fn record_batch(tenant: &str, batch: &Batch, accepted: usize, rejected: usize) {
    let labels = [("tenant_id", tenant.to_owned())];
    metrics::counter!("logspoke_worker_events_delivered_total", &labels).increment(accepted as u64);
    metrics::counter!("logspoke_worker_bytes_delivered_total", &labels).increment(batch.payload_bytes as u64);
    metrics::counter!("logspoke_worker_events_rejected_total", &labels).increment(rejected as u64);
    metrics::histogram!("logspoke_worker_batch_fill_ratio").record(
        (batch.payload_bytes as f64 / crate::sinks::cloudwatch::packer::MAX_BATCH_BYTES as f64)
            .max(batch.events.len() as f64 / crate::sinks::cloudwatch::packer::MAX_BATCH_EVENTS as f64),
    );
}

/// The template of configs that do not set one, parsed once.
static DEFAULT_TEMPLATE: LazyLock<Option<LogStreamTemplate>> =
    LazyLock::new(|| LogStreamTemplate::parse(LogStreamTemplate::DEFAULT).ok());

fn stream_name(object: &StagedObject, template: Option<&LogStreamTemplate>) -> Result<String, TargetError> {
    let layout = &object.layout;
    template
        .or(DEFAULT_TEMPLATE.as_ref())
        .and_then(|t| {
            t.render(
                layout.tenant_id(),
                layout.cluster_id(),
                layout.application(),
                layout.pod_name(),
            )
        })
        .map(|name| name.to_string())
        .ok_or_else(|| {
            TargetError::Permanent("bad_stream_name", "the stream name template renders empty".into())
        })
}

fn logs_client(
    sdk: &aws_config::SdkConfig,
    credentials: SharedCredentialsProvider,
    region: &Region,
) -> AwsLogs {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .credentials_provider(credentials)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    AwsLogs::new(aws_sdk_cloudwatchlogs::Client::from_conf(config))
}

fn s3_client(
    sdk: &aws_config::SdkConfig,
    credentials: Option<SharedCredentialsProvider>,
    region: Option<&Region>,
) -> aws_sdk_s3::Client {
    let mut config =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(logspoke_aws::use_path_style(sdk));
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    if let Some(region) = region {
        config = config.region(aws_config::Region::new(region.to_string()));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Waits (on the decoding thread) until the sender has taken the last batch; `None` once
/// the sender is gone.
fn free_slot(tx: &mpsc::Sender<Batch>) -> Option<mpsc::Permit<'_, Batch>> {
    crate::memory::block_on(tx.reserve()).ok()
}

fn record_decoded(stats: &crate::reader::ReadStats, packed: &crate::sinks::cloudwatch::packer::PackStats) {
    if stats.bad_lines > 0 {
        tracing::warn!(
            bad_lines = stats.bad_lines,
            first_bad_line = stats.first_bad_line,
            "skipped lines that are not log events"
        );
        metrics::counter!("logspoke_worker_bad_lines_total").increment(stats.bad_lines);
    }
    metrics::counter!("logspoke_worker_split_events_total").increment(packed.split_events);
}

//! The worker's settings, as clap arguments: each is a flag and an environment variable
//! (names shared with the api and the scripts), documented here so that `--help` is
//! generated. A bad or missing value stops the worker at start with one line naming the
//! variable ([`ConfigError`], from [`logspoke_runtime::config`]); the identifiers are
//! checked exactly as the api checks them ([`logspoke_runtime::values`]).

use std::net::SocketAddr;
use std::time::Duration;

use logspoke_contract::RoleArn;
use logspoke_runtime::values::{self, QueueUrl, TableName, TopicArn};

use crate::pipeline::Retention;
use crate::sinks::cloudwatch::DEFAULT_MAX_DECODE_BYTES;
use crate::sqs::PollSettings;

pub use logspoke_runtime::config::ConfigError;

/// What the settings do not cover.
const ENVIRONMENT_HELP: &str = "\
AWS: the SDK's standard variables (AWS_REGION, AWS_ENDPOINT_URL, credentials).
Logs: RUST_LOG filters them [default: info].
A variable set to an empty value counts as unset.";

/// Delivers staged log files from the delivery queue to tenants' CloudWatch Logs and S3.
///
/// Every setting is a flag and an environment variable.
#[derive(clap::Parser)]
#[command(name = "logspoke-worker", version, about, after_help = ENVIRONMENT_HELP)]
pub struct WorkerArgs {
    /// Without a command the worker runs: it receives from the delivery queue until
    /// SIGTERM.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// SQS queue of S3 object-created events.
    #[arg(long, env = "LOGSPOKE_DELIVERY_QUEUE_URL")]
    pub delivery_queue_url: QueueUrl,
    /// SQS queue a tenant's messages past its share of the in-flight slots move to (the
    /// provider stack's DeliveryOverflowQueueUrl); without it one lane serves everyone.
    #[arg(long, env = "LOGSPOKE_OVERFLOW_QUEUE_URL")]
    pub overflow_queue_url: Option<QueueUrl>,
    /// DynamoDB read model of delivery configs.
    #[arg(long, env = "LOGSPOKE_READ_MODEL_TABLE")]
    pub read_model_table: TableName,
    /// DynamoDB delivery ledger: what each target has of each staged object, parked
    /// objects, delivery health.
    #[arg(long, env = "LOGSPOKE_LEDGER_TABLE")]
    pub ledger_table: TableName,
    /// Days the staging bucket keeps objects (its ExpirationDays): a parked object older
    /// than this is reported as expired.
    #[arg(long, env = "LOGSPOKE_STAGING_RETENTION_DAYS", default_value = "90", value_parser = values::positive::<u64>)]
    pub staging_retention_days: u64,
    /// First interval between probes of a target with parked objects, in seconds; it
    /// doubles up to 15 minutes while the target keeps failing.
    #[arg(long, env = "LOGSPOKE_WORKER_PROBE_SECONDS", default_value = "60", value_parser = values::positive_seconds)]
    pub probe_seconds: Duration,
    /// Interval between writes of delivery health and counters, per replica, in seconds.
    #[arg(long, env = "LOGSPOKE_WORKER_HEALTH_SECONDS", default_value = "10", value_parser = values::positive_seconds)]
    pub health_seconds: Duration,
    /// The staging bucket, listed by replays (the provider stack's StagingBucketName);
    /// without it the worker delivers live traffic but fails every replay job.
    #[arg(long, env = "LOGSPOKE_STAGING_BUCKET")]
    pub staging_bucket: Option<String>,
    /// SNS topic of config-change events.
    #[arg(long, env = "LOGSPOKE_CONFIG_TOPIC_ARN")]
    pub config_topic_arn: TopicArn,
    /// The provider role: the first hop to tenants' roles.
    #[arg(long, env = "LOGSPOKE_PROVIDER_ROLE_ARN")]
    pub provider_role_arn: RoleArn,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "LOGSPOKE_WORKER_LISTEN", default_value = "127.0.0.1:9090", value_parser = values::socket_addr)]
    pub listen: SocketAddr,
    /// Name prefix of this replica's config-change queue.
    #[arg(
        long,
        env = "LOGSPOKE_CONFIG_QUEUE_PREFIX",
        default_value = "logspoke-config-"
    )]
    pub config_queue_prefix: String,
    /// Concurrent ReceiveMessage loops.
    #[arg(long, env = "LOGSPOKE_WORKER_POLLERS", default_value = "4", value_parser = values::positive::<usize>)]
    pub pollers: usize,
    /// Messages processed at once (about 5 MiB each).
    #[arg(long, env = "LOGSPOKE_WORKER_MAX_IN_FLIGHT", default_value = "16", value_parser = values::positive::<usize>)]
    pub max_in_flight: usize,
    /// Percent of the in-flight slots one tenant may hold from the delivery queue (at
    /// least one slot); with an overflow queue, its further messages move there.
    #[arg(long, env = "LOGSPOKE_WORKER_TENANT_SHARE", default_value = "25", value_parser = percent)]
    pub tenant_share: u8,
    /// The decode budget.
    #[command(flatten)]
    pub memory: MemoryLimits,
    /// What one object may take.
    #[command(flatten)]
    pub bounds: ObjectBounds,
    /// Visibility kept on a message while it is processed, in seconds.
    #[arg(long, env = "LOGSPOKE_WORKER_VISIBILITY_SECONDS", default_value = "120", value_parser = values::positive_seconds)]
    pub visibility_seconds: Duration,
    /// Delay before a failed message is retried, in seconds.
    #[arg(long, env = "LOGSPOKE_WORKER_RETRY_SECONDS", default_value = "30", value_parser = values::positive_seconds)]
    pub retry_seconds: Duration,
    /// Period of the full read-model resync, in seconds.
    #[arg(long, env = "LOGSPOKE_WORKER_RESYNC_SECONDS", default_value = "300", value_parser = values::positive_seconds)]
    pub resync_seconds: Duration,
}

/// One-off operations that use the worker's settings and code, for operators.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Redelivers one target's objects of a time window from the staging bucket (needs
    /// LOGSPOKE_STAGING_BUCKET), printing progress on stderr.
    Replay(ReplayArgs),
    /// Runs as an AWS Lambda function (the container image's command there): serves the
    /// Lambda runtime API (AWS_LAMBDA_RUNTIME_API) with batches of the delivery queue from
    /// its event source mapping, answering with the messages to retry.
    Lambda,
    /// Delivers one staged object (s3://bucket/key) to its tenant's targets, as if its
    /// event had arrived.
    Deliver {
        /// The staged object, as s3://bucket/key.
        object: String,
    },
}

/// What `logspoke-worker replay` replays.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The tenant.
    #[arg(long)]
    pub tenant: logspoke_contract::TenantId,
    /// The target: cloudwatch or s3.
    #[arg(long = "type")]
    pub delivery_type: logspoke_contract::DeliveryType,
    /// Window start, RFC 3339 (inclusive; by the object keys' timestamps).
    #[arg(long, value_parser = rfc3339_ms)]
    pub since: i64,
    /// Window end, RFC 3339 (exclusive).
    #[arg(long, value_parser = rfc3339_ms)]
    pub until: i64,
    /// missing (objects the ledger does not show as delivered) or all.
    #[arg(long, default_value = "missing", value_parser = replay_mode)]
    pub mode: logspoke_contract::replay::ReplayMode,
}

/// A percentage, 1 to 100.
fn percent(raw: &str) -> Result<u8, String> {
    match raw.trim().parse::<u8>() {
        Ok(value @ 1..=100) => Ok(value),
        _ => Err("a whole percentage from 1 to 100".into()),
    }
}

/// The slots `percent` % of `max_in_flight` is, rounded up, at least one.
pub fn share_of(max_in_flight: usize, percent: u8) -> usize {
    (max_in_flight * usize::from(percent)).div_ceil(100).max(1)
}

fn rfc3339_ms(raw: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

fn replay_mode(raw: &str) -> Result<logspoke_contract::replay::ReplayMode, String> {
    logspoke_contract::replay::ReplayMode::parse(raw).map_err(|e| e.to_string())
}

/// Everything the worker needs to run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The delivery queue.
    pub queue_url: String,
    /// The overflow queue, if there is one.
    pub overflow_queue_url: Option<String>,
    /// The read-model table.
    pub table: String,
    /// The config-change topic.
    pub topic_arn: String,
    /// The delivery ledger and its timings.
    pub ledger: LedgerSettings,
    /// The provider role.
    pub provider_role: RoleArn,
    /// Where health and metrics are served.
    pub listen: SocketAddr,
    /// Prefix of the per-replica change queue.
    pub config_queue_prefix: String,
    /// Receiver tuning.
    pub poll: PollSettings,
    /// Period of the full resync.
    pub resync: Duration,
    /// Bytes lines over 128 KiB may hold at once across all objects of the process.
    pub max_decode_bytes: usize,
    /// What one object may take.
    pub bounds: ObjectBounds,
}

/// The delivery ledger and how often the worker writes health and probes parked targets.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// The ledger table.
    pub table: String,
    /// The staging bucket's retention.
    pub retention: Retention,
    /// First probe interval of a target with parked objects.
    pub probe: Duration,
    /// Longest probe interval.
    pub max_probe: Duration,
    /// Interval of health writes.
    pub health_interval: Duration,
    /// The staging bucket replays list.
    pub staging_bucket: Option<String>,
    /// How often each replica looks for replay jobs.
    pub replay_tick: Duration,
}

impl WorkerArgs {
    /// The [`WorkerConfig`] these settings describe (the memory limits are separate:
    /// [`WorkerArgs::memory`]).
    pub fn to_config(&self) -> WorkerConfig {
        WorkerConfig {
            queue_url: self.delivery_queue_url.to_string(),
            overflow_queue_url: self.overflow_queue_url.as_ref().map(ToString::to_string),
            table: self.read_model_table.to_string(),
            topic_arn: self.config_topic_arn.to_string(),
            ledger: LedgerSettings {
                table: self.ledger_table.to_string(),
                retention: Retention {
                    staging: Duration::from_secs(self.staging_retention_days.saturating_mul(24 * 3600)),
                },
                probe: self.probe_seconds,
                max_probe: Duration::from_secs(15 * 60).max(self.probe_seconds),
                health_interval: self.health_seconds,
                staging_bucket: self.staging_bucket.clone(),
                replay_tick: Duration::from_secs(5),
            },
            provider_role: self.provider_role_arn.clone(),
            listen: self.listen,
            config_queue_prefix: self.config_queue_prefix.clone(),
            poll: PollSettings {
                pollers: self.pollers,
                max_in_flight: self.max_in_flight,
                tenant_share: share_of(self.max_in_flight, self.tenant_share),
                visibility: self.visibility_seconds,
                retry_delay: self.retry_seconds,
                ..PollSettings::default()
            },
            resync: self.resync_seconds,
            max_decode_bytes: self.memory.max_decode_bytes,
            bounds: self.bounds.clone(),
        }
    }
}

/// The worker's memory limits beyond [`PollSettings::max_in_flight`] (see
/// [`crate::budget`]). Read on their own, so that a [`WorkerConfig`] built in code keeps
/// its shape; [`WorkerArgs`] reads them too, so a bad value still stops the worker at
/// start.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct MemoryLimits {
    /// Memory that long lines (over 128 KiB) may hold at once while decoded: bytes, or a
    /// number with KiB, MiB or GiB.
    ///
    /// The default holds two 8 MiB lines at a time. Peak RSS is about 16 MiB + MAX_IN_FLIGHT × 5 MiB + this: 114 MiB at the
    /// defaults.
    #[arg(
        long,
        env = "LOGSPOKE_WORKER_MAX_DECODE_BYTES",
        default_value_t = DEFAULT_MAX_DECODE_BYTES,
        value_parser = values::byte_size
    )]
    pub max_decode_bytes: usize,
}

/// What one object may take, so that no file a collector stages can hold a worker's slot
/// or memory without end.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ObjectBounds {
    /// Bytes one staged object may decode to (gzip expands without bound): bytes, or a
    /// number with KiB, MiB or GiB. A larger object is rejected as `too_large`, counted
    /// and logged, and never retried.
    ///
    /// The collector stages at most 10 MB of events per object; the default is far above
    /// that.
    #[arg(
        long,
        env = "LOGSPOKE_WORKER_MAX_OBJECT_BYTES",
        default_value_t = DEFAULT_MAX_OBJECT_BYTES,
        value_parser = values::byte_size
    )]
    pub max_object_bytes: usize,
    /// Seconds one attempt at an object may take; past them the attempt stops (its slot
    /// and the message's visibility extension freed) and the object is retried after its
    /// last acknowledged batch.
    #[arg(
        long,
        env = "LOGSPOKE_WORKER_ATTEMPT_SECONDS",
        default_value = "600",
        value_parser = values::positive_seconds
    )]
    pub attempt_seconds: Duration,
}

/// Default of `LOGSPOKE_WORKER_MAX_OBJECT_BYTES`: 256 MiB, 25 times the collector's
/// largest object.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 256 * 1024 * 1024;

impl Default for ObjectBounds {
    fn default() -> Self {
        Self {
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            attempt_seconds: crate::pipeline::DEFAULT_ATTEMPT_BUDGET,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use logspoke_runtime::config::{from_vars, variables};

    use super::*;

    /// The worker's settings from `pairs`, as if they were the environment.
    fn config(pairs: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
        from_vars::<WorkerArgs>(pairs).map(|args| args.to_config())
    }

    const REQUIRED: [(&str, &str); 5] = [
        ("LOGSPOKE_DELIVERY_QUEUE_URL", "http://q"),
        ("LOGSPOKE_READ_MODEL_TABLE", "tenant-configs"),
        ("LOGSPOKE_LEDGER_TABLE", "logspoke-delivery-ledger"),
        (
            "LOGSPOKE_CONFIG_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111111111111:config-changes",
        ),
        (
            "LOGSPOKE_PROVIDER_ROLE_ARN",
            "arn:aws:iam::111111111111:role/LogspokeProvider",
        ),
    ];

    #[test]
    fn defaults_apply_when_only_the_required_values_are_set() {
        let config = config(&REQUIRED).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9090");
        assert_eq!(config.config_queue_prefix, "logspoke-config-");
        assert_eq!(config.poll.pollers, 4);
        assert_eq!(config.poll.max_in_flight, 16);
        assert_eq!(config.poll.visibility, Duration::from_secs(120));
        assert_eq!(config.poll.retry_delay, Duration::from_secs(30));
        assert_eq!(config.resync, Duration::from_secs(300));
        assert_eq!(config.ledger.table, "logspoke-delivery-ledger");
        assert_eq!(
            config.ledger.retention.staging,
            Duration::from_secs(90 * 24 * 3600)
        );
        assert_eq!(config.ledger.probe, Duration::from_secs(60));
        assert_eq!(config.ledger.max_probe, Duration::from_secs(900));
        assert_eq!(config.ledger.health_interval, Duration::from_secs(10));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("LOGSPOKE_PROVIDER_ROLE_ARN", "arn:aws:iam::1:role/x"),
            ("LOGSPOKE_WORKER_LISTEN", "nowhere"),
            ("LOGSPOKE_WORKER_POLLERS", "0"),
            ("LOGSPOKE_WORKER_RETRY_SECONDS", "soon"),
            ("LOGSPOKE_WORKER_MAX_DECODE_BYTES", "24MB"),
            ("LOGSPOKE_READ_MODEL_TABLE", "t/x"),
            ("LOGSPOKE_LEDGER_TABLE", ""),
            ("LOGSPOKE_STAGING_RETENTION_DAYS", "0"),
            ("LOGSPOKE_WORKER_PROBE_SECONDS", "-1"),
            (
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "arn:aws:sqs:eu-west-1:111111111111:q",
            ),
            ("LOGSPOKE_DELIVERY_QUEUE_URL", "log-delivery"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = config(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
        let err = config(&REQUIRED[1..]).unwrap_err().to_string();
        assert!(err.starts_with("LOGSPOKE_DELIVERY_QUEUE_URL"), "{err}");
    }

    #[test]
    fn the_worker_reads_the_documented_variables() {
        assert_eq!(
            variables(&WorkerArgs::command()),
            [
                "LOGSPOKE_DELIVERY_QUEUE_URL",
                "LOGSPOKE_OVERFLOW_QUEUE_URL",
                "LOGSPOKE_READ_MODEL_TABLE",
                "LOGSPOKE_LEDGER_TABLE",
                "LOGSPOKE_STAGING_RETENTION_DAYS",
                "LOGSPOKE_WORKER_PROBE_SECONDS",
                "LOGSPOKE_WORKER_HEALTH_SECONDS",
                "LOGSPOKE_STAGING_BUCKET",
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "LOGSPOKE_PROVIDER_ROLE_ARN",
                "LOGSPOKE_WORKER_LISTEN",
                "LOGSPOKE_CONFIG_QUEUE_PREFIX",
                "LOGSPOKE_WORKER_POLLERS",
                "LOGSPOKE_WORKER_MAX_IN_FLIGHT",
                "LOGSPOKE_WORKER_TENANT_SHARE",
                "LOGSPOKE_WORKER_MAX_DECODE_BYTES",
                "LOGSPOKE_WORKER_MAX_OBJECT_BYTES",
                "LOGSPOKE_WORKER_ATTEMPT_SECONDS",
                "LOGSPOKE_WORKER_VISIBILITY_SECONDS",
                "LOGSPOKE_WORKER_RETRY_SECONDS",
                "LOGSPOKE_WORKER_RESYNC_SECONDS",
            ]
        );
        WorkerArgs::command().debug_assert();
    }

    #[test]
    fn a_tenants_share_is_a_rounded_up_percentage_of_the_slots() {
        assert_eq!(config(&REQUIRED).unwrap().poll.tenant_share, 4, "25 % of 16");
        assert_eq!(share_of(16, 25), 4);
        assert_eq!(share_of(10, 25), 3);
        assert_eq!(share_of(2, 1), 1, "never none");
        assert_eq!(share_of(8, 100), 8);
        let mut set = REQUIRED.to_vec();
        set.push(("LOGSPOKE_WORKER_TENANT_SHARE", "0"));
        assert!(config(&set).is_err());
        assert_eq!(config(&REQUIRED).unwrap().overflow_queue_url, None);
    }

    #[test]
    fn objects_are_bounded_by_default_and_the_bounds_are_settable() {
        let bounds = config(&REQUIRED).unwrap().bounds;
        assert_eq!(bounds, ObjectBounds::default());
        assert_eq!(bounds.max_object_bytes, 256 << 20);
        let mut set = REQUIRED.to_vec();
        set.extend([
            ("LOGSPOKE_WORKER_MAX_OBJECT_BYTES", "64MiB"),
            ("LOGSPOKE_WORKER_ATTEMPT_SECONDS", "30"),
        ]);
        let bounds = config(&set).unwrap().bounds;
        assert_eq!(bounds.max_object_bytes, 64 << 20);
        assert_eq!(bounds.attempt_seconds, Duration::from_secs(30));
        let mut zero = REQUIRED.to_vec();
        zero.push(("LOGSPOKE_WORKER_ATTEMPT_SECONDS", "0"));
        assert!(config(&zero).is_err(), "a zero budget would stop every attempt");
    }

    #[test]
    fn the_decode_budget_is_read_as_a_byte_size() {
        let limits = |value: &str| {
            from_vars::<MemoryLimits>(&[("LOGSPOKE_WORKER_MAX_DECODE_BYTES", value)])
                .map(|l| l.max_decode_bytes)
                .ok()
        };
        assert_eq!(
            from_vars::<MemoryLimits>(&[]).unwrap().max_decode_bytes,
            DEFAULT_MAX_DECODE_BYTES
        );
        // The unit rules themselves are `logspoke_runtime::values::byte_size`'s tests.
        assert_eq!(limits("24MiB"), Some(24 << 20));
        assert_eq!(limits("24MB"), None);
    }
}

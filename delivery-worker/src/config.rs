//! The worker's configuration, from environment variables (names shared with the api and
//! the scripts). A bad or missing value stops the worker at start with one line naming it.

use std::net::SocketAddr;
use std::time::Duration;

use logspoke_contract::RoleArn;

use crate::memory::DEFAULT_MAX_DECODE_BYTES;
use crate::sqs::PollSettings;

/// `--help` text: every variable with its default.
pub const HELP: &str =
    "logspoke-worker: delivers staged log files from the delivery queue to tenants' CloudWatch Logs and S3.

Configuration (environment):
  LOGSPOKE_DELIVERY_QUEUE_URL      SQS queue of S3 object-created events (required)
  LOGSPOKE_READ_MODEL_TABLE        DynamoDB read model of delivery configs (required)
  LOGSPOKE_CONFIG_TOPIC_ARN        SNS topic of config-change events (required)
  LOGSPOKE_PROVIDER_ROLE_ARN       provider role, first hop to tenant roles (required)
  LOGSPOKE_WORKER_LISTEN           /healthz, /readyz, /metrics address (default 127.0.0.1:9090)
  LOGSPOKE_CONFIG_QUEUE_PREFIX     name prefix of this replica's change queue (default logspoke-config-)
  LOGSPOKE_WORKER_POLLERS          concurrent ReceiveMessage loops (default 4)
  LOGSPOKE_WORKER_MAX_IN_FLIGHT    messages processed at once (default 16; ~5 MiB each)
  LOGSPOKE_WORKER_MAX_DECODE_BYTES  memory that long lines (over 128 KiB) may hold at once
                                   while decoded: bytes, or with KiB/MiB/GiB (default ≈18MiB,
                                   two 8 MiB lines at a time); peak RSS ≈ 16 MiB +
                                   MAX_IN_FLIGHT × 5 MiB + this: 114 MiB at the defaults
  LOGSPOKE_WORKER_VISIBILITY_SECONDS  visibility kept while processing (default 120)
  LOGSPOKE_WORKER_RETRY_SECONDS    delay before a failed message is retried (default 30)
  LOGSPOKE_WORKER_RESYNC_SECONDS   full read-model resync period (default 300)
  AWS_REGION, AWS_ENDPOINT_URL, credentials: the AWS SDK's standard variables";

/// Everything the worker needs to run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The delivery queue.
    pub queue_url: String,
    /// The read-model table.
    pub table: String,
    /// The config-change topic.
    pub topic_arn: String,
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
}

/// The worker's memory limits beyond [`PollSettings::max_in_flight`] (see
/// [`crate::memory`]). Read on their own, so that a [`WorkerConfig`] built in code keeps
/// its shape; [`WorkerConfig::from_lookup`] checks them too, so a bad value still stops
/// the worker at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimits {
    /// What long lines being decoded may hold at once, in bytes.
    pub max_decode_bytes: usize,
}

impl MemoryLimits {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads variables through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let variable = "LOGSPOKE_WORKER_MAX_DECODE_BYTES";
        let max_decode_bytes = match get(variable) {
            None => DEFAULT_MAX_DECODE_BYTES,
            Some(raw) => bytes(&raw)
                .filter(|n| u32::try_from(*n).is_ok())
                .ok_or(ConfigError {
                    variable,
                    problem: format!(
                        "'{raw}' is not a size below 4GiB (bytes, or a number with KiB, MiB or GiB)"
                    ),
                })?,
        };
        Ok(Self { max_decode_bytes })
    }
}

/// A positive size: `25165824`, `24MiB`, `512 KiB`, `1GiB`.
fn bytes(raw: &str) -> Option<usize> {
    let raw = raw.trim();
    let digits = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(digits);
    let scale: usize = match unit.trim() {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number
        .parse::<usize>()
        .ok()?
        .checked_mul(scale)
        .filter(|n| *n > 0)
}

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    variable: &'static str,
    problem: String,
}

impl WorkerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |variable: &'static str| {
            get(variable).ok_or(ConfigError {
                variable,
                problem: "is required".into(),
            })
        };
        let provider_role =
            RoleArn::parse(&required("LOGSPOKE_PROVIDER_ROLE_ARN")?).map_err(|e| ConfigError {
                variable: "LOGSPOKE_PROVIDER_ROLE_ARN",
                problem: e.to_string(),
            })?;
        let seconds =
            |variable: &'static str, default: u64| number(&get, variable, default).map(Duration::from_secs);
        let poll = PollSettings {
            pollers: usize::try_from(number(&get, "LOGSPOKE_WORKER_POLLERS", 4)?).unwrap_or(4),
            max_in_flight: usize::try_from(number(&get, "LOGSPOKE_WORKER_MAX_IN_FLIGHT", 16)?).unwrap_or(16),
            visibility: seconds("LOGSPOKE_WORKER_VISIBILITY_SECONDS", 120)?,
            retry_delay: seconds("LOGSPOKE_WORKER_RETRY_SECONDS", 30)?,
            ..PollSettings::default()
        };
        MemoryLimits::from_lookup(&get)?;
        let listen = get("LOGSPOKE_WORKER_LISTEN").unwrap_or_else(|| "127.0.0.1:9090".into());
        Ok(Self {
            queue_url: required("LOGSPOKE_DELIVERY_QUEUE_URL")?,
            table: required("LOGSPOKE_READ_MODEL_TABLE")?,
            topic_arn: required("LOGSPOKE_CONFIG_TOPIC_ARN")?,
            provider_role,
            listen: listen.parse().map_err(|_| ConfigError {
                variable: "LOGSPOKE_WORKER_LISTEN",
                problem: format!("'{listen}' is not a host:port address"),
            })?,
            config_queue_prefix: get("LOGSPOKE_CONFIG_QUEUE_PREFIX")
                .unwrap_or_else(|| "logspoke-config-".into()),
            poll,
            resync: seconds("LOGSPOKE_WORKER_RESYNC_SECONDS", 300)?,
        })
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError {
                variable,
                problem: format!("'{raw}' is not a positive integer"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |name| map.get(name).cloned()
    }

    const REQUIRED: [(&str, &str); 4] = [
        ("LOGSPOKE_DELIVERY_QUEUE_URL", "http://q"),
        ("LOGSPOKE_READ_MODEL_TABLE", "tenant-configs"),
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
        let config = WorkerConfig::from_lookup(lookup(&REQUIRED)).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9090");
        assert_eq!(config.poll.max_in_flight, 16);
        assert_eq!(config.resync, Duration::from_secs(300));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("LOGSPOKE_PROVIDER_ROLE_ARN", "arn:aws:iam::1:role/x"),
            ("LOGSPOKE_WORKER_LISTEN", "nowhere"),
            ("LOGSPOKE_WORKER_POLLERS", "0"),
            ("LOGSPOKE_WORKER_RETRY_SECONDS", "soon"),
            ("LOGSPOKE_WORKER_MAX_DECODE_BYTES", "24MB"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = WorkerConfig::from_lookup(lookup(&pairs)).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
        let err = WorkerConfig::from_lookup(lookup(&REQUIRED[1..]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("LOGSPOKE_DELIVERY_QUEUE_URL"), "{err}");
    }

    #[test]
    fn the_decode_budget_takes_bytes_or_binary_units() {
        let limits = |value: &str| {
            MemoryLimits::from_lookup(lookup(&[("LOGSPOKE_WORKER_MAX_DECODE_BYTES", value)]))
                .map(|l| l.max_decode_bytes)
                .ok()
        };
        assert_eq!(
            MemoryLimits::from_lookup(lookup(&[])).unwrap().max_decode_bytes,
            DEFAULT_MAX_DECODE_BYTES
        );
        assert_eq!(limits("25165824"), Some(24 << 20));
        assert_eq!(limits("24MiB"), Some(24 << 20));
        assert_eq!(limits(" 512 KiB "), Some(512 << 10));
        assert_eq!(limits("1GiB"), Some(1 << 30));
        for bad in [
            "0",
            "0MiB",
            "MiB",
            "24MB",
            "-1",
            "1.5MiB",
            "99999999999999999999GiB",
        ] {
            assert_eq!(limits(bad), None, "{bad}");
        }
    }
}

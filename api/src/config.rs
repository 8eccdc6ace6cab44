//! The api's settings, as clap arguments: each is a flag and an environment variable
//! (names shared with the worker, scripts and tests; see docs/configuration.md), documented here
//! so that `--help` is generated. Each subcommand flattens only what it needs, so
//! `openapi` runs with nothing set and `mint-token` with the token settings alone.
//! A bad or missing value fails start-up with one line naming the variable
//! ([`ConfigError`], from [`logspoke_runtime::config`]).

use std::net::SocketAddr;
use std::time::Duration;

use logspoke_contract::{Region, RoleArn};
use logspoke_runtime::config::Secret;
use logspoke_runtime::values::{self, TableName, TopicArn};

use crate::auth::jwks::schedule::RefreshPolicy;
use crate::auth::jwks::source::JwksLocation;
use crate::onboarding::link::TemplateUrl;

pub use logspoke_runtime::config::ConfigError;

/// The api's settings, as `serve` uses them.
#[derive(Clone)]
pub struct Config {
    /// The Postgres source of truth.
    pub database_url: String,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Size of the connection pool.
    pub db_max_connections: u32,
    /// Token verification settings.
    pub jwt: JwtConfig,
    /// What onboarding links and verification need.
    pub onboarding: OnboardingConfig,
    /// Where config changes are published.
    pub publishing: PublishingConfig,
    /// Where delivery health is read.
    pub health: HealthConfig,
    /// What bounds a replay.
    pub replays: ReplayConfig,
    /// Changes one tenant may make per minute (`crate::write_limit`).
    pub tenant_writes_per_minute: u32,
    /// Seconds between the notifier's rounds (`crate::notifications::notifier`).
    pub notify_interval_seconds: u32,
}

/// What `serve` reads.
#[derive(clap::Args)]
#[command(next_help_heading = "Server")]
pub struct ServeArgs {
    /// Address the HTTP server binds.
    #[arg(long, env = "LOGSPOKE_LISTEN", default_value = DEFAULT_LISTEN, value_parser = values::socket_addr)]
    pub listen: SocketAddr,
    /// Size of the database connection pool.
    #[arg(long, env = "LOGSPOKE_DB_MAX_CONNECTIONS", default_value = "10", value_parser = values::positive::<u32>)]
    pub db_max_connections: u32,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Token verification.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Customer onboarding.
    #[command(flatten)]
    pub onboarding: OnboardingConfig,
    /// Where config changes are published.
    #[command(flatten)]
    pub publishing: PublishingConfig,
    /// Where delivery health is read.
    #[command(flatten)]
    pub health: HealthConfig,
    /// What bounds a replay.
    #[command(flatten)]
    pub replays: ReplayConfig,
    /// Changes (POST, PUT, PATCH, DELETE) one tenant's tokens may make per minute on a
    /// replica, in a burst and then spread out; past them 429 with `Retry-After`.
    /// Operators are not limited.
    #[arg(long, env = "LOGSPOKE_TENANT_WRITES_PER_MINUTE", default_value = "60", value_parser = values::positive::<u32>)]
    pub tenant_writes_per_minute: u32,
    /// Seconds between the notifier's rounds: how soon a target that starts failing or
    /// recovers is told to its tenant's notification topic (plus the health summary's
    /// few seconds of caching).
    #[arg(long, env = "LOGSPOKE_NOTIFY_INTERVAL_SECONDS", default_value = "15", value_parser = values::positive::<u32>)]
    pub notify_interval_seconds: u32,
}

impl ServeArgs {
    /// Checks what clap cannot (the token key settings) and builds the [`Config`].
    pub fn into_config(self) -> Result<Config, ConfigError> {
        Ok(Config {
            database_url: self.database.database_url.expose().to_owned(),
            listen: self.listen,
            db_max_connections: self.db_max_connections,
            jwt: self.jwt.into_config()?,
            onboarding: self.onboarding,
            publishing: self.publishing,
            health: self.health,
            replays: self.replays,
            tenant_writes_per_minute: self.tenant_writes_per_minute,
            notify_interval_seconds: self.notify_interval_seconds,
        })
    }
}

/// The database, for every subcommand that opens it.
#[derive(clap::Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseArgs {
    /// Postgres URL of the source of truth, e.g. postgres://postgres@127.0.0.1:5432/logspoke
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Secret,
}

/// Where the outbox relay publishes config changes.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Publishing")]
pub struct PublishingConfig {
    /// DynamoDB table of the workers' read model.
    #[arg(long = "read-model-table", env = "LOGSPOKE_READ_MODEL_TABLE")]
    pub read_model_table: TableName,
    /// SNS topic of ConfigChanged events.
    #[arg(long = "config-topic-arn", env = "LOGSPOKE_CONFIG_TOPIC_ARN")]
    pub config_topic_arn: TopicArn,
}

/// Where the workers record what they delivered (read for delivery health), and where
/// the api publishes replay jobs for them.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Delivery ledger")]
pub struct HealthConfig {
    /// DynamoDB table of the delivery ledger (per-target health items and counters,
    /// replay jobs).
    #[arg(long = "ledger-table", env = "LOGSPOKE_LEDGER_TABLE")]
    pub ledger_table: TableName,
    /// Provider regions whose delivery ledgers (each the ledger table in that region)
    /// health and replay progress are read from, and replay jobs written into,
    /// comma-separated, e.g. eu-west-1,us-east-1; documents list the regions in this
    /// order. Default: the api's own AWS region only.
    #[arg(long = "delivery-regions", env = "LOGSPOKE_DELIVERY_REGIONS", value_parser = DeliveryRegions::parse)]
    pub delivery_regions: Option<DeliveryRegions>,
}

/// `LOGSPOKE_DELIVERY_REGIONS`: one or more known regions of one partition (the api's
/// credentials are of one), each once, in the order the documents list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRegions(Vec<Region>);

impl DeliveryRegions {
    /// Parses `eu-west-1,us-east-1` (blanks around names are ignored).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut regions: Vec<Region> = Vec::new();
        for name in raw.split(',').map(str::trim) {
            if name.is_empty() {
                return Err("has an empty region name; separate region names with single commas".into());
            }
            let region = Region::parse(name).map_err(|e| e.to_string())?;
            if regions.contains(&region) {
                return Err(format!("lists {name} twice"));
            }
            if let Some(first) = regions.first().filter(|f| f.partition() != region.partition()) {
                return Err(format!(
                    "mixes partitions ({first} is in {}, {name} in {}); list regions of one partition",
                    first.partition(),
                    region.partition()
                ));
            }
            regions.push(region);
        }
        Ok(Self(regions))
    }

    /// The regions, in the order given.
    pub fn as_slice(&self) -> &[Region] {
        &self.0
    }
}

impl HealthConfig {
    /// The regions whose ledgers the api reads and writes: those set, else `own` (the
    /// api's AWS region, as the SDK resolved it), which must then be a known region.
    pub fn regions(&self, own: Option<&str>) -> Result<Vec<Region>, ConfigError> {
        if let Some(regions) = &self.delivery_regions {
            return Ok(regions.as_slice().to_vec());
        }
        let own = own.and_then(|name| Region::parse(name).ok()).ok_or_else(|| {
            ConfigError::new(
                "LOGSPOKE_DELIVERY_REGIONS",
                "is not set, and the api's AWS region (AWS_REGION) is not a known region to default to; \
                 set one of them",
            )
        })?;
        Ok(vec![own])
    }
}

/// What bounds a replay.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Replays")]
pub struct ReplayConfig {
    /// Days the staging bucket keeps a staged object (the provider stack's
    /// `StagingRetentionDays`): a replay may not reach further back.
    #[arg(long = "staging-retention-days", env = "LOGSPOKE_STAGING_RETENTION_DAYS", default_value = "90", value_parser = values::positive::<u32>)]
    pub staging_retention_days: u32,
    /// Replays one tenant may start in 24 hours (all its configs together); more are
    /// refused with 429 until the oldest of them is a day old.
    #[arg(long = "replays-per-tenant-per-day", env = "LOGSPOKE_REPLAYS_PER_TENANT_PER_DAY", default_value = "50", value_parser = values::positive::<u32>)]
    pub per_tenant_per_day: u32,
}

/// Settings of customer onboarding.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Onboarding")]
pub struct OnboardingConfig {
    /// The provider role customer roles trust: the first hop of every delivery and
    /// verification.
    #[arg(long = "provider-role-arn", env = "LOGSPOKE_PROVIDER_ROLE_ARN")]
    pub provider_role_arn: RoleArn,
    /// S3 URL where customer-log-delivery-role.yaml is published.
    #[arg(long = "customer-template-url", env = "LOGSPOKE_CUSTOMER_TEMPLATE_URL", value_parser = TemplateUrl::parse)]
    pub customer_template_url: TemplateUrl,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = self.database_url.split('@').next_back().unwrap_or("");
        f.debug_struct("Config")
            .field("database", &database)
            .field("listen", &self.listen)
            .field("jwt", &self.jwt)
            .field("onboarding", &self.onboarding)
            .field("publishing", &self.publishing)
            .field("health", &self.health)
            .field("replays", &self.replays)
            .finish()
    }
}

/// How bearer tokens are verified.
#[derive(Clone)]
pub struct JwtConfig {
    /// Where the verification keys come from (this pins the algorithm).
    pub keys: JwtKeySource,
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud`.
    pub audience: String,
    /// The clock skew tolerated on `exp` and `nbf`. Small, because it extends every
    /// token's life: a 1 s token is accepted for this long.
    pub leeway: Duration,
}

/// The token settings as read; [`JwtArgs::into_config`] picks the key source.
#[derive(clap::Args)]
#[command(next_help_heading = "Token verification")]
pub struct JwtArgs {
    /// HS256 shared secret, at least 32 bytes (set this or LOGSPOKE_JWT_JWKS).
    #[arg(long, env = "LOGSPOKE_JWT_SECRET", hide_env_values = true, value_parser = jwt_secret)]
    pub jwt_secret: Option<Secret>,
    /// Path or URL of a JWKS for RS256/ES256 (set this or LOGSPOKE_JWT_SECRET). A URL
    /// must be https://, or http:// for a loopback host.
    #[arg(long, env = "LOGSPOKE_JWT_JWKS", value_parser = JwksLocation::parse)]
    pub jwt_jwks: Option<JwksLocation>,
    /// The required `iss` claim.
    #[arg(long, env = "LOGSPOKE_JWT_ISSUER", default_value = DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// The required `aud` claim.
    #[arg(long, env = "LOGSPOKE_JWT_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, whole seconds from 0 to 300.
    ///
    /// Kept small because it extends every token's life; more would hide a broken
    /// clock and keep expired tokens alive for minutes.
    #[arg(long, env = "LOGSPOKE_JWT_LEEWAY_SECONDS", default_value = "30", value_parser = leeway)]
    pub jwt_leeway_seconds: Duration,
}

/// The key material, which also fixes the accepted algorithm.
#[derive(Clone)]
pub enum JwtKeySource {
    /// `LOGSPOKE_JWT_SECRET`: HS256 with a shared secret.
    Secret(String),
    /// `LOGSPOKE_JWT_JWKS`: RS256/ES256 with keys from a JWKS file path or URL.
    Jwks {
        /// An `https://` URL (`http://` for loopback hosts only) or a file path.
        location: JwksLocation,
        /// How the set is refreshed (defaults; tests shorten them).
        refresh: RefreshPolicy,
    },
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            JwtKeySource::Secret(_) => "HS256 secret (redacted)".to_owned(),
            JwtKeySource::Jwks { location, .. } => format!("JWKS at {location}"),
        };
        f.debug_struct("JwtConfig")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Default for `LOGSPOKE_LISTEN`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default for `LOGSPOKE_JWT_ISSUER`.
pub const DEFAULT_ISSUER: &str = "logspoke";
/// Default for `LOGSPOKE_JWT_AUDIENCE`.
pub const DEFAULT_AUDIENCE: &str = "logspoke-api";
/// Default for `LOGSPOKE_JWT_LEEWAY_SECONDS` (its `default_value` above says 30 too;
/// a test keeps them equal).
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest `LOGSPOKE_JWT_LEEWAY_SECONDS`: more would hide a broken clock and keep
/// expired tokens alive for minutes.
const MAX_JWT_LEEWAY_SECS: u64 = 300;
/// HS256 secrets shorter than this are refused (RFC 7518 §3.2: key ≥ hash size).
const MIN_SECRET_BYTES: usize = 32;

impl JwtArgs {
    /// Picks the key source: exactly one of the secret and the JWKS.
    pub fn into_config(self) -> Result<JwtConfig, ConfigError> {
        let keys = match (self.jwt_secret, self.jwt_jwks) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "LOGSPOKE_JWT_SECRET",
                    "set either LOGSPOKE_JWT_SECRET (HS256) or LOGSPOKE_JWT_JWKS (RS256/ES256), not both",
                ))
            }
            (Some(secret), None) => JwtKeySource::Secret(secret.expose().to_owned()),
            (None, Some(location)) => JwtKeySource::Jwks {
                location,
                refresh: RefreshPolicy::default(),
            },
            (None, None) => {
                return Err(ConfigError::new(
                    "LOGSPOKE_JWT_SECRET",
                    "is not set (nor LOGSPOKE_JWT_JWKS): one of them must configure token verification",
                ))
            }
        };
        Ok(JwtConfig {
            keys,
            issuer: self.jwt_issuer,
            audience: self.jwt_audience,
            leeway: self.jwt_leeway_seconds,
        })
    }
}

/// `LOGSPOKE_JWT_SECRET`: long enough for HS256.
fn jwt_secret(raw: &str) -> Result<Secret, String> {
    if raw.len() < MIN_SECRET_BYTES {
        return Err(format!("must be at least {MIN_SECRET_BYTES} bytes"));
    }
    Ok(Secret::new(raw))
}

/// A secret kept as given (`DATABASE_URL` may carry a password).
fn secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret::new(raw))
}

/// `LOGSPOKE_JWT_LEEWAY_SECONDS`: whole seconds, `0..=300`.
fn leeway(raw: &str) -> Result<Duration, String> {
    values::seconds_at_most(raw, MAX_JWT_LEEWAY_SECS)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::{Args, Command};
    use logspoke_runtime::config::{find_by_variable, from_vars, variables};

    use super::*;

    /// `serve`'s settings from `vars` over [`BASE`], as if they were the environment.
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: BTreeMap<&str, &str> = BASE.iter().chain(vars).copied().collect();
        let vars: Vec<(&str, &str)> = map.into_iter().collect();
        from_vars::<ServeArgs>(&vars)?.into_config()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const BASE: [(&str, &str); 5] = [
        ("LOGSPOKE_READ_MODEL_TABLE", "tenant-configs"),
        ("LOGSPOKE_LEDGER_TABLE", "delivery-ledger"),
        (
            "LOGSPOKE_CONFIG_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111111111111:config-changes",
        ),
        (
            "LOGSPOKE_PROVIDER_ROLE_ARN",
            "arn:aws:iam::111111111111:role/LogspokeProvider",
        ),
        (
            "LOGSPOKE_CUSTOMER_TEMPLATE_URL",
            "https://t.s3.amazonaws.com/customer-log-delivery-role.yaml",
        ),
    ];

    #[test]
    fn defaults_apply_when_optional_variables_are_absent() {
        let c = config(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("LOGSPOKE_JWT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.jwt.issuer, DEFAULT_ISSUER);
        assert_eq!(c.jwt.audience, DEFAULT_AUDIENCE);
        assert_eq!(c.jwt.leeway, DEFAULT_JWT_LEEWAY);
        assert!(matches!(c.jwt.keys, JwtKeySource::Secret(_)));
    }

    #[test]
    fn jwt_leeway_is_whole_seconds_up_to_five_minutes() {
        let leeway = |value: &str| {
            config(&[
                ("DATABASE_URL", "postgres://x"),
                ("LOGSPOKE_JWT_SECRET", SECRET),
                ("LOGSPOKE_JWT_LEEWAY_SECONDS", value),
            ])
            .map(|c| c.jwt.leeway.as_secs())
        };
        for (raw, secs) in [("0", 0), ("5", 5), (" 30 ", 30), ("300", 300), ("", 30)] {
            assert_eq!(leeway(raw).unwrap(), secs, "{raw:?}");
        }
        for raw in ["301", "-1", "1.5", "30s", "many"] {
            let err = leeway(raw).unwrap_err();
            assert_eq!(err.variable, "LOGSPOKE_JWT_LEEWAY_SECONDS", "{raw:?}");
        }
    }

    #[test]
    fn each_bad_setting_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("LOGSPOKE_JWT_SECRET", SECRET)], "DATABASE_URL"),
            (&[("DATABASE_URL", "postgres://x")], "LOGSPOKE_JWT_SECRET"),
            (
                &[("DATABASE_URL", "postgres://x"), ("LOGSPOKE_JWT_SECRET", "short")],
                "LOGSPOKE_JWT_SECRET",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_JWT_JWKS", "/k"),
                ],
                "LOGSPOKE_JWT_SECRET",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_LISTEN", "nope"),
                ],
                "LOGSPOKE_LISTEN",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_DB_MAX_CONNECTIONS", "0"),
                ],
                "LOGSPOKE_DB_MAX_CONNECTIONS",
            ),
        ];
        let onboarding: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_PROVIDER_ROLE_ARN", ""),
                ],
                "LOGSPOKE_PROVIDER_ROLE_ARN",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_PROVIDER_ROLE_ARN", "arn:aws:iam::1:role/x"),
                ],
                "LOGSPOKE_PROVIDER_ROLE_ARN",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_CUSTOMER_TEMPLATE_URL", "https://example.com/t.yaml"),
                ],
                "LOGSPOKE_CUSTOMER_TEMPLATE_URL",
            ),
        ];
        let publishing: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_READ_MODEL_TABLE", ""),
                ],
                "LOGSPOKE_READ_MODEL_TABLE",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_READ_MODEL_TABLE", "t/x"),
                ],
                "LOGSPOKE_READ_MODEL_TABLE",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    (
                        "LOGSPOKE_CONFIG_TOPIC_ARN",
                        "arn:aws:sqs:eu-west-1:111111111111:q",
                    ),
                ],
                "LOGSPOKE_CONFIG_TOPIC_ARN",
            ),
        ];
        // `serve` needs the ledger table: unset (empty counts as unset) or invalid.
        let health: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_LEDGER_TABLE", ""),
                ],
                "LOGSPOKE_LEDGER_TABLE",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("LOGSPOKE_JWT_SECRET", SECRET),
                    ("LOGSPOKE_LEDGER_TABLE", "ledger/x"),
                ],
                "LOGSPOKE_LEDGER_TABLE",
            ),
        ];
        for (vars, variable) in cases.iter().chain(onboarding).chain(publishing).chain(health) {
            let err = config(vars).unwrap_err();
            assert_eq!(err.variable, *variable, "{vars:?}");
            assert!(err.to_string().starts_with(variable));
        }
    }

    #[test]
    fn delivery_regions_are_known_regions_of_one_partition_each_listed_once() {
        let regions = |value: &str| {
            config(&[
                ("DATABASE_URL", "postgres://x"),
                ("LOGSPOKE_JWT_SECRET", SECRET),
                ("LOGSPOKE_DELIVERY_REGIONS", value),
            ])
            .map(|c| c.health.regions(Some("eu-west-1")).unwrap())
        };
        let names =
            |value: &str| -> Vec<&str> { regions(value).unwrap().iter().map(|r| r.as_str()).collect() };
        assert_eq!(names("us-east-1"), ["us-east-1"]);
        assert_eq!(
            names("us-east-1,eu-west-1"),
            ["us-east-1", "eu-west-1"],
            "in the order given"
        );
        assert_eq!(names(" eu-west-1 , ap-south-1 "), ["eu-west-1", "ap-south-1"]);
        assert_eq!(
            names("cn-north-1,cn-northwest-1"),
            ["cn-north-1", "cn-northwest-1"]
        );
        let refused = [
            ("eu-west-1,eu-west-1", "twice"),
            ("eu-west-1,us-east1", "not a known AWS region"),
            ("eu-west-1,,us-east-1", "empty region name"),
            ("eu-west-1,", "empty region name"),
            ("eu-west-1,cn-north-1", "partition"),
        ];
        for (value, words) in refused {
            let err = regions(value).unwrap_err();
            assert_eq!(err.variable, "LOGSPOKE_DELIVERY_REGIONS", "{value}");
            assert!(err.message.contains(words), "{value}: {err}");
        }
    }

    #[test]
    fn without_delivery_regions_the_apis_own_region_is_the_only_one() {
        for unset in [None, Some("  ")] {
            let mut vars = vec![("DATABASE_URL", "postgres://x"), ("LOGSPOKE_JWT_SECRET", SECRET)];
            vars.extend(unset.map(|blank| ("LOGSPOKE_DELIVERY_REGIONS", blank)));
            let health = config(&vars).unwrap().health;
            assert_eq!(health.delivery_regions, None);
            let own = health.regions(Some("ap-southeast-2")).unwrap();
            assert_eq!(own, [Region::parse("ap-southeast-2").unwrap()]);
            for unknown in [None, Some("moon-base-1")] {
                let err = health.regions(unknown).unwrap_err();
                assert_eq!(err.variable, "LOGSPOKE_DELIVERY_REGIONS");
            }
        }
    }

    #[test]
    fn jwks_must_be_https_except_on_loopback_hosts_or_a_file_path() {
        let jwks = |value: &str| config(&[("DATABASE_URL", "postgres://x"), ("LOGSPOKE_JWT_JWKS", value)]);
        for refused in [
            "http://idp.example/jwks.json",
            "http://10.1.2.3/jwks",
            "ftp://idp.example/jwks",
        ] {
            let err = jwks(refused).unwrap_err();
            assert_eq!(err.variable, "LOGSPOKE_JWT_JWKS", "{refused}");
            assert!(err.to_string().starts_with("LOGSPOKE_JWT_JWKS: "), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
        let accepted = [
            ("https://idp.example/.well-known/jwks.json", true),
            ("http://127.0.0.1:9999/jwks", true),
            ("http://localhost/jwks", true),
            ("http://[::1]/jwks", true),
            ("/etc/logspoke/jwks.json", false),
        ];
        for (value, is_url) in accepted {
            let c = jwks(value).unwrap();
            let JwtKeySource::Jwks { location, refresh } = c.jwt.keys else {
                panic!("{value}: not JWKS mode");
            };
            assert_eq!(matches!(location, JwksLocation::Url(_)), is_url, "{value}");
            assert_eq!(refresh, RefreshPolicy::default());
        }
    }

    #[test]
    fn serve_reads_the_documented_variables_and_hides_the_secret_ones() {
        let command = ServeArgs::augment_args(Command::new("serve"));
        assert_eq!(
            variables(&command),
            [
                "LOGSPOKE_LISTEN",
                "LOGSPOKE_DB_MAX_CONNECTIONS",
                "DATABASE_URL",
                "LOGSPOKE_JWT_SECRET",
                "LOGSPOKE_JWT_JWKS",
                "LOGSPOKE_JWT_ISSUER",
                "LOGSPOKE_JWT_AUDIENCE",
                "LOGSPOKE_JWT_LEEWAY_SECONDS",
                "LOGSPOKE_PROVIDER_ROLE_ARN",
                "LOGSPOKE_CUSTOMER_TEMPLATE_URL",
                "LOGSPOKE_READ_MODEL_TABLE",
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "LOGSPOKE_LEDGER_TABLE",
                "LOGSPOKE_DELIVERY_REGIONS",
                "LOGSPOKE_STAGING_RETENTION_DAYS",
                "LOGSPOKE_REPLAYS_PER_TENANT_PER_DAY",
                "LOGSPOKE_TENANT_WRITES_PER_MINUTE",
                "LOGSPOKE_NOTIFY_INTERVAL_SECONDS",
            ]
        );
        for secret in ["DATABASE_URL", "LOGSPOKE_JWT_SECRET"] {
            let arg = find_by_variable(&command, secret).unwrap();
            assert!(arg.is_hide_env_values_set(), "{secret} would show in --help");
        }
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let c = config(&[("DATABASE_URL", "postgres://x"), ("LOGSPOKE_JWT_SECRET", SECRET)]).unwrap();
        assert!(!format!("{c:?}").contains(SECRET));
        let c = config(&[
            ("DATABASE_URL", "postgres://app:hunter2@db/x"),
            ("LOGSPOKE_JWT_SECRET", SECRET),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let args = from_vars::<JwtArgs>(&[("LOGSPOKE_JWT_SECRET", SECRET)]).unwrap();
        assert!(!format!("{:?}", args.jwt_secret).contains(SECRET));
    }
}

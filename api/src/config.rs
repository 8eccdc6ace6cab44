//! Configuration from environment variables (names shared with the worker, scripts and
//! tests; see the README). A bad or missing value fails start-up with one line naming
//! the variable.

use std::net::SocketAddr;
use std::time::Duration;

use logspoke_contract::RoleArn;

use crate::auth::jwks::schedule::RefreshPolicy;
use crate::auth::jwks::source::JwksLocation;
use crate::onboarding::link::TemplateUrl;

/// The api's settings.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: the Postgres source of truth.
    pub database_url: String,
    /// `LOGSPOKE_LISTEN`: address the HTTP server binds.
    pub listen: SocketAddr,
    /// `LOGSPOKE_DB_MAX_CONNECTIONS`: size of the connection pool.
    pub db_max_connections: u32,
    /// Token verification settings.
    pub jwt: JwtConfig,
    /// What onboarding links and verification need.
    pub onboarding: OnboardingConfig,
    /// Where config changes are published.
    pub publishing: PublishingConfig,
}

/// Where the outbox relay publishes config changes.
#[derive(Debug, Clone)]
pub struct PublishingConfig {
    /// `LOGSPOKE_READ_MODEL_TABLE`: the DynamoDB read model the workers read.
    pub read_model_table: String,
    /// `LOGSPOKE_CONFIG_TOPIC_ARN`: the SNS topic of `ConfigChanged` events.
    pub config_topic_arn: String,
}

impl PublishingConfig {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table = get("LOGSPOKE_READ_MODEL_TABLE").ok_or_else(|| {
            error(
                "LOGSPOKE_READ_MODEL_TABLE",
                "is not set (the DynamoDB read-model table)",
            )
        })?;
        let valid_table = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid_table {
            return Err(error(
                "LOGSPOKE_READ_MODEL_TABLE",
                "must be 3 to 255 of [A-Za-z0-9_.-]",
            ));
        }
        let topic = get("LOGSPOKE_CONFIG_TOPIC_ARN").ok_or_else(|| {
            error(
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "is not set (the config-changes SNS topic)",
            )
        })?;
        let parts: Vec<&str> = topic.split(':').collect();
        let valid_topic = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "sns"
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !parts[5].is_empty();
        if !valid_topic {
            return Err(error(
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            ));
        }
        Ok(Self {
            read_model_table: table,
            config_topic_arn: topic,
        })
    }
}

/// Settings of customer onboarding.
#[derive(Debug, Clone)]
pub struct OnboardingConfig {
    /// `LOGSPOKE_PROVIDER_ROLE_ARN`: the role customers' roles trust; the first hop of
    /// every delivery and verification.
    pub provider_role_arn: RoleArn,
    /// `LOGSPOKE_CUSTOMER_TEMPLATE_URL`: where the customer role template is published.
    pub customer_template_url: TemplateUrl,
}

impl OnboardingConfig {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let role = get("LOGSPOKE_PROVIDER_ROLE_ARN").ok_or_else(|| {
            error(
                "LOGSPOKE_PROVIDER_ROLE_ARN",
                "is not set (the provider role customers trust)",
            )
        })?;
        let provider_role_arn =
            RoleArn::parse(&role).map_err(|e| error("LOGSPOKE_PROVIDER_ROLE_ARN", e.to_string()))?;
        let url = get("LOGSPOKE_CUSTOMER_TEMPLATE_URL").ok_or_else(|| {
            error(
                "LOGSPOKE_CUSTOMER_TEMPLATE_URL",
                "is not set (the S3 URL of customer-log-delivery-role.yaml)",
            )
        })?;
        let customer_template_url =
            TemplateUrl::parse(&url).map_err(|e| error("LOGSPOKE_CUSTOMER_TEMPLATE_URL", e))?;
        Ok(Self {
            provider_role_arn,
            customer_template_url,
        })
    }
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
            .finish()
    }
}

/// How bearer tokens are verified.
#[derive(Clone)]
pub struct JwtConfig {
    /// Where the verification keys come from (this pins the algorithm).
    pub keys: JwtKeySource,
    /// `LOGSPOKE_JWT_ISSUER`: the required `iss`.
    pub issuer: String,
    /// `LOGSPOKE_JWT_AUDIENCE`: the required `aud`.
    pub audience: String,
    /// `LOGSPOKE_JWT_LEEWAY_SECONDS`: the clock skew tolerated on `exp` and `nbf`. Small,
    /// because it extends every token's life: a 1 s token is accepted for this long.
    pub leeway: Duration,
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
/// Default for `LOGSPOKE_JWT_LEEWAY_SECONDS`.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest `LOGSPOKE_JWT_LEEWAY_SECONDS`: more would hide a broken clock and keep
/// expired tokens alive for minutes.
const MAX_JWT_LEEWAY_SECS: u64 = 300;
/// HS256 secrets shorter than this are refused (RFC 7518 §3.2: key ≥ hash size).
const MIN_SECRET_BYTES: usize = 32;

/// A configuration problem, displayed as one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn error(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = get("DATABASE_URL").ok_or_else(|| {
            error(
                "DATABASE_URL",
                "is not set (e.g. postgres://postgres@127.0.0.1:5432/logspoke)",
            )
        })?;
        let listen = get("LOGSPOKE_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen.parse().map_err(|_| {
            error(
                "LOGSPOKE_LISTEN",
                format!("'{listen}' is not an address like 127.0.0.1:8080"),
            )
        })?;
        let db_max_connections = match get("LOGSPOKE_DB_MAX_CONNECTIONS") {
            None => 10,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| error("LOGSPOKE_DB_MAX_CONNECTIONS", "must be a positive integer"))?,
        };
        Ok(Self {
            database_url,
            listen,
            db_max_connections,
            jwt: JwtConfig::from_lookup(get)?,
            onboarding: OnboardingConfig::from_lookup(get)?,
            publishing: PublishingConfig::from_lookup(get)?,
        })
    }
}

impl JwtConfig {
    /// Reads only the token settings (enough for `mint-token`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let keys = match (get("LOGSPOKE_JWT_SECRET"), get("LOGSPOKE_JWT_JWKS")) {
            (Some(_), Some(_)) => {
                return Err(error(
                    "LOGSPOKE_JWT_SECRET",
                    "set either LOGSPOKE_JWT_SECRET (HS256) or LOGSPOKE_JWT_JWKS (RS256/ES256), not both",
                ))
            }
            (Some(secret), None) if secret.len() < MIN_SECRET_BYTES => {
                return Err(error(
                    "LOGSPOKE_JWT_SECRET",
                    format!("must be at least {MIN_SECRET_BYTES} bytes"),
                ))
            }
            (Some(secret), None) => JwtKeySource::Secret(secret),
            (None, Some(jwks)) => JwtKeySource::Jwks {
                location: JwksLocation::parse(&jwks).map_err(|e| error("LOGSPOKE_JWT_JWKS", e))?,
                refresh: RefreshPolicy::default(),
            },
            (None, None) => {
                return Err(error(
                    "LOGSPOKE_JWT_SECRET",
                    "is not set (nor LOGSPOKE_JWT_JWKS): one of them must configure token verification",
                ))
            }
        };
        Ok(Self {
            keys,
            issuer: get("LOGSPOKE_JWT_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
            audience: get("LOGSPOKE_JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned()),
            leeway: parse_leeway(get("LOGSPOKE_JWT_LEEWAY_SECONDS"))?,
        })
    }
}

/// `LOGSPOKE_JWT_LEEWAY_SECONDS`: whole seconds, `0..=300`.
fn parse_leeway(raw: Option<String>) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_JWT_LEEWAY);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|secs| *secs <= MAX_JWT_LEEWAY_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            error(
                "LOGSPOKE_JWT_LEEWAY_SECONDS",
                format!("must be whole seconds from 0 to {MAX_JWT_LEEWAY_SECS}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = BASE
            .iter()
            .chain(vars)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const BASE: [(&str, &str); 4] = [
        ("LOGSPOKE_READ_MODEL_TABLE", "tenant-configs"),
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
        for (vars, variable) in cases.iter().chain(onboarding).chain(publishing) {
            let err = config(vars).unwrap_err();
            assert_eq!(err.variable, *variable, "{vars:?}");
            assert!(err.to_string().starts_with(variable));
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
    fn debug_output_never_contains_the_secret() {
        let c = config(&[("DATABASE_URL", "postgres://x"), ("LOGSPOKE_JWT_SECRET", SECRET)]).unwrap();
        assert!(!format!("{c:?}").contains(SECRET));
        let c = config(&[
            ("DATABASE_URL", "postgres://app:hunter2@db/x"),
            ("LOGSPOKE_JWT_SECRET", SECRET),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

//! The command line: `serve`, `migrate`, `mint-token`, `openapi`.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use logspoke_contract::TenantId;

use crate::auth::{jwt, Role};
use crate::config::{Config, JwtConfig};
use crate::{router, server, telemetry};

const ENVIRONMENT_HELP: &str = "\
Environment:
  DATABASE_URL                 Postgres URL (required)
  LOGSPOKE_LISTEN              address to bind [default: 127.0.0.1:8080]
  LOGSPOKE_DB_MAX_CONNECTIONS  connection pool size [default: 10]
  LOGSPOKE_JWT_SECRET          HS256 shared secret, at least 32 bytes
  LOGSPOKE_JWT_JWKS            or: path or URL of a JWKS (RS256/ES256)
  LOGSPOKE_JWT_ISSUER          required `iss` [default: logspoke]
  LOGSPOKE_JWT_AUDIENCE        required `aud` [default: logspoke-api]
  LOGSPOKE_PROVIDER_ROLE_ARN   the provider role customer roles trust (required)
  LOGSPOKE_CUSTOMER_TEMPLATE_URL  S3 URL of customer-log-delivery-role.yaml (required)
  LOGSPOKE_READ_MODEL_TABLE    DynamoDB table of the workers' read model (required)
  LOGSPOKE_CONFIG_TOPIC_ARN    SNS topic of ConfigChanged events (required)
  AWS_REGION, AWS_ENDPOINT_URL, AWS credentials  standard AWS SDK settings
  RUST_LOG                     log filter [default: info]";

/// Logspoke control-plane API.
#[derive(Debug, Parser)]
#[command(name = "logspoke-api", version, about, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the HTTP API until SIGTERM or Ctrl-C.
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve,
    /// Apply pending database migrations and exit.
    #[command(after_help = "Environment:\n  DATABASE_URL  Postgres URL (required)")]
    Migrate,
    /// Print a bearer token signed with LOGSPOKE_JWT_SECRET (HS256), for curl.
    #[command(after_help = "Environment: LOGSPOKE_JWT_SECRET, LOGSPOKE_JWT_ISSUER, LOGSPOKE_JWT_AUDIENCE")]
    MintToken {
        /// operator (every tenant) or tenant (one tenant).
        #[arg(long, value_enum)]
        role: Role,
        /// The token subject, recorded as the actor in the audit log.
        #[arg(long)]
        sub: String,
        /// Required with --role tenant.
        #[arg(long)]
        tenant_id: Option<String>,
        /// Lifetime, e.g. 15m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
    },
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
    /// Republish every delivery config to the read model and the change topic (for a
    /// new region or a restored table), then exit once the outbox is drained.
    #[command(after_help = ENVIRONMENT_HELP)]
    Resync,
    /// Check the onboarding setup against AWS: the customer template declares the
    /// parameters the links fill, and the provider role exists. Exit 1 on failure.
    #[command(after_help = "Environment: LOGSPOKE_PROVIDER_ROLE_ARN, LOGSPOKE_CUSTOMER_TEMPLATE_URL, AWS_*")]
    Check,
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            telemetry::init_tracing();
            server::run(Config::from_env()?).await
        }
        Command::Migrate => {
            telemetry::init_tracing();
            let url = std::env::var("DATABASE_URL").context("DATABASE_URL: is not set")?;
            let db = server::pool(&url, 1)?;
            server::migrate(&db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::MintToken {
            role,
            sub,
            tenant_id,
            ttl,
        } => {
            let tenant_id = tenant_id
                .as_deref()
                .map(TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--tenant-id: {e}"))?;
            let config = JwtConfig::from_env()?;
            println!(
                "{}",
                jwt::mint_hs256(&config, &sub, role, tenant_id.as_ref(), ttl)?
            );
            Ok(())
        }
        Command::Check => {
            let config = Config::from_env()?;
            let sdk = crate::aws::load_sdk_config().await;
            let checks = crate::onboarding::template_check::run(&sdk, &config.onboarding).await;
            for check in &checks {
                println!("{:<18} {:<8} {}", check.name, check.status, check.message);
            }
            if checks.iter().any(|c| c.status != "ok") {
                bail!("the onboarding setup is not ready");
            }
            Ok(())
        }
        Command::Resync => {
            telemetry::init_tracing();
            let config = Config::from_env()?;
            let db = server::pool(&config.database_url, 2)?;
            server::migrate(&db).await?;
            let queued = crate::outbox::enqueue_everything(&db).await?;
            let sdk = crate::aws::load_sdk_config().await;
            let publishing = &config.publishing;
            let sink = crate::outbox::sink::AwsReadModelSink::new(
                &sdk,
                &publishing.read_model_table,
                &publishing.config_topic_arn,
            );
            let settings = crate::outbox::relay::RelaySettings::default();
            let sent = crate::outbox::relay::drain(&db, &sink, &settings).await?;
            println!("queued {queued} config(s); published {sent} outbox row(s)");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", openapi_json()?);
            Ok(())
        }
    }
}

/// The OpenAPI document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> anyhow::Result<String> {
    serde_json::to_string_pretty(&router::openapi()).context("rendering the OpenAPI document")
}

/// Parses `90s`, `15m`, `1h`, `7d` (a bare number is seconds).
fn parse_ttl(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("'{raw}' is not a duration like 1h"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("unknown unit in '{raw}' (use s, m, h or d)"),
    };
    if number == 0 {
        bail!("the lifetime must be positive");
    }
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_table() {
        for (raw, secs) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("7d", 604_800),
        ] {
            assert_eq!(parse_ttl(raw).unwrap(), Duration::from_secs(secs), "{raw}");
        }
        for raw in ["", "h", "0h", "1w", "-1h", "1.5h"] {
            assert!(parse_ttl(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

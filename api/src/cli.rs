//! The command line: `serve`, `migrate`, `mint-token`, `openapi`.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use logspoke_contract::TenantId;

use crate::auth::{jwt, Role};
use crate::config::{DatabaseArgs, HealthConfig, JwtArgs, OnboardingConfig, PublishingConfig, ServeArgs};
use crate::{router, server, telemetry};

/// What the settings do not cover: the AWS SDK and the log filter read their own
/// variables.
const ENVIRONMENT_HELP: &str = "\
AWS: the SDK's standard variables (AWS_REGION, AWS_ENDPOINT_URL, credentials).
Logs: RUST_LOG filters them [default: info,sqlx=warn].
A variable set to an empty value counts as unset.";

/// Logspoke control-plane API.
///
/// Every setting is a flag and an environment variable; each subcommand's --help lists
/// the ones it reads.
#[derive(Parser)]
#[command(name = "logspoke-api", version, about, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The command line is parsed once at start: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the HTTP API until SIGTERM or Ctrl-C.
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print a bearer token signed with LOGSPOKE_JWT_SECRET (HS256), for curl.
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
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
    /// Republish every delivery config to the read model and the change topic (for a
    /// new region or a restored table), then exit once the outbox is drained.
    #[command(after_help = ENVIRONMENT_HELP)]
    Resync {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        publishing: PublishingConfig,
        #[command(flatten)]
        ledger: HealthConfig,
    },
    /// Check the onboarding setup against AWS: the customer template declares the
    /// parameters the links fill, and the provider role exists. Exit 1 on failure.
    #[command(after_help = ENVIRONMENT_HELP)]
    Check(OnboardingConfig),
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            telemetry::init_tracing();
            server::run(args.into_config()?).await
        }
        Command::Migrate(database) => {
            telemetry::init_tracing();
            let db = server::pool(database.database_url.expose(), 1)?;
            server::migrate(&db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::MintToken {
            role,
            sub,
            tenant_id,
            ttl,
            jwt,
        } => {
            let tenant_id = tenant_id
                .as_deref()
                .map(TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--tenant-id: {e}"))?;
            let config = jwt.into_config()?;
            println!(
                "{}",
                jwt::mint_hs256(&config, &sub, role, tenant_id.as_ref(), ttl)?
            );
            Ok(())
        }
        Command::Check(onboarding) => {
            let sdk = crate::aws::load_sdk_config().await;
            let checks = crate::onboarding::template_check::run(&sdk, &onboarding).await;
            for check in &checks {
                println!("{:<18} {:<8} {}", check.name, check.status, check.message);
            }
            if checks.iter().any(|c| c.status != "ok") {
                bail!("the onboarding setup is not ready");
            }
            Ok(())
        }
        Command::Resync {
            database,
            publishing,
            ledger,
        } => {
            telemetry::init_tracing();
            let db = server::pool(database.database_url.expose(), 2)?;
            server::migrate(&db).await?;
            let queued = crate::outbox::enqueue_everything(&db).await?;
            let sdk = crate::aws::load_sdk_config().await;
            let sink = crate::outbox::sink::AwsReadModelSink::new(
                &sdk,
                publishing.read_model_table.as_str(),
                publishing.config_topic_arn.as_str(),
                ledger.ledger_table.as_str(),
                &server::delivery_regions(&ledger, &sdk)?,
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

    /// Scripts run `openapi` and `mint-token` without the server's settings.
    #[test]
    fn only_the_subcommands_that_need_settings_read_them() {
        use clap::CommandFactory;
        let command = Cli::command();
        let reads = |name: &str| {
            let sub = command.find_subcommand(name).unwrap();
            logspoke_runtime::config::variables(sub)
        };
        assert!(reads("openapi").is_empty());
        assert_eq!(
            reads("mint-token"),
            [
                "LOGSPOKE_JWT_SECRET",
                "LOGSPOKE_JWT_JWKS",
                "LOGSPOKE_JWT_ISSUER",
                "LOGSPOKE_JWT_AUDIENCE",
                "LOGSPOKE_JWT_LEEWAY_SECONDS",
            ]
        );
        assert_eq!(reads("migrate"), ["DATABASE_URL"]);
        assert_eq!(
            reads("check"),
            ["LOGSPOKE_PROVIDER_ROLE_ARN", "LOGSPOKE_CUSTOMER_TEMPLATE_URL"]
        );
        assert_eq!(
            reads("resync"),
            [
                "DATABASE_URL",
                "LOGSPOKE_READ_MODEL_TABLE",
                "LOGSPOKE_CONFIG_TOPIC_ARN",
                "LOGSPOKE_LEDGER_TABLE",
                "LOGSPOKE_DELIVERY_REGIONS"
            ]
        );
        let parsed = logspoke_runtime::config::try_parse::<Cli, _, _>(["logspoke-api", "openapi"]);
        assert!(matches!(
            parsed,
            Ok(Cli {
                command: Command::Openapi
            })
        ));
    }
}

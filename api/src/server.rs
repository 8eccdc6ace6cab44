//! Starting the service: database pool, migrations, verifier, listener, graceful stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use logspoke_contract::Region;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::auth::jwt::Verifier;
use crate::aws::chain::RoleChain;
use crate::aws::target_access::AwsTargetAccess;
use crate::config::{Config, ConfigError, HealthConfig};
use crate::delivery_health::{DynamoHealthStore, HealthReader};
use crate::notifications::notifier::{self, NotifierSettings};
use crate::notifications::publisher::SnsPublisher;
use crate::onboarding::template_check::{self, ConfigChecks};
use crate::outbox::relay::{self, RelaySettings};
use crate::outbox::sink::AwsReadModelSink;
use crate::state::AppState;
use crate::write_limit::WriteLimiter;
use crate::{aws, router, telemetry, MIGRATOR};

/// Opens the pool; connections are made lazily so the service starts (and reports
/// not-ready) even while the database is briefly away.
pub fn pool(database_url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = database_url
        .parse()
        .context("DATABASE_URL: not a valid Postgres URL")?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// Applies pending migrations.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(db).await.context("applying database migrations")
}

/// Builds the state the router needs (AWS from the standard SDK variables).
pub async fn state(config: &Config) -> anyhow::Result<AppState> {
    let db = pool(&config.database_url, config.db_max_connections)?;
    let verifier = Verifier::from_config(&config.jwt).await?;
    let sdk = aws::load_sdk_config().await;
    let regions = delivery_regions(&config.health, &sdk)?;
    let health = health_reader(&sdk, config.health.ledger_table.as_str(), &regions);
    let chain = RoleChain::new(sdk, config.onboarding.provider_role_arn.clone());
    Ok(AppState {
        db,
        verifier: Arc::new(verifier),
        metrics: telemetry::metrics_handle(),
        onboarding: Arc::new(config.onboarding.clone()),
        aws: AwsTargetAccess::new(chain),
        config_checks: Arc::new(ConfigChecks::default()),
        verify_limiter: Default::default(),
        health,
        replays: config.replays.clone(),
        write_limiter: WriteLimiter::new(config.tenant_writes_per_minute),
    })
}

/// The provider regions whose ledgers the api reads and writes replay jobs into:
/// `LOGSPOKE_DELIVERY_REGIONS`, else the SDK's own region.
pub fn delivery_regions(health: &HealthConfig, sdk: &SdkConfig) -> Result<Vec<Region>, ConfigError> {
    health.regions(sdk.region().map(|region| region.as_ref()))
}

/// A reader of `table` in each of `regions` (same credentials and endpoint as `sdk`).
pub fn health_reader(sdk: &SdkConfig, table: &str, regions: &[Region]) -> HealthReader {
    let stores = regions
        .iter()
        .map(|region| {
            (
                *region,
                DynamoHealthStore::new(&aws::in_region(sdk, *region), table),
            )
        })
        .collect();
    HealthReader::new(stores)
}

/// Serves on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    logspoke_runtime::telemetry::spawn_metrics_upkeep(state.metrics.clone());
    axum::serve(listener, router::app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}

/// Runs the api: migrate, start the outbox relay, the notifier and the configuration
/// checks, bind, serve until SIGTERM or Ctrl-C, then stop the background work.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = state(&config).await?;
    migrate(&state.db).await?;
    let sdk = aws::load_sdk_config().await;
    template_check::spawn(
        sdk.clone(),
        config.onboarding.clone(),
        state.config_checks.clone(),
    );
    let (stop_relay, relay_stopped) = tokio::sync::watch::channel(false);
    let sink = AwsReadModelSink::new(
        &sdk,
        config.publishing.read_model_table.as_str(),
        config.publishing.config_topic_arn.as_str(),
        config.health.ledger_table.as_str(),
        &state.health.regions(),
    );
    let relay = tokio::spawn(relay::run(
        state.db.clone(),
        sink,
        RelaySettings::default(),
        relay_stopped,
    ));
    let purge = tokio::spawn(crate::idempotency::run_purge(
        state.db.clone(),
        stop_relay.subscribe(),
    ));
    let notifier = tokio::spawn(notifier::run(
        state.clone(),
        SnsPublisher::new(state.aws.chain()),
        NotifierSettings {
            interval: Duration::from_secs(u64::from(config.notify_interval_seconds)),
            ..NotifierSettings::default()
        },
        stop_relay.subscribe(),
    ));
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("LOGSPOKE_LISTEN: cannot bind {}", config.listen))?;
    tracing::info!(listen = %config.listen, "logspoke-api listening");
    let served = serve(listener, state, shutdown_signal()).await;
    let _ = stop_relay.send(true);
    let _ = relay.await;
    let _ = purge.await;
    let _ = notifier.await;
    served
}

/// Resolves on SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    logspoke_runtime::shutdown_signal().await;
    tracing::info!("shutdown requested; finishing in-flight requests");
}

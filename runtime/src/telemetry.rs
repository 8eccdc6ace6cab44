//! JSON logs to stdout and the process-wide Prometheus recorder, set up the same way in
//! every binary.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Installs JSON logging to stdout, filtered by `RUST_LOG` or else `default_filter`.
/// Each line carries the current span and the span list. Safe to call twice (the
/// first call wins), so tests can call it freely.
pub fn init_tracing(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(true)
        .try_init();
}

/// A histogram with its own buckets (seconds, ratios…); the others are summaries.
#[derive(Debug, Clone, Copy)]
pub struct Histogram {
    /// The full metric name.
    pub name: &'static str,
    /// Upper bounds, ascending.
    pub buckets: &'static [f64],
}

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use with `histograms`
/// (later calls get the same recorder, whatever they pass).
pub fn metrics_handle(histograms: &[Histogram]) -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            let recorder = with_buckets(histograms)
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "histogram buckets refused; using summaries");
                    PrometheusBuilder::new()
                })
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

fn with_buckets(
    histograms: &[Histogram],
) -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    histograms
        .iter()
        .try_fold(PrometheusBuilder::new(), |builder, h| {
            builder.set_buckets_for_metric(Matcher::Full(h.name.to_owned()), h.buckets)
        })
}

/// Keeps histogram buffers drained even when nobody scrapes `/metrics`.
pub fn spawn_metrics_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

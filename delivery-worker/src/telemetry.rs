//! Logs and metrics: JSON logs, the Prometheus recorder, and the per-call AWS counter.

use std::sync::OnceLock;

use logspoke_aws::AwsError;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// JSON logs, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .try_init();
}

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder.
pub fn metrics_handle() -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts one AWS call by API and outcome (`ok`, `throttled`, `transient`, or the error code).
pub fn aws_call<T>(api: &'static str, result: &Result<T, AwsError>) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(err) if err.code().contains("Throttl") || err.code() == "SlowDown" => "throttled".to_owned(),
        Err(err) if err.is_transient() => "transient".to_owned(),
        Err(err) if err.code().is_empty() => "error".to_owned(),
        Err(err) => err.code().to_owned(),
    };
    metrics::counter!("logspoke_worker_aws_calls_total", "api" => api, "outcome" => outcome).increment(1);
}

/// Counts one `PutLogEvents` call, whatever its outcome, in both counters that report
/// it: `logspoke_worker_aws_calls_total{api="PutLogEvents"}` and its sum over outcomes,
/// `logspoke_worker_put_log_events_calls_total`. Counting both here keeps them equal
/// (the total once counted retries' stream creations and missed failed sends).
pub fn put_log_events_call<T>(result: &Result<T, AwsError>) {
    aws_call("PutLogEvents", result);
    metrics::counter!("logspoke_worker_put_log_events_calls_total").increment(1);
}

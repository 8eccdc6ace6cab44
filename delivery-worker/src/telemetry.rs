//! The worker's logs and metrics: its log filter for the shared set-up in
//! [`logspoke_runtime::telemetry`], and the per-call AWS counters.

use logspoke_aws::AwsError;
use metrics_exporter_prometheus::PrometheusHandle;

/// JSON logs, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    logspoke_runtime::telemetry::init_tracing("info");
}

/// The process-wide Prometheus recorder (summaries for the histograms).
pub fn metrics_handle() -> PrometheusHandle {
    logspoke_runtime::telemetry::metrics_handle(&[])
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

//! The api's logs and metrics: its log filter and latency buckets for the shared set-up
//! in [`logspoke_runtime::telemetry`], and the per-request metrics middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use logspoke_runtime::telemetry::{self as runtime, Histogram};
use metrics_exporter_prometheus::PrometheusHandle;

/// Default log filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Latency buckets (seconds) for request histograms: fine-grained below 10 ms, where
/// the API is expected to answer.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs JSON logging to stdout (filter from `RUST_LOG`). Safe to call twice.
pub fn init_tracing() {
    runtime::init_tracing(DEFAULT_FILTER);
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    runtime::metrics_handle(&[Histogram {
        name: "http_request_duration_seconds",
        buckets: LATENCY_BUCKETS,
    }])
}

/// Counts requests and records latency by method, matched route and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

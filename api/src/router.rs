//! The route table: every route of the service, and the middleware stack around it.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, RawPathParams, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem, PROBLEM_JSON};
use crate::extract::BODY_LIMIT_BYTES;
use crate::openapi::{finish, ApiDoc};
use crate::routes::{
    audit_events, clusters, delivery_configs as configs, delivery_health, notifications, onboarding, ops,
    replays, tenants,
};
use crate::state::AppState;
use crate::telemetry;

/// Longest a request may take before it is answered with 503. Work with its own bound
/// (verification) must stay well within it, so that its own answer reaches the client.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Every documented route. Handlers sharing a path share a `routes!` call.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            tenants::create::create_tenant,
            tenants::list::list_tenants
        ))
        .routes(routes!(
            tenants::get::get_tenant,
            tenants::update::update_tenant,
            tenants::delete::delete_tenant
        ))
        .routes(routes!(clusters::list::list_clusters))
        .routes(routes!(
            clusters::put::put_cluster,
            clusters::delete::delete_cluster
        ))
        .routes(routes!(configs::list::list_delivery_configs))
        .routes(routes!(
            configs::get::get_delivery_config,
            configs::put::put_delivery_config,
            configs::patch::patch_delivery_config,
            configs::delete::delete_delivery_config
        ))
        .routes(routes!(configs::verify::verify_delivery_config))
        .routes(routes!(configs::health::get_delivery_health))
        .routes(routes!(delivery_health::list::list_delivery_health))
        .routes(routes!(
            replays::create::create_replay,
            replays::list::list_replays
        ))
        .routes(routes!(replays::get::get_replay, replays::cancel::cancel_replay))
        .routes(routes!(onboarding::start::start_onboarding))
        .routes(routes!(onboarding::rotate::rotate_external_id))
        .routes(routes!(
            notifications::get::get_notification_target,
            notifications::put::put_notification_target,
            notifications::delete::delete_notification_target
        ))
        .routes(routes!(notifications::test::test_notification_target))
        .routes(routes!(notifications::list::list_notifications))
        .routes(routes!(audit_events::list::list_audit_events))
}

/// The OpenAPI document of the service (what `openapi/openapi.json` holds).
pub fn openapi() -> serde_json::Value {
    let (_, document) = routes().split_for_parts();
    finish(document)
}

/// The whole application: routes, docs and middleware, bound to its state.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    let spec = openapi();
    router
        .route("/openapi.json", get(move || async move { Json(spec) }))
        .route("/healthz", get(ops::get_healthz))
        .route("/readyz", get(ops::get_readyz))
        .route("/metrics", get(ops::get_metrics))
        .merge(crate::routes::docs::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::write_limit::limit_tenant_writes,
        ))
        .route_layer(middleware::from_fn(impossible_tenant_is_not_found))
        .route_layer(middleware::from_fn(telemetry::track_requests))
        .fallback(|| async { ApiError::NotFound("there is no such route".into()) })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION]))
                .layer(middleware::from_fn(crate::audit::take_client_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new())
                .layer(middleware::from_fn(problem_for_bare_errors))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    REQUEST_TIMEOUT,
                ))
                .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
        )
}

/// A `{tenant_id}` path segment that no tenant could have is a 404, in one place and
/// before any handler looks at preconditions or bodies (which would answer 412 or 422
/// about a resource that cannot exist).
async fn impossible_tenant_is_not_found(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, &()).await {
        for (name, value) in &params {
            if name == "tenant_id" {
                if let Err(err) = crate::paths::parse_tenant(value) {
                    return err.into_response();
                }
            }
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The span every request log line carries: method, path and request id.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let client_request_id = request
        .extensions()
        .get::<crate::audit::ClientRequestId>()
        .map_or("", |c| c.0.as_str());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        client_request_id = %client_request_id,
    )
}

/// Error responses produced outside the handlers (body limit, timeout, unknown method)
/// get a problem document too, so every error a client sees has one shape.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body exceeds the limit of {BODY_LIMIT_BYTES} bytes")
        }
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this resource".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => "the request took too long and was abandoned".to_owned(),
        _ => status.canonical_reason().unwrap_or("request failed").to_owned(),
    };
    let mut problem = Problem::new(status, detail).into_response();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

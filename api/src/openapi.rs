//! The OpenAPI document: metadata, the bearer scheme, and the problem responses every
//! `/v1` operation can return. Paths come from the handlers' `#[utoipa::path]`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem, PROBLEM_JSON};

/// Document metadata and shared components.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Logspoke control plane",
        description = "Tenants and their log delivery configs (CloudWatch Logs, S3), with an audit trail.\n\n\
            Every `/v1` operation needs `Authorization: Bearer <JWT>`; errors are RFC 9457 problem documents.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&V1Conventions),
    tags(
        (name = "tenants", description = "Customers whose logs are delivered"),
        (name = "clusters", description = "The collected clusters whose logs a tenant receives"),
        (name = "delivery-configs", description = "Where and how a tenant's logs go"),
        (name = "onboarding", description = "ExternalIds and the customer role's quick-create link"),
        (name = "audit", description = "Who changed what, when"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme, and to every `/v1` operation its security requirement and
/// the 401/403/500 problem responses, so handlers list only their own outcomes.
struct V1Conventions;

impl Modify for V1Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Applies the `/v1` conventions to every operation of a finished document.
pub fn apply_v1_conventions(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_conventions(operation);
        }
    }
}

fn add_conventions(operation: &mut Operation) {
    operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    let standard = [
        ("401", "Missing, malformed, expired or untrusted bearer token"),
        ("403", "The principal may not perform this operation"),
        ("500", "Internal error (logged; the body is opaque)"),
    ];
    let with_body = [
        ("400", "The body is not valid JSON"),
        ("413", "The body exceeds the size limit"),
        ("415", "The body is not JSON"),
    ];
    let body_responses = if operation.request_body.is_some() {
        &with_body[..]
    } else {
        &[]
    };
    for (status, description) in standard.iter().chain(body_responses) {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| problem_response(description).into());
    }
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

//! The OpenAPI document: metadata, the bearer scheme (also the document's default
//! `security`, so a reference UI preselects it), and the problem responses every `/v1`
//! operation can return. Paths come from the handlers' `#[utoipa::path]`; the
//! finished document then gets one operation per delivery type ([`per_type`]) and
//! parameter schemas exactly as strict as the server ([`finish`]).

pub mod fields;
mod per_type;

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
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "The host serving this document")),
    security(("bearer" = [])),
    components(schemas(Problem, FieldError)),
    modifiers(&V1Conventions),
    tags(
        (name = "tenants", description = "Customers whose logs are delivered"),
        (name = "clusters", description = "The collected clusters whose logs a tenant receives"),
        (name = "delivery-configs", description = "Where and how a tenant's logs go"),
        (name = "delivery-health", description = "Whether logs reach each target, and what to do when they do not"),
        (name = "replays", description = "Redelivering a time window of staged logs to a target: backfills and recoveries"),
        (name = "onboarding", description = "ExternalIds and the customer role's quick-create link"),
        (name = "notifications", description = "Being told when delivery breaks, recovers or a replay ends: an SNS topic in the tenant's account"),
        (name = "audit", description = "Who changed what, when"),
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

/// The document as served and committed: the `/v1` conventions, one operation per
/// delivery type, and parameters as strict as the server.
pub fn finish(mut document: utoipa::openapi::OpenApi) -> serde_json::Value {
    apply_v1_conventions(&mut document);
    let mut document = serde_json::to_value(document).unwrap_or_default();
    document["components"]["schemas"]["Region"] =
        serde_json::to_value(fields::region_component()).unwrap_or_default();
    document["components"]["schemas"]["Filter"] =
        serde_json::to_value(fields::filter_component()).unwrap_or_default();
    document["components"]["schemas"]["FilterRule"] =
        serde_json::to_value(fields::filter_rule_component()).unwrap_or_default();
    per_type::split(&mut document);
    optional_bodies_as_plain_references(&mut document);
    tighten_parameters(&mut document);
    document
}

/// Every operation (and path-level member) of a JSON document.
fn operations_mut(document: &mut serde_json::Value) -> impl Iterator<Item = &mut serde_json::Value> {
    document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
}

/// An optional body is documented as its schema with `required: false`, not as
/// `oneOf: [null, schema]`: generated clients then send no body when given none (with
/// the `oneOf`, openapi-python-client serialises its "unset" marker and fails).
fn optional_bodies_as_plain_references(document: &mut serde_json::Value) {
    use serde_json::Value;
    let bodies = operations_mut(document)
        .filter_map(|operation| operation.get_mut("requestBody"))
        .filter(|body| body.get("required") != Some(&Value::Bool(true)));
    for body in bodies {
        let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        for media in content.values_mut() {
            let Some(Value::Array(branches)) = media.pointer("/schema/oneOf").cloned() else {
                continue;
            };
            let mut plain = branches.into_iter().filter(|b| b["type"] != "null");
            if let (Some(schema), None) = (plain.next(), plain.next()) {
                media["schema"] = schema;
            }
        }
    }
}

/// Parameters are never `null` on the wire (an absent header is absent, not `null`),
/// and every `tenant_id` path segment follows the tenant id rule.
fn tighten_parameters(document: &mut serde_json::Value) {
    use serde_json::Value;
    let parameters = operations_mut(document)
        .filter_map(|operation| operation.get_mut("parameters"))
        .filter_map(Value::as_array_mut)
        .flatten();
    for parameter in parameters {
        if parameter["in"] == "path" && parameter["name"] == "tenant_id" {
            parameter["schema"] = serde_json::to_value(fields::tenant_id()).unwrap_or_default();
        }
        if parameter["in"] == "header" && parameter["name"] == "If-Match" {
            parameter["schema"]["pattern"] = crate::etag::IF_MATCH_PATTERN.into();
        }
        if let Some(Value::Array(types)) = parameter.pointer_mut("/schema/type") {
            types.retain(|t| t != "null");
            if let [single] = &types[..] {
                let single = single.clone();
                parameter["schema"]["type"] = single;
            }
        }
    }
}

/// Applies the `/v1` conventions to every operation of a finished document.
fn apply_v1_conventions(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        if let Some(operation) = &mut item.get {
            add_conventions(operation, false);
        }
        for operation in [&mut item.put, &mut item.post, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
        {
            add_conventions(operation, true);
        }
    }
}

/// The standard problem responses of a `/v1` operation; a `change` (POST, PUT, PATCH,
/// DELETE) may also meet the per-tenant write limit (`crate::write_limit`).
fn add_conventions(operation: &mut Operation, change: bool) {
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
    let limited = [(
        "429",
        "Too many changes by this tenant for now (per-tenant write limit, or this operation's own); `Retry-After` says when to try again",
    )];
    let change_responses = if change { &limited[..] } else { &[] };
    for (status, description) in standard.iter().chain(body_responses).chain(change_responses) {
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

//! `PUT /v1/tenants/{tenant_id}/notification-target`

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use logspoke_contract::RoleArn;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::parse_json;
use crate::notifications::repository::{self, NotificationTarget};
use crate::notifications::NotificationTopic;
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::unit_of_work::WriteTx;

/// Where a tenant's notifications go.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationTargetInput {
    /// An SNS topic in the role's account (the onboarding stack's `NotificationTopicArn`
    /// output when it was launched with `NotificationEmail`).
    #[schema(schema_with = crate::openapi::fields::notification_topic_arn)]
    pub topic_arn: String,
    /// The role of one of the tenant's verified delivery configs, which may `sns:Publish`
    /// to the topic (the onboarding stack grants it on its topic alone).
    #[schema(schema_with = crate::openapi::fields::customer_role_arn)]
    pub role_arn: String,
}

impl NotificationTargetInput {
    /// Both fields, each problem named; the role one the provider may assume, the topic
    /// in its account.
    fn parse(&self, provider: &RoleArn) -> Result<(NotificationTopic, RoleArn), ApiError> {
        let mut errors = Vec::new();
        let role = RoleArn::parse(&self.role_arn)
            .and_then(|arn| arn.check_customer_role(provider).map(|()| arn))
            .map_err(|e| errors.push(FieldError::new("role_arn", e.to_string())))
            .ok();
        let topic = NotificationTopic::parse(&self.topic_arn)
            .and_then(|topic| match &role {
                Some(role) => topic.check_role(role).map(|()| topic),
                None => Ok(topic),
            })
            .map_err(|e| errors.push(FieldError::new("topic_arn", e)))
            .ok();
        match (topic, role) {
            (Some(topic), Some(role)) if errors.is_empty() => Ok((topic, role)),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Register the tenant's notification target
///
/// Notifications (a target started failing, recovered, has parked objects about to
/// expire, a replay ended) are published to this SNS topic of the tenant's account, as
/// the tenant's delivery role, at least once; each carries a `notification_id` to
/// deduplicate by. No URL is ever called. Replacing the target resets its state to
/// `untested`; `POST …/notification-target/test` sends a test notification.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant_id}/notification-target",
    tag = "notifications",
    params(TenantPath),
    request_body = NotificationTargetInput,
    responses(
        (status = 201, description = "Registered", body = NotificationTarget,
            headers(("Location" = String, description = "URL of the notification target"))),
        (status = 200, description = "Replaced", body = NotificationTarget),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid topic, or a role no verified config of the tenant has", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn put_notification_target(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let input: NotificationTargetInput = parse_json(&body)?;
    let (topic, role) = input.parse(&state.onboarding.provider_role_arn)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    tenants::require(write.conn(), &tenant_id, true).await?;
    // Only a role `verify` proved (it refuses an ExternalId other than this tenant's): a
    // tenant cannot make the provider publish through a role it merely knows the ARN of.
    if !repository::is_verified_role(write.conn(), &tenant_id, role.as_str()).await? {
        return Err(ApiError::field(
            "role_arn",
            "must be the role of one of the tenant's verified delivery configs (verify the config first)",
        ));
    }
    let before = repository::fetch_target(write.conn(), &tenant_id, true).await?;
    let stored = repository::upsert_target(write.conn(), &tenant_id, topic.as_str(), role.as_str()).await?;
    let (action, status) = match before {
        Some(_) => ("notification_target.replaced", StatusCode::OK),
        None => ("notification_target.registered", StatusCode::CREATED),
    };
    write
        .audit(
            &tenant_id,
            action,
            before.map(audit_document),
            Some(audit_document(stored.clone())),
        )
        .await?;
    write.commit().await?;
    tracing::info!(tenant_id = %tenant_id, "notification target registered");
    let location = format!("/v1/tenants/{tenant_id}/notification-target");
    Ok((status, [(header::LOCATION, location)], axum::Json(stored)).into_response())
}

/// What the audit log keeps of a notification target: where, not its send state.
pub fn audit_document(target: NotificationTarget) -> serde_json::Value {
    serde_json::json!({"topic_arn": target.topic_arn, "role_arn": target.role_arn})
}

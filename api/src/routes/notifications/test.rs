//! `POST /v1/tenants/{tenant_id}/notification-target/test`

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::not_found;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::notifications::{repository, Message};
use crate::paths::TenantPath;
use crate::state::AppState;

/// A queued test notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedNotification {
    /// Its id, as the message will carry it; `GET …/notifications` shows when it was sent.
    pub notification_id: Uuid,
}

/// Send a test notification
///
/// Queues a `test` notification to the tenant's topic (sent within seconds): a way to
/// check the subscription and the role's permission. One waits at a time: asking again
/// before it is sent answers with the same `notification_id`. Its outcome shows in
/// `GET …/notifications` and in the notification target's state.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/notification-target/test",
    tag = "notifications",
    params(TenantPath),
    responses(
        (status = 202, description = "Queued", body = QueuedNotification),
        (status = 404, description = "No such tenant or no notification target", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn test_notification_target(
    State(state): State<AppState>,
    principal: Principal,
    TenantPath { tenant_id }: TenantPath,
) -> Result<(StatusCode, Json<QueuedNotification>), ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let mut conn = state.db.acquire().await?;
    if repository::fetch_target(&mut conn, &tenant_id, false)
        .await?
        .is_none()
    {
        return Err(not_found(&tenant_id));
    }
    let message = Message::test(&tenant_id, chrono::Utc::now());
    let queued = repository::queue(&mut conn, &message, None, None).await?;
    // One test waits at a time: asking again while it waits answers with it.
    let id = match queued {
        Some(id) => Some(id),
        None => repository::waiting_test(&mut conn, &tenant_id).await?,
    };
    let id = id.ok_or_else(|| not_found(&tenant_id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(QueuedNotification { notification_id: id }),
    ))
}

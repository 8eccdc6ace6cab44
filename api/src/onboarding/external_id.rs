//! The tenant's ExternalId: issued once, returned unchanged, rotated on request.
//! The value is never logged.

use logspoke_contract::{ExternalId, TenantId};
use sqlx::PgConnection;

use crate::store::StoreError;

/// The tenant's ExternalId, issuing one first if it has none. Returns whether it was
/// issued by this call (for the audit log).
#[tracing::instrument(skip_all)]
pub async fn get_or_issue(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> Result<(ExternalId, bool), StoreError> {
    let fresh = ExternalId::generate();
    let inserted = sqlx::query_scalar!(
        "insert into tenant_external_ids (tenant_id, external_id) values ($1, $2)
         on conflict (tenant_id) do nothing returning external_id",
        tenant_id.as_str(),
        fresh.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok((fresh, true));
    }
    let stored = fetch(conn, tenant_id)
        .await?
        .ok_or_else(|| StoreError::corrupt("ExternalId", "the row vanished while onboarding"))?;
    Ok((stored, false))
}

/// The tenant's ExternalId, if onboarding issued one.
#[tracing::instrument(skip_all)]
pub async fn fetch(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Option<ExternalId>, StoreError> {
    let raw = sqlx::query_scalar!(
        "select external_id from tenant_external_ids where tenant_id = $1",
        tenant_id.as_str()
    )
    .fetch_optional(conn)
    .await?;
    raw.map(|value| {
        // The reason may quote the value: not included.
        ExternalId::parse(&value).map_err(|_| StoreError::corrupt("ExternalId", "it does not parse"))
    })
    .transpose()
}

/// Replaces the tenant's ExternalId with a new one.
#[tracing::instrument(skip_all)]
pub async fn rotate(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<ExternalId, StoreError> {
    let fresh = ExternalId::generate();
    sqlx::query!(
        "insert into tenant_external_ids (tenant_id, external_id) values ($1, $2)
         on conflict (tenant_id) do update set external_id = excluded.external_id, rotated_at = now()",
        tenant_id.as_str(),
        fresh.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(fresh)
}

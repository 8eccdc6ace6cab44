//! `Idempotency-Key` on POST: a retry with the same key and the same body gets the first
//! response again; the same key with another body is refused. Keys are scoped to the
//! token subject and remembered for 24 hours.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::ApiError;

/// Why a key could not be replayed or stored.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The key was used before with another body.
    #[error("this Idempotency-Key was already used with a different request body")]
    KeyReused,
    /// A concurrent request with the key stored its response first.
    #[error("a request with this Idempotency-Key is in progress")]
    InProgress,
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Db(db) => db.into(),
            IdempotencyError::KeyReused => Self::Unprocessable(err.to_string()),
            IdempotencyError::InProgress => Self::Conflict(err.to_string()),
        }
    }
}

/// Longest accepted key.
const MAX_KEY_LEN: usize = 255;

/// A validated `Idempotency-Key` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads the header; absent is fine, present must be 1–255 visible ASCII characters.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value.to_str().unwrap_or("").trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Some(Self(key.to_owned())))
    }
}

/// Fingerprint of a parsed request body (semantic, so whitespace does not matter).
pub fn request_hash(body: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// A response remembered for replay.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// HTTP status of the first response.
    pub status: u16,
    /// Its JSON body.
    pub body: Value,
    /// Its `Location` header, if any.
    pub location: Option<String>,
}

impl StoredResponse {
    fn into_replay(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// The stored response for this key, replayed, if the key was used before: `Ok(None)`
/// when it is new, 422 when it was used with a different body.
#[tracing::instrument(skip_all)]
pub async fn replay(
    conn: &mut PgConnection,
    subject: &str,
    key: &IdempotencyKey,
    hash: &str,
) -> Result<Option<Response>, IdempotencyError> {
    let row = sqlx::query!(
        r#"select request_hash, response_status, response_body, location
           from idempotency_keys
           where subject = $1 and idempotency_key = $2 and created_at > now() - interval '24 hours'"#,
        subject,
        key.0,
    )
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.request_hash != hash {
        return Err(IdempotencyError::KeyReused);
    }
    let stored = StoredResponse {
        status: u16::try_from(row.response_status).unwrap_or(200),
        body: row.response_body,
        location: row.location,
    };
    Ok(Some(stored.into_replay()))
}

/// Remembers the first response for this key, in the transaction that produced it.
/// Fails with a conflict when a concurrent request stored the key first.
#[tracing::instrument(skip_all)]
pub async fn store(
    conn: &mut PgConnection,
    subject: &str,
    key: &IdempotencyKey,
    hash: &str,
    response: &StoredResponse,
) -> Result<(), IdempotencyError> {
    let status = i16::try_from(response.status).unwrap_or(200);
    let stored = sqlx::query!(
        r#"insert into idempotency_keys (subject, idempotency_key, request_hash, response_status, response_body, location)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (subject, idempotency_key) do update
             set request_hash = excluded.request_hash, response_status = excluded.response_status,
                 response_body = excluded.response_body, location = excluded.location, created_at = now()
             where idempotency_keys.created_at <= now() - interval '24 hours'"#,
        subject,
        key.0,
        hash,
        status,
        response.body,
        response.location,
    )
    .execute(conn)
    .await?;
    if stored.rows_affected() == 0 {
        return Err(IdempotencyError::InProgress);
    }
    Ok(())
}

/// How often [`purge_expired`] runs.
pub const PURGE_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

/// Rows deleted per statement, so a large backlog never holds a long transaction.
const PURGE_BATCH: i64 = 10_000;

/// Deletes the keys past their 24 hours (no request can replay them any more), a batch
/// at a time; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_expired(db: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    let mut purged = 0;
    loop {
        let deleted = sqlx::query!(
            "delete from idempotency_keys where ctid in (
                 select ctid from idempotency_keys where created_at <= now() - interval '24 hours' limit $1)",
            PURGE_BATCH,
        )
        .execute(db)
        .await?
        .rows_affected();
        purged += deleted;
        if deleted < PURGE_BATCH as u64 {
            return Ok(purged);
        }
    }
}

/// Purges expired keys every [`PURGE_PERIOD`] until `stopped`; a failure is logged and
/// retried at the next period.
pub async fn run_purge(db: sqlx::PgPool, stopped: tokio::sync::watch::Receiver<bool>) {
    logspoke_runtime::periodic::every(PURGE_PERIOD, stopped, || async {
        match purge_expired(&db).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
            Err(err) => tracing::warn!(error = %err, "cannot purge expired idempotency keys"),
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn keys_must_be_visible_ascii_within_the_limit() {
        assert!(IdempotencyKey::from_headers(&HeaderMap::new()).unwrap().is_none());
        assert!(IdempotencyKey::from_headers(&headers("5c0d9a3e-retry-1"))
            .unwrap()
            .is_some());
        for bad in ["", "a b", &"k".repeat(256)] {
            assert!(IdempotencyKey::from_headers(&headers(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_is_semantic() {
        let a: Value = serde_json::from_str(r#"{"a": 1,  "b": 2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":1,"b":3}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&c));
    }
}

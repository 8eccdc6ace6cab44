//! Typed path parameters. A segment that cannot name a resource (a tenant id no tenant
//! could have, a type that is not `cloudwatch` or `s3`) is a 404 here, in one place;
//! handlers receive the `contract` types and declare the parameters to the OpenAPI
//! document through `IntoParams`.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use logspoke_contract::{DeliveryType, TenantId};
use utoipa::IntoParams;

use crate::error::ApiError;

/// `{tenant_id}`: any route under a tenant.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// Tenant id
    #[param(value_type = String)]
    pub tenant_id: TenantId,
}

/// `{tenant_id}` and `{type}`: one delivery config.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConfigPath {
    /// Tenant id
    #[param(value_type = String)]
    pub tenant_id: TenantId,
    /// cloudwatch or s3
    #[param(rename = "type", value_type = DeliveryType)]
    pub delivery_type: DeliveryType,
}

/// `{tenant_id}`, `{type}` and `{replay_id}`: one replay of a delivery config. An id
/// that is not a UUID names no replay: a 404.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReplayPath {
    /// Tenant id
    #[param(value_type = String)]
    pub tenant_id: TenantId,
    /// cloudwatch or s3
    #[param(rename = "type", value_type = DeliveryType)]
    pub delivery_type: DeliveryType,
    /// Replay id
    pub replay_id: uuid::Uuid,
}

/// `{tenant_id}` and `{cluster_id}`: one cluster registration. The cluster id is parsed
/// by the handler, after authorization: an operator's malformed id is a 422.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClusterPath {
    /// Tenant id
    #[param(value_type = String)]
    pub tenant_id: TenantId,
    /// Cluster id (the collector's `cluster_id`)
    #[param(pattern = "^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")]
    pub cluster_id: String,
}

/// Parses a `{tenant_id}` segment: an id no tenant could have is a resource that does
/// not exist.
pub fn parse_tenant(raw: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(raw).map_err(|_| ApiError::NotFound(format!("there is no tenant '{raw}'")))
}

/// Parses a `{type}` segment; an unknown type is a 404 (there is no such resource).
pub fn parse_type(raw: &str) -> Result<DeliveryType, ApiError> {
    DeliveryType::parse(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "there is no delivery config type '{raw}' (use cloudwatch or s3)"
        ))
    })
}

/// The percent-decoded value of one named segment of the matched route.
async fn segment<S: Send + Sync>(parts: &mut Parts, state: &S, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading path parameters: {e}")))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the route has no {{{name}}} segment")))
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let tenant_id = parse_tenant(&segment(parts, state, "tenant_id").await?)?;
        Ok(Self { tenant_id })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConfigPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let tenant_id = parse_tenant(&segment(parts, state, "tenant_id").await?)?;
        let delivery_type = parse_type(&segment(parts, state, "type").await?)?;
        Ok(Self {
            tenant_id,
            delivery_type,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReplayPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ConfigPath {
            tenant_id,
            delivery_type,
        } = ConfigPath::from_request_parts(parts, state).await?;
        let raw = segment(parts, state, "replay_id").await?;
        let replay_id = uuid::Uuid::parse_str(&raw)
            .map_err(|_| ApiError::NotFound(format!("there is no replay '{raw}'")))?;
        Ok(Self {
            tenant_id,
            delivery_type,
            replay_id,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClusterPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let tenant_id = parse_tenant(&segment(parts, state, "tenant_id").await?)?;
        let cluster_id = segment(parts, state, "cluster_id").await?;
        Ok(Self {
            tenant_id,
            cluster_id,
        })
    }
}

//! JWT verification with a pinned algorithm, and HS256 minting for operators.
//!
//! The algorithm is fixed by configuration, never by the token: HS256 with a shared
//! secret, or RS256/ES256 with the keys of a JWKS (each key's algorithm pinned to its
//! `alg` or, absent that, to its key type). `exp`, `iss` and `aud` are required. A JWKS
//! follows its identity provider (see [`super::jwks`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use logspoke_contract::TenantId;
use serde::{Deserialize, Serialize};

use super::jwks::{JwksCache, JwksStatus};
use super::key_set::{KeySet, PinnedKey};
use super::{Principal, PrincipalKind, Role};
use crate::config::{JwtConfig, JwtKeySource};
use crate::error::ApiError;

/// The claims Logspoke reads beyond the registered ones (which jsonwebtoken validates).
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
}

/// Where verification keys come from.
enum Keys {
    /// HS256 with the shared secret.
    Secret(Arc<KeySet>),
    /// RS256/ES256 keys of a JWKS, refreshed in the background.
    Jwks(Arc<JwksCache>),
}

/// Verifies bearer tokens against the configured keys, issuer and audience.
pub struct Verifier {
    keys: Keys,
    issuer: String,
    audience: String,
    /// Clock skew tolerated on `exp` and `nbf` (`LOGSPOKE_JWT_LEEWAY_SECONDS`).
    leeway: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Secret(_) => "HS256 secret".to_owned(),
            Keys::Jwks(cache) => format!("JWKS at {}", cache.location()),
        };
        f.debug_struct("Verifier")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl Verifier {
    /// Builds the verifier from configuration. With a JWKS this loads the set (a file
    /// must load; a URL may be down) and starts its background refresh, so it needs a
    /// tokio runtime.
    pub async fn from_config(config: &JwtConfig) -> anyhow::Result<Self> {
        let keys = match &config.keys {
            JwtKeySource::Secret(secret) => Keys::Secret(Arc::new(KeySet::single(PinnedKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes()),
            }))),
            JwtKeySource::Jwks { location, refresh } => {
                Keys::Jwks(JwksCache::start(location.clone(), *refresh).await?)
            }
        };
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway,
        })
    }

    /// Validates a token and returns the principal it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthorized("the bearer token is malformed"))?;
        let keys = self.keys_for(&header).await?;
        let key = keys.select(&header).map_err(|miss| unauthorized(miss.reason()))?;
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(|err| unauthorized(rejection_reason(&err)))?;
        principal_from(data.claims)
    }

    /// The key set to verify this token with; a JWKS lacking the token's key id (or not
    /// loaded yet) is fetched again, within its rate limit.
    async fn keys_for(&self, header: &Header) -> Result<Arc<KeySet>, ApiError> {
        let cache = match &self.keys {
            Keys::Secret(set) => return Ok(set.clone()),
            Keys::Jwks(cache) => cache,
        };
        let keys = match cache.keys() {
            Some(set) if !set.lacks_kid_of(header) => Some(set),
            _ => cache.keys_for_unknown(header).await,
        };
        keys.ok_or_else(|| unauthorized("the identity provider's keys are not loaded yet; try again shortly"))
    }

    /// The state of the JWKS, for readiness; `None` with an HS256 secret.
    pub fn jwks_status(&self) -> Option<JwksStatus> {
        match &self.keys {
            Keys::Secret(_) => None,
            Keys::Jwks(cache) => Some(cache.status()),
        }
    }
}

fn unauthorized(reason: &str) -> ApiError {
    ApiError::Unauthorized(reason.to_owned())
}

/// A client-facing reason for a rejected token, without echoing its contents.
fn rejection_reason(err: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidSignature => "the token signature is invalid",
        ErrorKind::InvalidIssuer => "the token issuer is not accepted",
        ErrorKind::InvalidAudience => "the token audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss, aud, sub)",
        ErrorKind::InvalidAlgorithm => "the token is signed with an algorithm that is not accepted",
        _ => "the bearer token is invalid",
    }
}

fn principal_from(claims: AccessClaims) -> Result<Principal, ApiError> {
    if claims.sub.trim().is_empty() {
        return Err(unauthorized("the token's sub claim is empty"));
    }
    let kind = match (claims.role, claims.tenant_id) {
        (Role::Operator, _) => PrincipalKind::Operator,
        (Role::Tenant, Some(id)) => PrincipalKind::Tenant(
            TenantId::parse(&id).map_err(|_| unauthorized("the token's tenant_id claim is invalid"))?,
        ),
        (Role::Tenant, None) => return Err(unauthorized("a tenant token needs a tenant_id claim")),
    };
    Ok(Principal {
        subject: claims.sub,
        kind,
    })
}

/// What `mint-token` signs.
#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// Signs an HS256 access token, for operators using curl and for the local stack.
pub fn mint_hs256(
    config: &JwtConfig,
    subject: &str,
    role: Role,
    tenant_id: Option<&TenantId>,
    ttl: Duration,
) -> anyhow::Result<String> {
    let JwtKeySource::Secret(secret) = &config.keys else {
        bail!("mint-token needs LOGSPOKE_JWT_SECRET (HS256); with a JWKS, tokens come from the identity provider");
    };
    if role == Role::Tenant && tenant_id.is_none() {
        bail!("--role tenant needs --tenant-id");
    }
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(ttl.as_secs()).context("--ttl is too large")?;
    let claims = MintedClaims {
        sub: subject,
        role,
        tenant_id: tenant_id.map(TenantId::as_str),
        iss: &config.issuer,
        aud: &config.audience,
        iat: now,
        nbf: now,
        exp: now + ttl,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .context("signing the token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_JWT_LEEWAY;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(leeway: Duration) -> JwtConfig {
        JwtConfig {
            keys: JwtKeySource::Secret(SECRET.to_owned()),
            issuer: "logspoke".to_owned(),
            audience: "logspoke-api".to_owned(),
            leeway,
        }
    }

    /// An operator token that expired `ago_secs` seconds ago.
    fn expired(config: &JwtConfig, ago_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = MintedClaims {
            sub: "alice",
            role: Role::Operator,
            tenant_id: None,
            iss: &config.issuer,
            aud: &config.audience,
            iat: now - ago_secs - 1,
            nbf: now - ago_secs - 1,
            exp: now - ago_secs,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    async fn rejection(config: &JwtConfig, ago_secs: i64) -> Option<String> {
        let verifier = Verifier::from_config(config).await.unwrap();
        match verifier.verify(&expired(config, ago_secs)).await {
            Ok(_) => None,
            Err(ApiError::Unauthorized(reason)) => Some(reason),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_token_expired_45_seconds_ago_is_refused_by_default() {
        let config = config(DEFAULT_JWT_LEEWAY);
        assert_eq!(
            rejection(&config, 45).await.as_deref(),
            Some("the token has expired")
        );
    }

    #[tokio::test]
    async fn the_leeway_covers_only_small_clock_skew() {
        assert_eq!(rejection(&config(DEFAULT_JWT_LEEWAY), 10).await, None);
        let strict = config(Duration::ZERO);
        assert_eq!(
            rejection(&strict, 10).await.as_deref(),
            Some("the token has expired")
        );
    }
}

//! JWT verification with a pinned algorithm, and HS256 minting for operators.
//!
//! The algorithm is fixed by configuration, never by the token: HS256 with a shared
//! secret, or RS256/ES256 with the keys of a JWKS (each key's algorithm pinned to its
//! `alg` or, absent that, to its key type). `exp`, `iss` and `aud` are required.

use std::time::Duration;

use anyhow::{bail, Context};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use logspoke_contract::TenantId;
use serde::{Deserialize, Serialize};

use super::{Principal, PrincipalKind, Role};
use crate::config::{JwtConfig, JwtKeySource};
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// The claims Logspoke reads beyond the registered ones (which jsonwebtoken validates).
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
}

/// A key the verifier accepts, with the one algorithm it may be used with.
struct PinnedKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies bearer tokens against the configured keys, issuer and audience.
pub struct Verifier {
    keys: Vec<PinnedKey>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Verifier {
    /// Builds the verifier from configuration, loading the JWKS from a file or URL.
    pub async fn from_config(config: &JwtConfig) -> anyhow::Result<Self> {
        let keys = match &config.keys {
            JwtKeySource::Secret(secret) => vec![PinnedKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes()),
            }],
            JwtKeySource::Jwks(location) => pinned_keys(&load_jwks(location).await?)?,
        };
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// Validates a token and returns the principal it speaks for.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthorized("the bearer token is malformed"))?;
        let key = self.key_for(&header)?;
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(|err| unauthorized(rejection_reason(&err)))?;
        principal_from(data.claims)
    }

    /// The configured key this token names; its header algorithm must be the pinned one.
    fn key_for(&self, header: &Header) -> Result<&PinnedKey, ApiError> {
        let key = match (&header.kid, self.keys.as_slice()) {
            (_, [only]) if only.kid.is_none() => only,
            (Some(kid), keys) => keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or_else(|| unauthorized("the token's key id is not trusted"))?,
            (None, [only]) => only,
            (None, _) => return Err(unauthorized("the token names no key id")),
        };
        if header.alg != key.algorithm {
            return Err(unauthorized(
                "the token is signed with an algorithm that is not accepted",
            ));
        }
        Ok(key)
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

/// Reads a JWKS from an `http(s)://` URL or a file path.
async fn load_jwks(location: &str) -> anyhow::Result<JwkSet> {
    let text = if location.starts_with("https://") || location.starts_with("http://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the JWKS HTTP client")?;
        client
            .get(location)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("LOGSPOKE_JWT_JWKS: fetching {location}"))?
            .text()
            .await
            .with_context(|| format!("LOGSPOKE_JWT_JWKS: reading {location}"))?
    } else {
        tokio::fs::read_to_string(location)
            .await
            .with_context(|| format!("LOGSPOKE_JWT_JWKS: reading {location}"))?
    };
    serde_json::from_str(&text).context("LOGSPOKE_JWT_JWKS: not a JSON Web Key Set")
}

/// Turns a JWKS into pinned verification keys; only RS256 and ES256 are accepted.
fn pinned_keys(set: &JwkSet) -> anyhow::Result<Vec<PinnedKey>> {
    let keys = set
        .keys
        .iter()
        .map(|jwk| {
            Ok(PinnedKey {
                kid: jwk.common.key_id.clone(),
                algorithm: jwk_algorithm(jwk)?,
                key: DecodingKey::from_jwk(jwk).context("LOGSPOKE_JWT_JWKS: unusable key")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("LOGSPOKE_JWT_JWKS: the key set is empty");
    }
    Ok(keys)
}

fn jwk_algorithm(jwk: &Jwk) -> anyhow::Result<Algorithm> {
    match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) => Ok(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(_)) => Ok(Algorithm::ES256),
        (None, AlgorithmParameters::RSA(_)) => Ok(Algorithm::RS256),
        (None, AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
            Ok(Algorithm::ES256)
        }
        _ => bail!("LOGSPOKE_JWT_JWKS: only RS256 (RSA) and ES256 (P-256) keys are accepted"),
    }
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

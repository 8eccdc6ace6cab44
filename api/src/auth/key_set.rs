//! The keys trusted at one moment, each pinned to one algorithm, and how a token's header
//! selects among them.
//!
//! A JWKS is read key by key: keys that cannot verify RS256 or ES256 signatures
//! (encryption keys, other algorithms, shared secrets) are skipped rather than failing
//! the whole set, because identity providers publish such keys next to their signing
//! keys. A set with no usable key is refused.

use anyhow::{bail, Context};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::Deserialize;

/// A key the verifier accepts, with the one algorithm it may be used with.
pub(crate) struct PinnedKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys a token may be verified with.
pub(crate) struct KeySet {
    keys: Vec<PinnedKey>,
}

/// Why no key of the set fits a token header (each maps to a client-safe reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMiss {
    /// The token names a key id the set lacks; a fresher set may have it.
    UnknownKid,
    /// The set holds several keys and the token names none.
    NoKid,
    /// The named key is pinned to another algorithm than the header's.
    WrongAlgorithm,
}

impl KeyMiss {
    /// The reason given to the client.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::UnknownKid => "the token's key id is not trusted",
            Self::NoKid => "the token names no key id",
            Self::WrongAlgorithm => "the token is signed with an algorithm that is not accepted",
        }
    }
}

/// The outer shape of a JWKS; keys are parsed one by one so one odd key cannot hide the rest.
#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// A set of one key (the HS256 secret).
    pub(crate) fn single(key: PinnedKey) -> Self {
        Self { keys: vec![key] }
    }

    /// Parses a JWKS document; returns the usable keys and why the others were skipped.
    pub(crate) fn from_jwks(text: &str) -> anyhow::Result<(Self, Vec<String>)> {
        let raw: RawSet = serde_json::from_str(text).context("not a JSON Web Key Set")?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for value in raw.keys {
            let kid = value
                .get("kid")
                .and_then(|k| k.as_str())
                .unwrap_or("(no kid)")
                .to_owned();
            match pin(value) {
                Ok(key) => keys.push(key),
                Err(err) => skipped.push(format!("key {kid}: {err:#}")),
            }
        }
        if keys.is_empty() {
            if skipped.is_empty() {
                bail!("the key set is empty");
            }
            bail!("the key set has no usable key ({})", skipped.join("; "));
        }
        Ok((Self { keys }, skipped))
    }

    /// How many keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key ids, for logs that show what a rotation changed.
    pub(crate) fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }

    /// The key a token header names; its algorithm must be the pinned one.
    pub(crate) fn select(&self, header: &Header) -> Result<&PinnedKey, KeyMiss> {
        let key = match (&header.kid, self.keys.as_slice()) {
            (_, [only]) if only.kid.is_none() => only,
            (Some(kid), keys) => keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(KeyMiss::UnknownKid)?,
            (None, [only]) => only,
            (None, _) => return Err(KeyMiss::NoKid),
        };
        if header.alg != key.algorithm {
            return Err(KeyMiss::WrongAlgorithm);
        }
        Ok(key)
    }

    /// Whether the token header names a key id this set does not hold.
    pub(crate) fn lacks_kid_of(&self, header: &Header) -> bool {
        matches!(self.select(header), Err(KeyMiss::UnknownKid))
    }
}

/// One JWK as a pinned verification key, or why it is not one.
fn pin(value: serde_json::Value) -> anyhow::Result<PinnedKey> {
    let jwk: Jwk = serde_json::from_value(value).context("not a JSON Web Key")?;
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        bail!("an encryption key (use: enc)");
    }
    Ok(PinnedKey {
        kid: jwk.common.key_id.clone(),
        algorithm: jwk_algorithm(&jwk)?,
        key: DecodingKey::from_jwk(&jwk).context("unusable key material")?,
    })
}

/// The one algorithm a JWK may verify: its `alg`, or absent that, its key type's.
fn jwk_algorithm(jwk: &Jwk) -> anyhow::Result<Algorithm> {
    match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) => Ok(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(_)) => Ok(Algorithm::ES256),
        (None, AlgorithmParameters::RSA(_)) => Ok(Algorithm::RS256),
        (None, AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
            Ok(Algorithm::ES256)
        }
        _ => bail!("only RS256 (RSA) and ES256 (P-256) keys are accepted"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/api/fixtures/jwks.json");

    fn es256_key() -> serde_json::Value {
        let set: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        set["keys"][0].clone()
    }

    fn header(alg: Algorithm, kid: Option<&str>) -> Header {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        header
    }

    #[test]
    fn keys_that_cannot_verify_rs256_or_es256_are_skipped_not_fatal() {
        let set = json!({"keys": [
            es256_key(),
            {"kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "alg": "ES384", "x": "AA", "y": "AA"},
            {"kty": "EC", "kid": "broken"},
        ]});
        let (keys, skipped) = KeySet::from_jwks(&set.to_string()).unwrap();
        assert_eq!(keys.kids(), ["test-es256"]);
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        assert!(
            skipped.iter().any(|s| s.starts_with("key shared:")),
            "{skipped:?}"
        );
        assert!(skipped.iter().any(|s| s.contains("use: enc")), "{skipped:?}");
    }

    #[test]
    fn a_set_without_a_usable_key_is_refused() {
        let hs_only = json!({"keys": [{"kty": "oct", "kid": "s", "alg": "HS256", "k": "c2VjcmV0"}]});
        let err = KeySet::from_jwks(&hs_only.to_string()).err().unwrap();
        assert!(format!("{err:#}").contains("no usable key"), "{err:#}");
        let empty = KeySet::from_jwks(r#"{"keys": []}"#).err().unwrap();
        assert!(format!("{empty:#}").contains("empty"), "{empty:#}");
        assert!(KeySet::from_jwks("<html>").is_err());
    }

    #[test]
    fn a_header_selects_its_key_only_with_the_pinned_algorithm() {
        let (keys, _) = KeySet::from_jwks(FIXTURE).unwrap();
        assert!(keys.select(&header(Algorithm::ES256, Some("test-es256"))).is_ok());
        let unknown = header(Algorithm::ES256, Some("rotated"));
        assert_eq!(keys.select(&unknown).err(), Some(KeyMiss::UnknownKid));
        assert!(keys.lacks_kid_of(&unknown));
        let hs = header(Algorithm::HS256, Some("test-es256"));
        assert_eq!(keys.select(&hs).err(), Some(KeyMiss::WrongAlgorithm));
        assert!(!keys.lacks_kid_of(&hs));

        let mut second = es256_key();
        second["kid"] = json!("second");
        let two = json!({"keys": [es256_key(), second]});
        let (two, _) = KeySet::from_jwks(&two.to_string()).unwrap();
        assert_eq!(
            two.select(&header(Algorithm::ES256, None)).err(),
            Some(KeyMiss::NoKid)
        );
        assert!(two.select(&header(Algorithm::ES256, Some("second"))).is_ok());
    }
}

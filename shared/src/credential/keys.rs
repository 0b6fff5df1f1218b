//! Asymmetric access-token keys (EdDSA with Ed25519, or ES256 with P-256), so other services can
//! verify tokens from the public keys served at `/.well-known/jwks.json` without the secret.
//! Configured as `jwt` in the signing secret's JSON (or `JWT_KEYS` locally):
//! `{"algorithm": "EdDSA", "current": {"kid", "private_key", "public_key"}, "previous": {"kid", "public_key"}}`
//! with PEM keys (PKCS#8 private, SPKI public).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::credential::config::ConfigError;

#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct JwtKey {
    pub kid: String,
    #[serde(default)]
    pub private_key: Option<String>,
    pub public_key: String,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JwtKeys {
    pub algorithm: String,
    pub current: JwtKey,
    #[serde(default)]
    pub previous: Option<JwtKey>,
}

/// SPKI DER prefixes of the two key types: what precedes the raw public key.
const ED25519_SPKI: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const P256_SPKI: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];

fn invalid(reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: "jwt keys",
        reason: reason.into(),
    }
}

fn pem_der(pem: &str) -> Result<Vec<u8>, ConfigError> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD
        .decode(body)
        .map_err(|_| invalid("a key is not PEM"))
}

/// One public key: how to verify with it and how to publish it.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
    pub jwk: Value,
}

pub fn algorithm(name: &str) -> Result<Algorithm, ConfigError> {
    match name {
        "EdDSA" => Ok(Algorithm::EdDSA),
        "ES256" => Ok(Algorithm::ES256),
        other => Err(invalid(format!(
            "algorithm {other:?} is not EdDSA or ES256"
        ))),
    }
}

pub fn public_key(key: &JwtKey, algorithm: Algorithm) -> Result<PublicKey, ConfigError> {
    let der = pem_der(&key.public_key)?;
    let (decoding, mut jwk) = match algorithm {
        Algorithm::EdDSA => {
            let raw = der
                .strip_prefix(&ED25519_SPKI[..])
                .filter(|raw| raw.len() == 32)
                .ok_or_else(|| invalid(format!("key {} is not an Ed25519 public key", key.kid)))?;
            let x = URL_SAFE_NO_PAD.encode(raw);
            let decoding =
                DecodingKey::from_ed_components(&x).map_err(|e| invalid(e.to_string()))?;
            (decoding, json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
        }
        Algorithm::ES256 => {
            let point = der
                .strip_prefix(&P256_SPKI[..])
                .filter(|point| point.len() == 64)
                .ok_or_else(|| invalid(format!("key {} is not a P-256 public key", key.kid)))?;
            let x = URL_SAFE_NO_PAD.encode(&point[..32]);
            let y = URL_SAFE_NO_PAD.encode(&point[32..]);
            let decoding =
                DecodingKey::from_ec_components(&x, &y).map_err(|e| invalid(e.to_string()))?;
            (
                decoding,
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            )
        }
        _ => return Err(invalid("only EdDSA and ES256 keys are published")),
    };
    let extra = json!({"kid": key.kid, "alg": format!("{algorithm:?}"), "use": "sig"});
    if let (Value::Object(jwk), Value::Object(extra)) = (&mut jwk, extra) {
        jwk.extend(extra);
    }
    Ok(PublicKey {
        kid: key.kid.clone(),
        algorithm,
        decoding,
        jwk,
    })
}

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// HS256 keys: tokens are signed with `current`; `previous` still verifies, so the secret can
/// be rotated without logging everyone out.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
    /// Asymmetric access-token keys; when set, access tokens use them instead of HS256 (the
    /// secret above still keys refresh tokens).
    pub jwt: Option<JwtKeys>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeys(<redacted>)")
    }
}

impl SigningKeys {
    /// A plain secret, or the JSON `{"current": "...", "previous": "..."}` that the stack's
    /// Secrets Manager secret holds. Each key must be at least 32 bytes.
    pub fn parse(raw: &str, name: &'static str) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        struct Pair {
            current: String,
            #[serde(default)]
            previous: Option<String>,
            #[serde(default)]
            jwt: Option<JwtKeys>,
        }
        let trimmed = raw.trim();
        let (current, previous, jwt) = if trimmed.starts_with('{') {
            let pair: Pair = serde_json::from_str(trimmed).map_err(|_| ConfigError::Invalid {
                name,
                reason: "is JSON but not {\"current\": \"...\", \"previous\": \"...\"}".into(),
            })?;
            (
                pair.current,
                pair.previous.filter(|p| !p.is_empty()),
                pair.jwt,
            )
        } else {
            (trimmed.to_owned(), None, None)
        };
        for key in std::iter::once(&current).chain(previous.as_ref()) {
            if key.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!(
                        "keys must be at least {MIN_SECRET_BYTES} bytes, got {}",
                        key.len()
                    ),
                });
            }
        }
        Ok(Self {
            current: current.into_bytes(),
            previous: previous.map(String::into_bytes),
            jwt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_PUBLIC: &str = include_str!("../../tests/fixtures/test-ed25519.pub");
    const EC_PUBLIC: &str = include_str!("../../tests/fixtures/test-p256.pub");

    fn key(public: &str) -> JwtKey {
        JwtKey {
            kid: "k1".into(),
            private_key: None,
            public_key: public.into(),
        }
    }

    #[test]
    fn ed25519_keys_become_okp_jwks() {
        let public = public_key(&key(ED_PUBLIC), Algorithm::EdDSA).unwrap();
        assert_eq!(public.jwk["kty"], "OKP");
        assert_eq!(public.jwk["crv"], "Ed25519");
        assert_eq!(public.jwk["alg"], "EdDSA");
        assert_eq!(public.jwk["kid"], "k1");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(public.jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn p256_keys_become_ec_jwks() {
        let public = public_key(&key(EC_PUBLIC), Algorithm::ES256).unwrap();
        assert_eq!(public.jwk["kty"], "EC");
        assert_eq!(public.jwk["crv"], "P-256");
        assert_eq!(public.jwk["alg"], "ES256");
        assert!(public.jwk["y"].is_string());
    }

    #[test]
    fn a_key_of_the_wrong_type_is_refused() {
        assert!(public_key(&key(EC_PUBLIC), Algorithm::EdDSA).is_err());
        assert!(public_key(&key(ED_PUBLIC), Algorithm::ES256).is_err());
        assert!(public_key(&key("not a key"), Algorithm::EdDSA).is_err());
        assert!(algorithm("HS256").is_err());
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn signing_keys_parse_plain_and_rotation_pairs() {
        let plain = SigningKeys::parse(SECRET, "SECRET").unwrap();
        assert_eq!(plain.current, SECRET.as_bytes());
        assert_eq!(plain.previous, None);
        let pair = format!(
            r#"{{"current":"{SECRET}","previous":"{}"}}"#,
            SECRET.to_uppercase()
        );
        let keys = SigningKeys::parse(&pair, "SECRET").unwrap();
        assert_eq!(keys.previous.unwrap(), SECRET.to_uppercase().as_bytes());
        let empty_previous = format!(r#"{{"current":"{SECRET}","previous":""}}"#);
        assert_eq!(
            SigningKeys::parse(&empty_previous, "SECRET")
                .unwrap()
                .previous,
            None
        );
        assert!(SigningKeys::parse(r#"{"current":"short"}"#, "SECRET").is_err());
        assert!(SigningKeys::parse(r#"{"other":1}"#, "SECRET").is_err());
    }
}

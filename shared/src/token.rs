//! Access tokens: HS256 JWTs shaped like Directus' (`id`, `role`, `app_access`, `admin_access`,
//! `iat`, `exp`, `iss: "directus"`), verified with HS256 only (RFC 8725: one algorithm per key).

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{ConfigError, SigningKeys};

pub const ISSUER: &str = "directus";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub id: String,
    pub role: Option<String>,
    pub app_access: bool,
    pub admin_access: bool,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
}

/// Why a bearer token was refused; each maps to the status Directus gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or not one of ours by issuer: Directus looks such strings up as static tokens
    /// and answers 401 INVALID_CREDENTIALS.
    #[error("not a Directus token")]
    NotDirectus,
    /// Ours by issuer but forged, tampered with, or missing required claims: 403 INVALID_TOKEN.
    #[error("invalid token")]
    Invalid,
    /// Correctly signed but past `exp`: 401 TOKEN_EXPIRED.
    #[error("token expired")]
    Expired,
}

/// A key that verifies, pinned to its one algorithm (RFC 8725).
#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    algorithm: Algorithm,
    decoding: DecodingKey,
}

#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    header: Header,
    /// The current key first, then the previous one during a rotation.
    verify: Vec<VerifyKey>,
    /// Public keys as JWKs (none for HS256: a shared secret is never published).
    published: Vec<Value>,
    ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A freshly signed access token and its lifetime in milliseconds (Directus' `expires`).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_ms: u64,
}

impl Tokens {
    /// HS256 with the secret (Directus' choice), or EdDSA / ES256 with a `kid` when asymmetric
    /// keys are configured.
    pub fn new(keys: &SigningKeys, ttl: Duration) -> Result<Self, ConfigError> {
        let Some(jwt) = &keys.jwt else {
            return Ok(Self {
                encoding: EncodingKey::from_secret(&keys.current),
                header: Header::new(Algorithm::HS256),
                verify: std::iter::once(&keys.current)
                    .chain(keys.previous.as_ref())
                    .map(|key| VerifyKey {
                        kid: None,
                        algorithm: Algorithm::HS256,
                        decoding: DecodingKey::from_secret(key),
                    })
                    .collect(),
                published: Vec::new(),
                ttl,
            });
        };
        let algorithm = crate::keys::algorithm(&jwt.algorithm)?;
        let private = jwt
            .current
            .private_key
            .as_deref()
            .ok_or(ConfigError::Invalid {
                name: "jwt keys",
                reason: "the current key has no private_key".into(),
            })?;
        let encoding = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(private.as_bytes()),
            _ => EncodingKey::from_ec_pem(private.as_bytes()),
        }
        .map_err(|e| ConfigError::Invalid {
            name: "jwt keys",
            reason: format!("the current private key is unusable: {e}"),
        })?;
        let public: Vec<_> = std::iter::once(&jwt.current)
            .chain(jwt.previous.as_ref())
            .map(|key| crate::keys::public_key(key, algorithm))
            .collect::<Result<_, _>>()?;
        let mut header = Header::new(algorithm);
        header.kid = Some(jwt.current.kid.clone());
        Ok(Self {
            encoding,
            header,
            verify: public
                .iter()
                .map(|key| VerifyKey {
                    kid: Some(key.kid.clone()),
                    algorithm: key.algorithm,
                    decoding: key.decoding.clone(),
                })
                .collect(),
            published: public.into_iter().map(|key| key.jwk).collect(),
            ttl,
        })
    }

    /// The JWK Set of the public keys (`{"keys": []}` with HS256).
    pub fn jwks(&self) -> Value {
        serde_json::json!({ "keys": self.published })
    }

    pub fn issue(
        &self,
        user_id: &str,
        role: Option<&str>,
        app_access: bool,
        admin_access: bool,
        now_secs: u64,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            id: user_id.to_owned(),
            role: role.map(str::to_owned),
            app_access,
            admin_access,
            iat: now_secs,
            exp: now_secs + self.ttl.as_secs(),
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_ms: u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX),
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::NotDirectus)?;
        if unverified.get("iss").and_then(Value::as_str) != Some(ISSUER) {
            return Err(TokenError::NotDirectus);
        }
        // Only keys of the token's own algorithm (and `kid`, if it names one) are tried.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let mut verified = None;
        for key in self.verify.iter().filter(|key| {
            key.algorithm == header.alg
                && (header.kid.is_none() || header.kid.as_deref() == key.kid.as_deref())
        }) {
            let mut validation = Validation::new(key.algorithm);
            validation.set_issuer(&[ISSUER]);
            validation.set_required_spec_claims(&["exp", "iss"]);
            validation.leeway = 0;
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation) {
                Ok(data) => {
                    verified = Some(data);
                    break;
                }
                // The signature matched this key (it is checked first) but the token is old.
                Err(error) if matches!(error.kind(), ErrorKind::ExpiredSignature) => {
                    return Err(TokenError::Expired);
                }
                Err(_) => {}
            }
        }
        let data = verified.ok_or(TokenError::Invalid)?;
        // Directus requires these claims to be present, though `role` may be null.
        for claim in ["id", "role", "app_access", "admin_access"] {
            if !data.claims.contains_key(claim) {
                return Err(TokenError::Invalid);
            }
        }
        serde_json::from_value(Value::Object(data.claims)).map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys(current: &[u8], previous: Option<&[u8]>) -> SigningKeys {
        SigningKeys {
            current: current.to_vec(),
            previous: previous.map(<[u8]>::to_vec),
            jwt: None,
        }
    }

    fn tokens() -> Tokens {
        Tokens::new(&keys(SECRET, None), Duration::from_secs(900)).unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn sign(claims: Value, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_carry_directus_claims() {
        let issued = tokens()
            .issue("u1", Some("r1"), true, false, now())
            .unwrap();
        assert_eq!(issued.expires_ms, 900_000);
        let claims = tokens().verify(&issued.token).unwrap();
        assert_eq!(claims.id, "u1");
        assert_eq!(claims.role.as_deref(), Some("r1"));
        assert_eq!(claims.iss, "directus");
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn expired_tokens_are_expired() {
        let issued = tokens()
            .issue("u1", None, false, false, now() - 1000)
            .unwrap();
        assert_eq!(tokens().verify(&issued.token), Err(TokenError::Expired));
    }

    #[test]
    fn tokens_signed_with_another_secret_are_invalid_even_when_expired() {
        let other = Tokens::new(
            &keys(b"another secret of thirty-two bytes!!", None),
            Duration::from_secs(1),
        )
        .unwrap();
        let fresh = other.issue("u1", None, false, false, now()).unwrap();
        let stale = other.issue("u1", None, false, false, now() - 1000).unwrap();
        assert_eq!(tokens().verify(&fresh.token), Err(TokenError::Invalid));
        assert_eq!(tokens().verify(&stale.token), Err(TokenError::Invalid));
    }

    #[test]
    fn garbage_and_foreign_issuers_are_not_directus_tokens() {
        assert_eq!(tokens().verify("garbage"), Err(TokenError::NotDirectus));
        let foreign = sign(
            json!({"id":"u1","role":null,"app_access":false,"admin_access":false,"exp":now()+60,"iss":"someone-else"}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(tokens().verify(&foreign), Err(TokenError::NotDirectus));
    }

    #[test]
    fn the_previous_key_still_verifies_during_a_rotation() {
        const NEW: &[u8] = b"the new secret of thirty-two bytes!!";
        let old_token = tokens().issue("u1", None, false, false, now()).unwrap();
        let old_expired = tokens()
            .issue("u1", None, false, false, now() - 1000)
            .unwrap();
        let rotated = Tokens::new(&keys(NEW, Some(SECRET)), Duration::from_secs(900)).unwrap();
        assert!(rotated.verify(&old_token.token).is_ok());
        assert_eq!(rotated.verify(&old_expired.token), Err(TokenError::Expired));
        let new_token = rotated.issue("u1", None, false, false, now()).unwrap();
        assert!(rotated.verify(&new_token.token).is_ok());
        assert_eq!(tokens().verify(&new_token.token), Err(TokenError::Invalid));
    }

    fn asymmetric(
        algorithm: &str,
        current: (&str, &str, &str),
        previous: Option<(&str, &str)>,
    ) -> Tokens {
        let key = |kid: &str, private: Option<&str>, public: &str| crate::keys::JwtKey {
            kid: kid.into(),
            private_key: private.map(str::to_owned),
            public_key: public.into(),
        };
        let mut signing = keys(SECRET, None);
        signing.jwt = Some(crate::keys::JwtKeys {
            algorithm: algorithm.into(),
            current: key(current.0, Some(current.1), current.2),
            previous: previous.map(|(kid, public)| key(kid, None, public)),
        });
        Tokens::new(&signing, Duration::from_secs(900)).unwrap()
    }

    const ED_PRIVATE: &str = include_str!("../tests/fixtures/test-ed25519.pem");
    const ED_PUBLIC: &str = include_str!("../tests/fixtures/test-ed25519.pub");
    const ED_OLD_PRIVATE: &str = include_str!("../tests/fixtures/test-ed25519-previous.pem");
    const ED_OLD_PUBLIC: &str = include_str!("../tests/fixtures/test-ed25519-previous.pub");
    const EC_PRIVATE: &str = include_str!("../tests/fixtures/test-p256.pem");
    const EC_PUBLIC: &str = include_str!("../tests/fixtures/test-p256.pub");

    #[test]
    fn eddsa_and_es256_tokens_carry_a_kid_and_verify() {
        for (algorithm, private, public) in [
            ("EdDSA", ED_PRIVATE, ED_PUBLIC),
            ("ES256", EC_PRIVATE, EC_PUBLIC),
        ] {
            let tokens = asymmetric(algorithm, ("k1", private, public), None);
            let issued = tokens.issue("u1", None, false, false, now()).unwrap();
            let header = jsonwebtoken::decode_header(&issued.token).unwrap();
            assert_eq!(header.kid.as_deref(), Some("k1"));
            assert_eq!(format!("{:?}", header.alg), algorithm);
            assert_eq!(tokens.verify(&issued.token).unwrap().id, "u1");
            assert_eq!(tokens.jwks()["keys"].as_array().unwrap().len(), 1);
        }
    }

    #[test]
    fn the_previous_asymmetric_key_verifies_and_hs256_is_refused() {
        let old = asymmetric("EdDSA", ("old", ED_OLD_PRIVATE, ED_OLD_PUBLIC), None);
        let old_token = old.issue("u1", None, false, false, now()).unwrap();
        let rotated = asymmetric(
            "EdDSA",
            ("new", ED_PRIVATE, ED_PUBLIC),
            Some(("old", ED_OLD_PUBLIC)),
        );
        assert!(rotated.verify(&old_token.token).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        // A token signed with HS256 (even with the real secret) meets no key of its algorithm.
        let hs = tokens().issue("u1", None, false, false, now()).unwrap();
        assert_eq!(rotated.verify(&hs.token), Err(TokenError::Invalid));
        // And an HS256 stack publishes nothing.
        assert_eq!(tokens().jwks(), serde_json::json!({"keys": []}));
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let hs512 = sign(
            json!({"id":"u1","role":null,"app_access":false,"admin_access":false,"exp":now()+60,"iss":"directus"}),
            Algorithm::HS512,
            SECRET,
        );
        assert_eq!(tokens().verify(&hs512), Err(TokenError::Invalid));
    }

    #[test]
    fn missing_access_claims_are_invalid_but_null_role_is_fine() {
        let missing = sign(
            json!({"id":"u1","exp":now()+60,"iss":"directus"}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(tokens().verify(&missing), Err(TokenError::Invalid));
        let null_role = sign(
            json!({"id":"u1","role":null,"app_access":false,"admin_access":false,"iat":now(),"exp":now()+60,"iss":"directus"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(tokens().verify(&null_role).is_ok());
    }
}

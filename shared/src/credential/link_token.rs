//! The tokens mailed links carry: HS256 JWTs shaped like Directus' (`email`, `scope`, `iat`,
//! `exp`, `iss: "directus"`, plus the user `id`; a reset token also has a `jti`, recorded in the
//! store and spent on use, and `hash`, a fingerprint of the password hash it may replace; a
//! verification token has `hash`, the fingerprint of the password its registration chose, and
//! the `jti` of that registration when it is a later one of the address).
//! They are signed with a key derived from the secret for links only, so a link token can never
//! verify as an access token nor the other way round; the previous secret still verifies during
//! a rotation. Every claim is checked: signature and `alg` (HS256 only), `iss`, `exp`, `iat` and
//! `nbf` as for access tokens (`crate::credential::token::check_times`), `scope`, and the types of `id`,
//! `email`, `jti` and `hash`.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::credential::keys::SigningKeys;
use crate::credential::token::{ISSUER, TokenError, check_times};
use crate::domain::sensitive::Sensitive;

/// What a link token may be used for (Directus' `scope` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    PendingRegistration,
    PasswordReset,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::PendingRegistration => "pending-registration",
            Self::PasswordReset => "password-reset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkClaims {
    pub id: String,
    pub email: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub iss: String,
}

/// Why a link token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("invalid link token")]
    Invalid,
    #[error("link token expired")]
    Expired,
    /// A valid token of another scope (Directus answers `FORBIDDEN`).
    #[error("link token of another scope")]
    WrongScope,
}

#[derive(Clone)]
pub struct LinkTokens {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
}

impl std::fmt::Debug for LinkTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkTokens(<redacted>)")
    }
}

/// The HS256 key of link tokens for one secret: HMAC-SHA256(secret, label). (Public so that
/// tests and tools can make tokens; it is no more secret than the secret it comes from.)
pub fn derive(secret: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"directus-compatible mailed link tokens v1");
    mac.finalize().into_bytes().to_vec()
}

/// A short fingerprint of a password hash (or of none): a reset token names the hash it may
/// replace, so any password change spends every reset link issued before it.
pub fn password_fingerprint(hash: Option<&Sensitive>) -> String {
    let digest = Sha256::digest(hash.map(Sensitive::expose).unwrap_or("").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl LinkTokens {
    pub fn new(keys: &SigningKeys) -> Self {
        let current = derive(&keys.current);
        Self {
            encoding: EncodingKey::from_secret(&current),
            decoding: std::iter::once(current)
                .chain(keys.previous.as_deref().map(derive))
                .map(|key| DecodingKey::from_secret(&key))
                .collect(),
        }
    }

    /// Signs a token of `scope` for the user `id` with `email`, valid for `ttl` from `now`
    /// (but never past `not_after`, epoch seconds, when given). Returns it and its `exp`.
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        &self,
        scope: Scope,
        id: &str,
        email: &str,
        jti: Option<String>,
        hash: Option<String>,
        now: u64,
        ttl: Duration,
        not_after: Option<u64>,
    ) -> Result<(Sensitive, u64), jsonwebtoken::errors::Error> {
        let mut exp = now.saturating_add(ttl.as_secs().max(1));
        if let Some(limit) = not_after {
            exp = exp.min(limit);
        }
        let claims = LinkClaims {
            id: id.to_owned(),
            email: email.to_owned(),
            scope: scope.as_str().to_owned(),
            jti,
            hash,
            iat: now,
            exp,
            nbf: None,
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((Sensitive::new(token), exp))
    }

    /// Checks every claim of `token` for `scope` at `now`.
    pub fn verify(&self, token: &str, scope: Scope, now: u64) -> Result<LinkClaims, LinkError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| LinkError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(LinkError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let data = self
            .decoding
            .iter()
            .find_map(|key| {
                jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).ok()
            })
            .ok_or(LinkError::Invalid)?;
        match check_times(&data.claims, now) {
            Ok(()) => {}
            Err(TokenError::Expired) => return Err(LinkError::Expired),
            Err(_) => return Err(LinkError::Invalid),
        }
        let claims: LinkClaims =
            serde_json::from_value(Value::Object(data.claims)).map_err(|_| LinkError::Invalid)?;
        if claims.scope != scope.as_str() {
            return Err(
                if matches!(
                    claims.scope.as_str(),
                    "pending-registration" | "password-reset" | "invite"
                ) {
                    LinkError::WrongScope
                } else {
                    LinkError::Invalid
                },
            );
        }
        let id_ok = !claims.id.is_empty() && claims.id.len() <= 64;
        let email_ok = !claims.email.is_empty() && claims.email.len() <= 254;
        let jti_ok = claims
            .jti
            .as_deref()
            .is_none_or(|j| !j.is_empty() && j.len() <= 64);
        let reset_ok =
            scope != Scope::PasswordReset || (claims.jti.is_some() && claims.hash.is_some());
        if !(id_ok && email_ok && jti_ok && reset_ok) {
            return Err(LinkError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens() -> LinkTokens {
        LinkTokens::new(&SigningKeys {
            current: SECRET.to_vec(),
            previous: None,
            jwt: None,
        })
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn sign_with(claims: &Value, key: &[u8], alg: Algorithm) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
    }

    fn good(scope: &str) -> Value {
        json!({"id": "u1", "email": "a@example.com", "scope": scope, "jti": "j", "hash": "h",
               "iat": now(), "exp": now() + 600, "iss": "directus"})
    }

    #[test]
    fn issued_tokens_verify_for_their_scope_only() {
        let t = tokens();
        let (token, exp) = t
            .issue(
                Scope::PasswordReset,
                "u1",
                "a@example.com",
                Some("j".into()),
                Some("h".into()),
                now(),
                Duration::from_secs(3600),
                None,
            )
            .unwrap();
        assert!(exp > now());
        let claims = t
            .verify(token.expose(), Scope::PasswordReset, now())
            .unwrap();
        assert_eq!(claims.id, "u1");
        assert_eq!(
            t.verify(token.expose(), Scope::PendingRegistration, now()),
            Err(LinkError::WrongScope)
        );
        assert_eq!(
            t.verify(token.expose(), Scope::PasswordReset, exp),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn not_after_caps_the_lifetime() {
        let (_, exp) = tokens()
            .issue(
                Scope::PendingRegistration,
                "u1",
                "a@example.com",
                None,
                None,
                1000,
                Duration::from_secs(3600),
                Some(1500),
            )
            .unwrap();
        assert_eq!(exp, 1500);
    }

    #[test]
    fn every_claim_is_checked() {
        let t = tokens();
        let key = derive(SECRET);
        assert!(
            t.verify(
                &sign_with(&good("password-reset"), &key, Algorithm::HS256),
                Scope::PasswordReset,
                now()
            )
            .is_ok()
        );
        // The plain secret (an access token's key) does not sign links.
        assert_eq!(
            t.verify(
                &sign_with(&good("password-reset"), SECRET, Algorithm::HS256),
                Scope::PasswordReset,
                now()
            ),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            t.verify(
                &sign_with(&good("password-reset"), &key, Algorithm::HS512),
                Scope::PasswordReset,
                now()
            ),
            Err(LinkError::Invalid)
        );
        let cases: Vec<(&str, Value)> = vec![
            ("iss", json!("other")),
            ("iss", Value::Null),
            ("exp", json!("soon")),
            ("iat", json!(now() + 3600)),
            ("nbf", json!(now() + 3600)),
            ("id", json!(42)),
            ("id", json!("")),
            ("email", json!(["a"])),
            ("scope", json!("access")),
            ("jti", Value::Null),
            ("hash", Value::Null),
            ("extra", json!(true)),
        ];
        for (claim, value) in cases {
            let mut claims = good("password-reset");
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(claim);
            } else {
                claims[claim] = value;
            }
            assert_eq!(
                t.verify(
                    &sign_with(&claims, &key, Algorithm::HS256),
                    Scope::PasswordReset,
                    now()
                ),
                Err(LinkError::Invalid),
                "{claim}"
            );
        }
        for missing in ["iat", "exp", "id", "email", "scope"] {
            let mut claims = good("password-reset");
            claims.as_object_mut().unwrap().remove(missing);
            assert_eq!(
                t.verify(
                    &sign_with(&claims, &key, Algorithm::HS256),
                    Scope::PasswordReset,
                    now()
                ),
                Err(LinkError::Invalid),
                "{missing}"
            );
        }
        assert_eq!(
            t.verify("garbage", Scope::PasswordReset, now()),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            t.verify("", Scope::PasswordReset, now()),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn a_verification_token_may_name_a_registration_but_only_a_bounded_one() {
        let t = tokens();
        let key = derive(SECRET);
        let mut claims = good("pending-registration");
        assert!(
            t.verify(
                &sign_with(&claims, &key, Algorithm::HS256),
                Scope::PendingRegistration,
                now()
            )
            .is_ok()
        );
        claims.as_object_mut().unwrap().remove("jti");
        assert!(
            t.verify(
                &sign_with(&claims, &key, Algorithm::HS256),
                Scope::PendingRegistration,
                now()
            )
            .is_ok()
        );
        for jti in [json!(""), json!("j".repeat(65)), json!(7)] {
            claims["jti"] = jti.clone();
            assert_eq!(
                t.verify(
                    &sign_with(&claims, &key, Algorithm::HS256),
                    Scope::PendingRegistration,
                    now()
                ),
                Err(LinkError::Invalid),
                "{jti}"
            );
        }
    }

    #[test]
    fn the_previous_secret_still_verifies() {
        let old = tokens();
        let (token, _) = old
            .issue(
                Scope::PendingRegistration,
                "u",
                "a@example.com",
                None,
                None,
                now(),
                Duration::from_secs(60),
                None,
            )
            .unwrap();
        let rotated = LinkTokens::new(&SigningKeys {
            current: b"another-secret-of-at-least-32-bytes!!".to_vec(),
            previous: Some(SECRET.to_vec()),
            jwt: None,
        });
        assert!(
            rotated
                .verify(token.expose(), Scope::PendingRegistration, now())
                .is_ok()
        );
    }

    #[test]
    fn fingerprints_change_with_the_hash() {
        let a = password_fingerprint(Some(&Sensitive::new("$argon2id$a")));
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            password_fingerprint(Some(&Sensitive::new("$argon2id$b")))
        );
        assert_ne!(a, password_fingerprint(None));
    }
}

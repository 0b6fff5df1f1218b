//! Access tokens: HS256 JWTs shaped like Directus' (`id`, `role`, `app_access`, `admin_access`,
//! `iat`, `exp`, `iss: "directus"`), verified with HS256 only (RFC 8725: one algorithm per key).
//! Every claim is checked in [`Tokens::verify`], whatever the algorithm: the signature with the
//! key pinned to the header's `alg`, `iss`, then the time claims in [`check_times`].

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::credential::config::ConfigError;
use crate::credential::keys::SigningKeys;

pub const ISSUER: &str = "directus";
/// The issuer of tokens that may only set up a second factor ([`AccessClaims::tfa_setup`]):
/// not `directus`, and without a role, so a service that checks this API's tokens by their
/// signature and issuer (an API Gateway JWT authorizer, a service sharing the secret) never
/// takes one for a full session of the user's role.
pub const SETUP_ISSUER: &str = "directus-tfa-setup";

/// How far ahead of our clock a token's `iat` or `nbf` may be (clock skew between Lambda hosts
/// is milliseconds; a minute is generous). Beyond it the token was minted by a broken clock or
/// with a leaked key: refused, unlike Directus, which ignores `iat`.
pub const CLOCK_LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub id: String,
    pub role: Option<String>,
    pub app_access: bool,
    pub admin_access: bool,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    /// Session mode only (Directus' claim): `<session id>.<generation>`. A token carrying it is
    /// valid only while that session is at that generation (or just rotated past it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Json and cookie modes: the id of the session that issued the token (not Directus'; read
    /// only to tell which session made a password change, never looked up per request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Both session bindings (not Directus'): when the token's session was created, epoch
    /// milliseconds. The token was issued no earlier, so a revocation cut-off (milliseconds)
    /// can tell a token of a login just after it from one just before it in the same second,
    /// which the whole-second `iat` cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_created_ms: Option<i64>,
    /// Not Directus': the user's policies enforce a second factor and they have none yet, so
    /// the token may do nothing but set one up (`flows::access::accountability` grants only
    /// that). Absent on every other token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tfa_setup: bool,
}

/// What a token grants beyond its user and role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub app_access: bool,
    pub admin_access: bool,
    /// Only setting up a second factor ([`AccessClaims::tfa_setup`]).
    pub tfa_setup: bool,
}

/// What ties an access token to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    None,
    /// `sid`: names the session, not checked per request.
    Sid(SessionRef<'a>),
    /// `session` (`<id>.<generation>`): checked against the session item on every request.
    Session(SessionRef<'a>),
}

/// The session a token is bound to: its claim value and its creation time (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef<'a> {
    pub claim: &'a str,
    pub created_ms: i64,
}

impl AccessClaims {
    /// The session this token came from, if it says.
    pub fn session_id(&self) -> Option<&str> {
        match (&self.session, &self.sid) {
            (Some(session), _) => session.split_once('.').map(|(id, _)| id),
            (None, sid) => sid.as_deref(),
        }
    }

    /// Session mode: (session id, generation) of the `session` claim.
    pub fn session_generation(&self) -> Option<(&str, u32)> {
        let (id, generation) = self.session.as_deref()?.split_once('.')?;
        Some((id, generation.parse().ok()?))
    }
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
        let algorithm = crate::credential::keys::algorithm(&jwt.algorithm)?;
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
            .map(|key| crate::credential::keys::public_key(key, algorithm))
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
        self.issue_bound(
            user_id,
            role,
            Grants {
                app_access,
                admin_access,
                tfa_setup: false,
            },
            now_secs,
            Binding::None,
            self.ttl,
        )
    }

    /// A token tied to a session, with its own lifetime (`SESSION_COOKIE_TTL` in session mode).
    pub fn issue_bound(
        &self,
        user_id: &str,
        role: Option<&str>,
        grants: Grants,
        now_secs: u64,
        binding: Binding<'_>,
        ttl: Duration,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            id: user_id.to_owned(),
            role: role.filter(|_| !grants.tfa_setup).map(str::to_owned),
            app_access: grants.app_access,
            admin_access: grants.admin_access,
            iat: now_secs,
            exp: now_secs + ttl.as_secs(),
            iss: if grants.tfa_setup {
                SETUP_ISSUER
            } else {
                ISSUER
            }
            .to_owned(),
            session: match binding {
                Binding::Session(session) => Some(session.claim.to_owned()),
                _ => None,
            },
            sid: match binding {
                Binding::Sid(sid) => Some(sid.claim.to_owned()),
                _ => None,
            },
            session_created_ms: match binding {
                Binding::Sid(session) | Binding::Session(session) => Some(session.created_ms),
                Binding::None => None,
            },
            tfa_setup: grants.tfa_setup,
        };
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The lifetime of tokens from [`Tokens::issue`].
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::NotDirectus)?;
        if !matches!(
            unverified.get("iss").and_then(Value::as_str),
            Some(ISSUER | SETUP_ISSUER)
        ) {
            return Err(TokenError::NotDirectus);
        }
        // Only keys of the token's own algorithm (and `kid`, if it names one) are tried.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let mut verified = None;
        for key in self.verify.iter().filter(|key| {
            key.algorithm == header.alg
                && (header.kid.is_none() || header.kid.as_deref() == key.kid.as_deref())
        }) {
            // The signature, `alg` and `iss` here; every time claim below, in one place, so the
            // library's own leeway rules never apply.
            let mut validation = Validation::new(key.algorithm);
            validation.set_issuer(&[ISSUER, SETUP_ISSUER]);
            validation.set_required_spec_claims(&["exp", "iss"]);
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.leeway = 0;
            if let Ok(data) =
                jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            {
                verified = Some(data);
                break;
            }
        }
        let data = verified.ok_or(TokenError::Invalid)?;
        check_times(&data.claims, jsonwebtoken::get_current_timestamp())?;
        // Directus requires these claims to be present, though `role` may be null.
        for claim in ["id", "role", "app_access", "admin_access"] {
            if !data.claims.contains_key(claim) {
                return Err(TokenError::Invalid);
            }
        }
        let claims: AccessClaims =
            serde_json::from_value(Value::Object(data.claims)).map_err(|_| TokenError::Invalid)?;
        // A set-up token names its issuer, and only such a token is one.
        if (claims.iss == SETUP_ISSUER) != claims.tfa_setup {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

/// The time claims of a correctly signed token (RFC 7519 §4.1.4-6): `exp` and `iat` required
/// whole seconds, `nbf` optional; `iat` and `nbf` no more than [`CLOCK_LEEWAY_SECS`] ahead of
/// `now`; expired from the second `exp` names. A token that is both from the future and past its
/// `exp` is invalid, not expired.
pub fn check_times(claims: &Map<String, Value>, now: u64) -> Result<(), TokenError> {
    let seconds = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(TokenError::Invalid),
    };
    let exp = seconds("exp")?.ok_or(TokenError::Invalid)?;
    let iat = seconds("iat")?.ok_or(TokenError::Invalid)?;
    let nbf = seconds("nbf")?;
    let horizon = now.saturating_add(CLOCK_LEEWAY_SECS);
    if iat > horizon || nbf.is_some_and(|nbf| nbf > horizon) || exp < iat {
        return Err(TokenError::Invalid);
    }
    if now >= exp {
        return Err(TokenError::Expired);
    }
    Ok(())
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
    fn set_up_tokens_name_their_own_issuer_and_no_role_and_nothing_else_passes_for_one() {
        let grants = Grants {
            app_access: false,
            admin_access: false,
            tfa_setup: true,
        };
        let issued = tokens()
            .issue_bound(
                "u1",
                Some("r1"),
                grants,
                now(),
                Binding::None,
                tokens().ttl(),
            )
            .unwrap();
        let claims = tokens().verify(&issued.token).unwrap();
        assert!(claims.tfa_setup);
        assert_eq!(claims.iss, SETUP_ISSUER);
        assert_eq!(
            claims.role, None,
            "no role: a foreign verifier grants nothing"
        );
        let plain = tokens()
            .issue("u1", Some("r1"), false, false, now())
            .unwrap();
        let claims = tokens().verify(&plain.token).unwrap();
        assert!(!claims.tfa_setup);

        // Signed with the right key, but the issuer and the claim disagree: refused.
        let base = json!({"id": "u1", "role": null, "app_access": false, "admin_access": false,
            "iat": now(), "exp": now() + 60});
        for (iss, setup) in [("directus", true), (SETUP_ISSUER, false)] {
            let mut claims = base.clone();
            claims["iss"] = json!(iss);
            claims["tfa_setup"] = json!(setup);
            let token = sign(claims, Algorithm::HS256, SECRET);
            assert!(tokens().verify(&token).is_err(), "{iss} {setup}");
        }
        let mut claims = base.clone();
        claims["iss"] = json!(SETUP_ISSUER);
        let token = sign(claims, Algorithm::HS256, SECRET);
        assert!(
            tokens().verify(&token).is_err(),
            "the set-up issuer without the claim"
        );
    }

    #[test]
    fn session_tokens_carry_their_session_and_lifetime() {
        let issued = tokens()
            .issue_bound(
                "u1",
                None,
                Grants::default(),
                now(),
                Binding::Session(SessionRef {
                    claim: "abc.3",
                    created_ms: 1_700_000_000_123,
                }),
                Duration::from_secs(86_400),
            )
            .unwrap();
        assert_eq!(issued.expires_ms, 86_400_000);
        let claims = tokens().verify(&issued.token).unwrap();
        assert_eq!(claims.exp - claims.iat, 86_400);
        assert_eq!(claims.session_generation(), Some(("abc", 3)));
        assert_eq!(claims.session_id(), Some("abc"));
        assert_eq!(claims.sid, None);
        assert_eq!(claims.session_created_ms, Some(1_700_000_000_123));
        let json_mode = tokens()
            .issue_bound(
                "u1",
                None,
                Grants::default(),
                now(),
                Binding::Sid(SessionRef {
                    claim: "abc",
                    created_ms: 1_700_000_000_456,
                }),
                tokens().ttl(),
            )
            .unwrap();
        let claims = tokens().verify(&json_mode.token).unwrap();
        assert_eq!(claims.session, None);
        assert_eq!(claims.session_id(), Some("abc"));
        assert_eq!(claims.session_generation(), None);
        assert_eq!(claims.session_created_ms, Some(1_700_000_000_456));
        // Plain tokens carry none of these claims; tokens without it (issued by earlier
        // versions) still verify.
        let plain = tokens().issue("u1", None, false, false, now()).unwrap();
        let raw: Value = jsonwebtoken::dangerous::insecure_decode_claims(&plain.token).unwrap();
        assert!(
            raw.get("session").is_none()
                && raw.get("sid").is_none()
                && raw.get("session_created_ms").is_none(),
            "{raw}"
        );
        assert_eq!(
            tokens().verify(&plain.token).unwrap().session_created_ms,
            None
        );
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
        let key =
            |kid: &str, private: Option<&str>, public: &str| crate::credential::keys::JwtKey {
                kid: kid.into(),
                private_key: private.map(str::to_owned),
                public_key: public.into(),
            };
        let mut signing = keys(SECRET, None);
        signing.jwt = Some(crate::credential::keys::JwtKeys {
            algorithm: algorithm.into(),
            current: key(current.0, Some(current.1), current.2),
            previous: previous.map(|(kid, public)| key(kid, None, public)),
        });
        Tokens::new(&signing, Duration::from_secs(900)).unwrap()
    }

    const ED_PRIVATE: &str = include_str!("../../tests/fixtures/test-ed25519.pem");
    const ED_PUBLIC: &str = include_str!("../../tests/fixtures/test-ed25519.pub");
    const ED_OLD_PRIVATE: &str = include_str!("../../tests/fixtures/test-ed25519-previous.pem");
    const ED_OLD_PUBLIC: &str = include_str!("../../tests/fixtures/test-ed25519-previous.pub");
    const EC_PRIVATE: &str = include_str!("../../tests/fixtures/test-p256.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/fixtures/test-p256.pub");

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
    fn claims_with(extra: Value) -> Value {
        let mut claims = json!({"id":"u1","role":null,"app_access":false,"admin_access":false,
            "iat":now(),"exp":now()+600,"iss":"directus"});
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    }

    fn forged(extra: Value) -> String {
        sign(claims_with(extra), Algorithm::HS256, SECRET)
    }

    const DAY: u64 = 86_400;

    #[test]
    fn every_time_claim_is_checked() {
        let t = tokens();
        assert!(t.verify(&forged(json!({}))).is_ok());
        // nbf: a day ahead refused, within the leeway accepted, in the past fine.
        assert_eq!(
            t.verify(&forged(json!({"nbf": now() + DAY}))),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            t.verify(&forged(json!({"nbf": now() + CLOCK_LEEWAY_SECS + 5}))),
            Err(TokenError::Invalid)
        );
        assert!(t.verify(&forged(json!({"nbf": now() + 5}))).is_ok());
        assert!(t.verify(&forged(json!({"nbf": now() - 5}))).is_ok());
        assert_eq!(
            t.verify(&forged(json!({"nbf": "soon"}))),
            Err(TokenError::Invalid)
        );
        // iat: from the future refused (with exp after it), required, numeric.
        assert_eq!(
            t.verify(&forged(json!({"iat": now() + DAY, "exp": now() + 2 * DAY}))),
            Err(TokenError::Invalid)
        );
        assert!(t.verify(&forged(json!({"iat": now() + 5}))).is_ok());
        assert_eq!(
            t.verify(&forged(json!({"iat": null}))),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            t.verify(&forged(json!({"iat": 1.5}))),
            Err(TokenError::Invalid)
        );
        // exp: required, numeric, expired from the second it names.
        assert_eq!(
            t.verify(&forged(json!({"exp": null}))),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            t.verify(&forged(json!({"exp": "later"}))),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            t.verify(&forged(json!({"exp": -1}))),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            t.verify(&forged(json!({"exp": now()}))),
            Err(TokenError::Expired)
        );
        assert_eq!(
            t.verify(&forged(json!({"iat": now() - 100, "exp": now() - 1}))),
            Err(TokenError::Expired)
        );
        // iss: ours or not a Directus token at all.
        assert_eq!(
            t.verify(&forged(json!({"iss": null}))),
            Err(TokenError::NotDirectus)
        );
        assert_eq!(
            t.verify(&forged(json!({"iss": "Directus"}))),
            Err(TokenError::NotDirectus)
        );
    }

    #[test]
    fn check_times_is_the_one_rule() {
        let at = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            check_times(&at(json!({"iat": 100, "exp": 200})), 150),
            Ok(())
        );
        assert_eq!(
            check_times(&at(json!({"iat": 100, "exp": 200})), 200),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check_times(&at(json!({"iat": 300, "exp": 200})), 150),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check_times(&at(json!({"iat": 100, "exp": 400, "nbf": 211})), 150),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check_times(&at(json!({"iat": 100, "exp": 400, "nbf": 210})), 150),
            Ok(())
        );
        assert_eq!(
            check_times(&at(json!({"iat": 100, "exp": 200})), u64::MAX),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn unsigned_and_kid_mismatched_tokens_are_invalid() {
        use base64::Engine as _;
        let encode =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "typ": "JWT"})),
            encode(&claims_with(json!({})))
        );
        assert_eq!(tokens().verify(&none), Err(TokenError::Invalid));
        let tokens = asymmetric("EdDSA", ("k1", ED_PRIVATE, ED_PUBLIC), None);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("someone-else".into());
        let wrong_kid = jsonwebtoken::encode(
            &header,
            &claims_with(json!({})),
            &EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(tokens.verify(&wrong_kid), Err(TokenError::Invalid));
    }

    #[test]
    fn asymmetric_tokens_meet_the_same_time_rules() {
        for (algorithm, alg, private, public) in [
            ("EdDSA", Algorithm::EdDSA, ED_PRIVATE, ED_PUBLIC),
            ("ES256", Algorithm::ES256, EC_PRIVATE, EC_PUBLIC),
        ] {
            let tokens = asymmetric(algorithm, ("k1", private, public), None);
            let signing = match alg {
                Algorithm::EdDSA => EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
                _ => EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            };
            let mut header = Header::new(alg);
            header.kid = Some("k1".into());
            let sign = |extra: Value| {
                jsonwebtoken::encode(&header, &claims_with(extra), &signing).unwrap()
            };
            assert!(tokens.verify(&sign(json!({}))).is_ok(), "{algorithm}");
            assert_eq!(
                tokens.verify(&sign(json!({"nbf": now() + DAY}))),
                Err(TokenError::Invalid)
            );
            assert_eq!(
                tokens.verify(&sign(json!({"iat": now() + DAY, "exp": now() + 2 * DAY}))),
                Err(TokenError::Invalid)
            );
            assert_eq!(
                tokens.verify(&sign(json!({"exp": null}))),
                Err(TokenError::Invalid)
            );
            assert_eq!(
                tokens.verify(&sign(json!({"exp": now() - 1, "iat": now() - 60}))),
                Err(TokenError::Expired)
            );
        }
    }
}

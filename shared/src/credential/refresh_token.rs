//! Refresh tokens: 64 characters of the base64url alphabet (the shape of Directus' nanoid(64)
//! tokens) encoding a 16-byte session id, the session's 32-bit rotation counter and a 224-bit
//! HMAC-SHA256 tag over both, made with a key derived from the server secret. The session item
//! stores the counter, never a token: a copy of the table mints nothing, and the token for any
//! counter can be recomputed, which is what lets a refresh repeated within the grace window get
//! the same new token instead of a second one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::credential::keys::SigningKeys;
use crate::domain::sensitive::Sensitive;

const TAG_BYTES: usize = 28;
const TOKEN_BYTES: usize = 16 + 4 + TAG_BYTES;
/// Keeps refresh-token tags apart from every other use of the secret.
const DOMAIN: &[u8] = b"directus-compatible refresh token v1";

type HmacSha256 = Hmac<Sha256>;

/// Derived HMAC keys: the current one signs, both verify (so a secret rotation keeps sessions).
#[derive(Clone)]
pub struct RefreshKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for RefreshKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKeys(<redacted>)")
    }
}

fn derive(secret: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    mac.finalize().into_bytes().to_vec()
}

impl RefreshKeys {
    pub fn new(secrets: &SigningKeys) -> Self {
        Self {
            keys: std::iter::once(&secrets.current)
                .chain(secrets.previous.as_ref())
                .map(|secret| derive(secret))
                .collect(),
        }
    }

    /// The one MAC over (session, generation): tokens are made and checked with it.
    fn mac(key: &[u8], session: &Uuid, generation: u32) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(session.as_bytes());
        mac.update(&generation.to_be_bytes());
        mac
    }

    fn tag(key: &[u8], session: &Uuid, generation: u32) -> [u8; TAG_BYTES] {
        let full = Self::mac(key, session, generation).finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    /// The token for `generation` of `session_id`.
    pub fn token(&self, session_id: &str, generation: u32) -> Sensitive {
        let session = Uuid::parse_str(session_id).expect("session ids are UUIDs");
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(session.as_bytes());
        bytes.extend_from_slice(&generation.to_be_bytes());
        bytes.extend_from_slice(&Self::tag(&self.keys[0], &session, generation));
        Sensitive::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The session and generation a presented token names, if its tag is genuine under the
    /// current or the previous key (compared in constant time).
    pub fn verify(&self, token: &str) -> Option<(String, u32)> {
        if token.len() != 64 {
            return None;
        }
        let bytes: [u8; TOKEN_BYTES] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
        let session = Uuid::from_slice(&bytes[..16]).ok()?;
        let generation = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
        let presented = &bytes[20..];
        let genuine = self.keys.iter().any(|key| {
            Self::mac(key, &session, generation)
                .verify_truncated_left(presented)
                .is_ok()
        });
        genuine.then(|| (session.to_string(), generation))
    }
}

pub fn new_session_id() -> String {
    Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &[u8], previous: Option<&[u8]>) -> RefreshKeys {
        RefreshKeys::new(&SigningKeys {
            current: current.to_vec(),
            previous: previous.map(<[u8]>::to_vec),
            jwt: None,
        })
    }

    const A: &[u8] = b"first secret of at least thirty-two bytes";
    const B: &[u8] = b"second secret of at least thirty-two byte";

    #[test]
    fn tokens_are_64_url_safe_characters_and_verify() {
        let session = new_session_id();
        let token = keys(A, None).token(&session, 7);
        assert_eq!(token.expose().len(), 64);
        assert!(
            token
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(keys(A, None).verify(token.expose()), Some((session, 7)));
    }

    #[test]
    fn the_same_generation_gives_the_same_token() {
        let session = new_session_id();
        assert_eq!(
            keys(A, None).token(&session, 1),
            keys(A, None).token(&session, 1)
        );
        assert_ne!(
            keys(A, None).token(&session, 1),
            keys(A, None).token(&session, 2)
        );
    }

    #[test]
    fn tampering_or_another_key_fails() {
        let session = new_session_id();
        let token = keys(A, None).token(&session, 3);
        assert_eq!(keys(B, None).verify(token.expose()), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        bytes[19] ^= 1; // generation 3 -> 2
        assert_eq!(keys(A, None).verify(&URL_SAFE_NO_PAD.encode(bytes)), None);
        assert_eq!(keys(A, None).verify("short"), None);
        assert_eq!(keys(A, None).verify(&"!".repeat(64)), None);
    }

    #[test]
    fn the_previous_secret_still_verifies_after_a_rotation() {
        let session = new_session_id();
        let old = keys(A, None).token(&session, 1);
        assert_eq!(keys(B, Some(A)).verify(old.expose()), Some((session, 1)));
    }
}

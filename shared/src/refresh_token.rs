//! Refresh tokens: 64 characters of the base64url alphabet (the shape of Directus' nanoid(64)
//! tokens) encoding a 16-byte session id and a 256-bit random secret. The session id lets the
//! store find the session with one GetItem; only SHA-256 of the secret is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::sensitive::Sensitive;

const SECRET_BYTES: usize = 32;
const TOKEN_BYTES: usize = 16 + SECRET_BYTES;

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub session_id: String,
    secret: [u8; SECRET_BYTES],
}

impl RefreshToken {
    /// A new secret for a new session.
    pub fn generate() -> Self {
        Self::generate_for(Uuid::new_v4().to_string())
    }

    /// A new secret for an existing session (rotation).
    pub fn generate_for(session_id: String) -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        rand::fill(&mut secret);
        Self { session_id, secret }
    }

    /// Parses a presented token; `None` for anything that is not one of ours.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() != 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let bytes: [u8; TOKEN_BYTES] = bytes.try_into().ok()?;
        let session_id = Uuid::from_slice(&bytes[..16]).ok()?.to_string();
        let mut secret = [0u8; SECRET_BYTES];
        secret.copy_from_slice(&bytes[16..]);
        Some(Self { session_id, secret })
    }

    pub fn encode(&self) -> Sensitive {
        let uuid = Uuid::parse_str(&self.session_id).expect("session ids are UUIDs");
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(uuid.as_bytes());
        bytes.extend_from_slice(&self.secret);
        Sensitive::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// What the store keeps: SHA-256 of the secret, base64url. A fast hash is enough because the
    /// secret has 256 bits of entropy.
    pub fn secret_hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.secret))
    }

    pub fn matches(&self, stored_hash: &str) -> bool {
        self.secret_hash()
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_url_safe_characters_and_round_trip() {
        let token = RefreshToken::generate();
        let encoded = token.encode();
        assert_eq!(encoded.expose().len(), 64);
        assert!(
            encoded
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let parsed = RefreshToken::parse(encoded.expose()).unwrap();
        assert_eq!(parsed.session_id, token.session_id);
        assert!(parsed.matches(&token.secret_hash()));
    }

    #[test]
    fn rotation_keeps_the_session_and_changes_the_secret() {
        let first = RefreshToken::generate();
        let second = RefreshToken::generate_for(first.session_id.clone());
        assert_eq!(first.session_id, second.session_id);
        assert!(!second.matches(&first.secret_hash()));
    }

    #[test]
    fn foreign_strings_do_not_parse() {
        assert!(RefreshToken::parse("").is_none());
        assert!(RefreshToken::parse("short").is_none());
        assert!(RefreshToken::parse(&"!".repeat(64)).is_none());
    }
}

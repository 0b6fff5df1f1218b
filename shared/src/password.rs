//! Argon2id password hashing. Work runs on the blocking pool, never on the async executor.
//! Unknown accounts are verified against a dummy hash made with the same parameters, so a login
//! for an email that does not exist costs the same as one with a wrong password.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::HashParams;
use crate::sensitive::Sensitive;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hashing(String),
    #[error("the hashing task did not complete: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    dummy_hash: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Builds the hasher and its dummy hash (one hash of work, paid once at cold start).
    pub fn new(params: HashParams) -> Result<Self, PasswordError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = argon2
            .hash_password(b"dummy password for unknown accounts")
            .map_err(|e| PasswordError::Hashing(e.to_string()))?
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner { argon2, dummy_hash }),
        })
    }

    /// Hashes to a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    pub async fn hash(&self, password: &Sensitive) -> Result<Sensitive, PasswordError> {
        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .argon2
                .hash_password(password.expose().as_bytes())
                .map(|hash| Sensitive::new(hash.to_string()))
                .map_err(|e| PasswordError::Hashing(e.to_string()))
        })
        .await?
    }

    /// True when `password` matches `stored`. With no stored hash the dummy hash is verified
    /// instead and the answer is false. Any argon2 PHC string verifies with its own parameters.
    pub async fn verify(
        &self,
        password: &Sensitive,
        stored: Option<&Sensitive>,
    ) -> Result<bool, PasswordError> {
        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        let stored = stored.cloned();
        tokio::task::spawn_blocking(move || {
            let (phc, real) = match &stored {
                Some(hash) => (hash.expose(), true),
                None => (inner.dummy_hash.as_str(), false),
            };
            let Ok(parsed) = PasswordHash::new(phc) else {
                // An unparseable stored hash can never match; still spend the work.
                let dummy = PasswordHash::new(&inner.dummy_hash).ok();
                if let Some(dummy) = dummy {
                    let _ = inner
                        .argon2
                        .verify_password(password.expose().as_bytes(), &dummy);
                }
                return false;
            };
            let matches = inner
                .argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            real && matches
        })
        .await
        .map_err(PasswordError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        // Small parameters keep unit tests fast; behaviour does not depend on cost.
        Passwords::new(HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let passwords = cheap();
        let hash = passwords.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(
            passwords
                .verify(&Sensitive::new("d1r3ctu5"), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify(&Sensitive::new("d1r3ctu6"), Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn missing_hash_never_verifies() {
        let passwords = cheap();
        let dummy_password = Sensitive::new("dummy password for unknown accounts");
        assert!(!passwords.verify(&dummy_password, None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_still_verify() {
        let other = Passwords::new(HashParams {
            memory_kib: 512,
            iterations: 3,
            parallelism: 2,
        })
        .unwrap();
        let hash = other.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        assert!(
            cheap()
                .verify(&Sensitive::new("d1r3ctu5"), Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn garbage_stored_hash_is_a_mismatch_not_an_error() {
        let stored = Sensitive::new("not a phc string");
        assert!(
            !cheap()
                .verify(&Sensitive::new("x"), Some(&stored))
                .await
                .unwrap()
        );
    }

    #[test]
    fn owasp_defaults_are_accepted() {
        Passwords::new(HashParams::default()).unwrap();
    }
}

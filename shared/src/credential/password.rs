//! Argon2id password hashing. Work runs on the blocking pool, never on the async executor.
//! Unknown accounts are verified against a dummy hash made with the same parameters, so a login
//! for an email that does not exist costs the same as one with a wrong password.
//!
//! The 19 MiB of argon2 memory a hash needs is kept between hashes (`MemoryPool`): allocating it
//! afresh each time maps and faults in every page again (the functions return large blocks to
//! the system, `shared::platform::runtime`), which cost ~9 ms of a ~14 ms verification here.

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::sensitive::Sensitive;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hashing(String),
    #[error("the hashing task did not complete: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "Value has to be between {MIN_PASSWORD_CHARS} and {MAX_PASSWORD_CHARS} characters long."
    )]
    Length,
    #[error("Value is one of the most commonly used passwords.")]
    Common,
    #[error("Value doesn't have the correct format.")]
    Format,
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

static COMMON_PASSWORDS: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
    std::sync::OnceLock::new();

fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    COMMON_PASSWORDS.get_or_init(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    })
}

/// NIST 800-63B: 8 to 256 characters, no composition rules, not a commonly used password;
/// plus the operator's optional pattern (Directus' `auth_password_policy`).
pub fn check_policy(password: &str, pattern: Option<&regex::Regex>) -> Result<(), PolicyError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(PolicyError::Length);
    }
    if common_passwords().contains(password.to_lowercase().as_str()) {
        return Err(PolicyError::Common);
    }
    if pattern.is_some_and(|p| !p.is_match(password)) {
        return Err(PolicyError::Format);
    }
    Ok(())
}

/// Argon2id cost. Defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// A PHC string with the configured parameters, a fixed salt and an all-zero output. Verifying a
/// password against it runs the whole argon2 computation with those parameters, as verifying
/// against a real hash does, and never matches (the output would have to be 32 zero bytes). No
/// hash is computed to make it, so a cold start does not pay one: before, the function hashed a
/// dummy password at start-up (one argon2 run, ~30 ms of a 50-90 ms cold start).
fn dummy_hash(params: HashParams) -> String {
    const SALT: &str = "dW5rbm93bi1hY2NvdW50"; // "unknown-account", unpadded base64
    const OUTPUT: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; // 32 zero bytes
    format!(
        "$argon2id$v=19$m={},t={},p={}${SALT}${OUTPUT}",
        params.memory_kib, params.iterations, params.parallelism
    )
}

#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    params: HashParams,
    dummy_hash: String,
    memory: MemoryPool,
    stored_limit: StoredCostLimit,
}

/// Argon2 memory of the configured size kept for the next hash. At most `SPARE_BUFFERS` are
/// kept, so a burst of concurrent hashes (Lambda Managed Instances) does not pin its peak
/// memory; a hash of another size (a stored hash made with other parameters) gets its own.
struct MemoryPool {
    blocks: usize,
    spare: Mutex<Vec<Vec<Block>>>,
}

const SPARE_BUFFERS: usize = 2;

/// The cost of the hashes Directus makes (node-argon2's defaults: `m=65536,t=3,p=4`). A stored
/// hash may ask for this much, or for the configured cost, whichever is more, in each parameter,
/// so that Directus' hashes and ours verify; one asking for more is unusable rather than run
/// (argon2 allows 4 TiB of memory and 2^32 - 1 passes, which would hold a thread for hours on
/// every login attempt for that address).
const DIRECTUS_COST: HashParams = HashParams {
    memory_kib: 65_536,
    iterations: 3,
    parallelism: 4,
};

/// The most a stored hash may ask for, parameter by parameter (`DIRECTUS_COST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredCostLimit {
    /// Argon2 memory, in 1 KiB blocks (as `Params::block_count` counts them).
    blocks: usize,
    iterations: u32,
    lanes: u32,
}

impl StoredCostLimit {
    fn new(configured_blocks: usize, configured: HashParams) -> Self {
        Self {
            blocks: configured_blocks.max(DIRECTUS_COST.memory_kib as usize),
            iterations: configured.iterations.max(DIRECTUS_COST.iterations),
            lanes: configured.parallelism.max(DIRECTUS_COST.parallelism),
        }
    }

    fn allows(&self, params: &Params) -> bool {
        params.block_count() <= self.blocks
            && params.t_cost() <= self.iterations
            && params.p_cost() <= self.lanes
    }
}

impl MemoryPool {
    /// Kept memory, or new memory; none when it cannot be allocated.
    fn take(&self, blocks: usize) -> Option<Vec<Block>> {
        if blocks == self.blocks {
            let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if spare.is_some() {
                return spare;
            }
        }
        // Argon2 writes every block before it reads it: the content of reused memory does not
        // matter, and fresh memory needs no particular value.
        let mut memory = Vec::new();
        memory.try_reserve_exact(blocks).ok()?;
        memory.resize(blocks, Block::new());
        Some(memory)
    }

    /// Keeps `memory` for the next hash, cleared: the blocks a hash leaves are derived from its
    /// password, and would let whoever reads this process' memory test guesses without
    /// argon2's cost. (Memory not kept is unmapped: `shared::platform::runtime`.)
    fn give_back(&self, mut memory: Vec<Block>) {
        if memory.len() != self.blocks {
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_BUFFERS {
            memory.fill(Block::new());
            spare.push(memory);
        }
    }
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Builds the hasher and the dummy hash unknown accounts are verified against.
    pub fn new(configured: HashParams) -> Result<Self, PasswordError> {
        let params = Params::new(
            configured.memory_kib,
            configured.iterations,
            configured.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let blocks = params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = dummy_hash(configured);
        // Checked here so that a dummy the verifier would refuse (and answer at once) stops the
        // function at cold start.
        PasswordHash::new(&dummy_hash).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2,
                params: configured,
                dummy_hash,
                stored_limit: StoredCostLimit::new(blocks, configured),
                memory: MemoryPool {
                    blocks,
                    spare: Mutex::new(Vec::new()),
                },
            }),
        })
    }

    /// Hashes to a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    pub async fn hash(&self, password: &Sensitive) -> Result<Sensitive, PasswordError> {
        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .hash(password.expose().as_bytes())
                .map(Sensitive::new)
                .map_err(|e| PasswordError::Hashing(e.to_string()))
        })
        .await?
    }

    /// True when `stored` was made with other parameters (or another algorithm) than the
    /// configured ones, so that a successful login should rehash it.
    pub fn needs_rehash(&self, stored: &Sensitive) -> bool {
        let wanted = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            self.inner.params.memory_kib,
            self.inner.params.iterations,
            self.inner.params.parallelism
        );
        !stored.expose().starts_with(&wanted)
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
            let password = password.expose().as_bytes();
            let checked = PasswordHash::new(phc)
                .ok()
                .and_then(|parsed| inner.check(password, &parsed));
            match checked {
                Some(matches) => matches && real,
                None => {
                    // A stored hash that cannot be used can never match; still spend the work.
                    if let Ok(dummy) = PasswordHash::new(&inner.dummy_hash) {
                        inner.check(password, &dummy);
                    }
                    false
                }
            }
        })
        .await
        .map_err(PasswordError::from)
    }
}

impl Inner {
    /// A PHC string of `password` with the configured parameters and a random salt, as
    /// `argon2::PasswordHasher::hash_password` makes it, computed in pooled memory.
    fn hash(&self, password: &[u8]) -> argon2::password_hash::Result<String> {
        let salt = try_generate_salt()?;
        let params = self.argon2.params();
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(&self.argon2, password, &salt, &mut output)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(Salt::new(&salt)?),
            hash: Some(Output::new(&output)?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` hashes to `stored`'s output with `stored`'s algorithm, version and
    /// parameters (as `argon2::PasswordVerifier` decides, in pooled memory; the comparison is
    /// `Output`'s, in constant time). None when `stored` cannot be used: no salt or output,
    /// parameters argon2 refuses, more memory, passes or lanes than `StoredCostLimit` allows.
    fn check(&self, password: &[u8], stored: &PasswordHash) -> Option<bool> {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return None;
        };
        let algorithm = Algorithm::try_from(stored.algorithm.as_str()).ok()?;
        let version = match stored.version {
            Some(version) => Version::try_from(version).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(stored).ok()?;
        if !self.stored_limit.allows(&params) {
            return None;
        }
        let argon2 = Argon2::new(algorithm, version, params);
        let mut output = vec![0u8; expected.len()];
        self.compute(&argon2, password, salt, &mut output).ok()?;
        Some(Output::new(&output).is_ok_and(|output| output == *expected))
    }

    /// `argon2`'s output of `password` and `salt`, in pooled memory.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        output: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let blocks = argon2.params().block_count();
        let mut memory = self.memory.take(blocks).ok_or(argon2::Error::OutOfMemory)?;
        let computed = argon2.hash_password_into_with_memory(password, salt, output, &mut memory);
        self.memory.give_back(memory);
        computed
    }
}

/// `check_policy` for a request: the settings' pattern applies, and a refusal is Directus'
/// `FAILED_VALIDATION` on `password`.
pub fn enforce_policy(
    password: &Sensitive,
    settings: &crate::domain::model::Settings,
) -> Result<(), crate::domain::error::ApiError> {
    let pattern = match settings.auth_password_policy.as_deref() {
        None | Some("") => None,
        Some(raw) => match regex::Regex::new(raw) {
            Ok(pattern) => Some(pattern),
            Err(error) => {
                // A broken pattern refuses every password rather than none.
                tracing::warn!(%error, "invalid auth_password_policy");
                return Err(policy_error(PolicyError::Format));
            }
        },
    };
    check_policy(password.expose(), pattern.as_ref()).map_err(policy_error)
}

fn policy_error(error: PolicyError) -> crate::domain::error::ApiError {
    crate::domain::error::ApiError::FailedValidation {
        field: "password".into(),
        kind: match error {
            PolicyError::Length => "length",
            PolicyError::Common => "common",
            PolicyError::Format => "regex",
        },
        detail: error.to_string(),
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

    #[test]
    fn the_dummy_hash_costs_a_real_verification_with_the_configured_parameters() {
        let configured = HashParams {
            memory_kib: 512,
            iterations: 3,
            parallelism: 2,
        };
        let dummy = dummy_hash(configured);
        let parsed = PasswordHash::new(&dummy).unwrap();
        // The verifier takes its cost from the PHC string: the configured one, and the output
        // length of real hashes (32 bytes).
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (512, 3, 2)
        );
        assert_eq!(parsed.hash.unwrap().len(), 32);
        // It goes through the whole computation and answers "wrong password", not a format error.
        use argon2::password_hash::PasswordVerifier as _;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let outcome = argon2.verify_password(b"any password at all", &parsed);
        assert!(
            matches!(outcome, Err(argon2::password_hash::Error::PasswordInvalid)),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_hasher_and_verifier() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let passwords = cheap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
        );
        // Ours, checked by the crate's verifier: the same PHC string it would have made.
        let ours = passwords.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        let parsed = PasswordHash::new(ours.expose()).unwrap();
        assert!(reference.verify_password(b"d1r3ctu5", &parsed).is_ok());
        assert!(reference.verify_password(b"d1r3ctu6", &parsed).is_err());
        // The crate's (every hash stored before the pool) and its other variants, versions,
        // output lengths, lanes (256 blocks with 2 lanes: the pooled memory's size) and
        // associated data, checked by ours.
        let variants = [
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(512, 2, 2, None),
            ),
            (
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(512, 2, 2, None),
            ),
            (
                Algorithm::Argon2d,
                Version::V0x13,
                Params::new(512, 2, 2, None),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x10,
                Params::new(256, 1, 1, None),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(256, 1, 1, Some(64)),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(256, 1, 2, None),
            ),
        ];
        let mut with_data = argon2::ParamsBuilder::new();
        with_data.m_cost(256).t_cost(1).p_cost(1);
        with_data.data(argon2::AssociatedData::new(b"tenant").unwrap());
        let with_data = (Algorithm::Argon2id, Version::V0x13, with_data.build());
        for (algorithm, version, params) in variants.into_iter().chain([with_data]) {
            let params = params.unwrap();
            let other = Argon2::new(algorithm, version, params.clone());
            let theirs = Sensitive::new(other.hash_password(b"d1r3ctu5").unwrap().to_string());
            for (password, expected) in [("d1r3ctu5", true), ("d1r3ctu6", false)] {
                let verified = passwords
                    .verify(&Sensitive::new(password), Some(&theirs))
                    .await;
                assert_eq!(verified.unwrap(), expected, "{}", theirs.expose());
            }
        }
        // A hash whose output was altered (a character in its middle), or that has none,
        // never verifies.
        let (head, output) = ours.expose().rsplit_once('$').unwrap();
        let mut altered: Vec<char> = output.chars().collect();
        altered[20] = if altered[20] == 'A' { 'B' } else { 'A' };
        let altered = format!("{head}${}", altered.into_iter().collect::<String>());
        assert!(PasswordHash::new(&altered).is_ok(), "still a PHC string");
        for stored in [altered, head.to_owned()] {
            let stored = Sensitive::new(stored);
            let verified = passwords
                .verify(&Sensitive::new("d1r3ctu5"), Some(&stored))
                .await;
            assert!(!verified.unwrap(), "{}", stored.expose());
        }
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_more_memory_than_the_bound_is_refused() {
        use argon2::password_hash::PasswordHasher as _;
        let passwords = cheap();
        let hash_with = |m_cost| {
            let params = Params::new(m_cost, 1, 1, None).unwrap();
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            Sensitive::new(argon2.hash_password(b"d1r3ctu5").unwrap().to_string())
        };
        let password = Sensitive::new("d1r3ctu5");
        // Directus' default memory verifies; one block more does not.
        let directus = hash_with(DIRECTUS_COST.memory_kib);
        assert!(passwords.verify(&password, Some(&directus)).await.unwrap());
        let larger = hash_with(DIRECTUS_COST.memory_kib + 8);
        assert!(!passwords.verify(&password, Some(&larger)).await.unwrap());
        // Argon2's largest cost (4 TiB) is refused, not allocated (which would end the process).
        let (head, tail) = directus.expose().split_once("m=65536").unwrap();
        let huge = Sensitive::new(format!("{head}m={}{tail}", u32::MAX));
        assert!(PasswordHash::new(huge.expose()).is_ok());
        assert!(!passwords.verify(&password, Some(&huge)).await.unwrap());
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_more_passes_or_lanes_than_the_bound_is_refused() {
        use argon2::password_hash::PasswordHasher as _;
        let hash_with = |m_cost, t_cost, p_cost| {
            let params = Params::new(m_cost, t_cost, p_cost, None).unwrap();
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            Sensitive::new(argon2.hash_password(b"d1r3ctu5").unwrap().to_string())
        };
        let password = Sensitive::new("d1r3ctu5");
        let verifies = |passwords: Passwords, stored: Sensitive| {
            let password = password.clone();
            async move { passwords.verify(&password, Some(&stored)).await.unwrap() }
        };
        // Below Directus' cost in every parameter (t=1, p=1 configured): the bound is Directus'.
        let passwords = cheap();
        // The hash Directus makes with its defaults, and its passes and lanes at less memory.
        let directus = hash_with(65_536, 3, 4);
        assert!(
            directus
                .expose()
                .starts_with("$argon2id$v=19$m=65536,t=3,p=4$")
        );
        assert!(verifies(passwords.clone(), directus).await);
        assert!(verifies(passwords.clone(), hash_with(256, 3, 4)).await);
        // One pass or one lane more is refused, though the password is right.
        assert!(!verifies(passwords.clone(), hash_with(256, 4, 1)).await);
        assert!(!verifies(passwords.clone(), hash_with(256, 1, 5)).await);
        // A configured cost above Directus' is the bound instead.
        let configured = Passwords::new(HashParams {
            memory_kib: 256,
            iterations: 5,
            parallelism: 6,
        })
        .unwrap();
        assert!(verifies(configured.clone(), hash_with(256, 5, 6)).await);
        assert!(!verifies(configured.clone(), hash_with(256, 6, 1)).await);
        assert!(!verifies(configured.clone(), hash_with(256, 1, 7)).await);
    }

    #[test]
    fn a_stored_hash_asking_for_argon2s_most_passes_is_refused_without_running_it() {
        // 2^32 - 1 passes would hold the thread for hours: refused at once instead. (Checked on
        // a thread of its own so that a regression fails here rather than hanging the run.)
        let passwords = cheap();
        let stored = "$argon2id$v=19$m=256,t=4294967295,p=1$c2FsdHNhbHQ\
                      $AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let inner = Arc::clone(&passwords.inner);
        let (sender, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let parsed = PasswordHash::new(stored).unwrap();
            sender.send(inner.check(b"d1r3ctu5", &parsed)).ok();
        });
        let checked = answer.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(checked, Ok(None));
    }

    #[tokio::test]
    async fn a_stored_hash_that_cannot_be_used_still_costs_a_verification() {
        // The dummy verification's memory, back in the pool, shows it ran (a stored hash of
        // 512 KiB would have had memory of its own, not kept).
        for stored in [
            "$argon2id$v=19$m=512,t=4,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=512,t=1,p=5$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=65544,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "not a phc string",
            "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$AAAA",
            "$argon2id$v=42$m=256,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let passwords = cheap();
            let stored = Sensitive::new(stored);
            assert!(
                !passwords
                    .verify(&Sensitive::new("x"), Some(&stored))
                    .await
                    .unwrap()
            );
            assert_eq!(
                passwords.inner.memory.spare.lock().unwrap().len(),
                1,
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn argon2_memory_is_reused_and_at_most_two_buffers_are_kept() {
        let passwords = cheap();
        let spare = || passwords.inner.memory.spare.lock().unwrap().len();
        assert_eq!(spare(), 0);
        let hash = passwords.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        assert_eq!(spare(), 1);
        // Kept cleared: nothing derived from the password stays behind.
        let cleared = |passwords: &Passwords| {
            let spare = passwords.inner.memory.spare.lock().unwrap();
            spare
                .iter()
                .flatten()
                .all(|block| block.as_ref().iter().all(|word| *word == 0))
        };
        assert!(cleared(&passwords));
        // Sequential hashes take the kept buffer and give it back: the same answers.
        for _ in 0..3 {
            assert!(
                passwords
                    .verify(&Sensitive::new("d1r3ctu5"), Some(&hash))
                    .await
                    .unwrap()
            );
            assert!(
                !passwords
                    .verify(&Sensitive::new("wrong one"), Some(&hash))
                    .await
                    .unwrap()
            );
        }
        assert_eq!(spare(), 1);
        // Concurrent ones each have their own; no more than two are kept after them.
        let runs = (0..8).map(|i| {
            let passwords = passwords.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                let password = if i % 2 == 0 { "d1r3ctu5" } else { "wrong one" };
                passwords
                    .verify(&Sensitive::new(password), Some(&hash))
                    .await
                    .unwrap()
                    == (i % 2 == 0)
            })
        });
        for run in runs.collect::<Vec<_>>() {
            assert!(run.await.unwrap());
        }
        assert!((1..=SPARE_BUFFERS).contains(&spare()), "{}", spare());
        assert!(cleared(&passwords));
        // A stored hash of another size gets memory of its own, which is not kept.
        let other = Passwords::new(HashParams {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let bigger = other.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        let before = spare();
        assert!(
            passwords
                .verify(&Sensitive::new("d1r3ctu5"), Some(&bigger))
                .await
                .unwrap()
        );
        assert_eq!(spare(), before);
        assert!(
            passwords
                .inner
                .memory
                .spare
                .lock()
                .unwrap()
                .iter()
                .all(|m| m.len() == passwords.inner.memory.blocks)
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
    fn the_policy_wants_8_to_256_characters_and_nothing_common() {
        assert_eq!(
            check_policy("d1r3ctu5", None),
            Ok(()),
            "the quickstart's password passes"
        );
        assert_eq!(check_policy("short", None), Err(PolicyError::Length));
        assert_eq!(
            check_policy(&"x".repeat(257), None),
            Err(PolicyError::Length)
        );
        assert_eq!(
            check_policy(&"é".repeat(256), None),
            Ok(()),
            "characters, not bytes"
        );
        assert_eq!(check_policy("password", None), Err(PolicyError::Common));
        assert_eq!(check_policy("PassWord", None), Err(PolicyError::Common));
        assert_eq!(check_policy("12345678", None), Err(PolicyError::Common));
        assert!(common_passwords().len() >= 10_000);
        let digits = regex::Regex::new("[0-9]").unwrap();
        assert_eq!(
            check_policy("no digits here", Some(&digits)),
            Err(PolicyError::Format)
        );
        assert_eq!(check_policy("one digit 1 here", Some(&digits)), Ok(()));
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_need_a_rehash() {
        let other = Passwords::new(HashParams {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let old = other.hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        assert!(cheap().needs_rehash(&old));
        let current = cheap().hash(&Sensitive::new("d1r3ctu5")).await.unwrap();
        assert!(!cheap().needs_rehash(&current));
    }

    #[test]
    fn owasp_defaults_are_accepted() {
        Passwords::new(HashParams::default()).unwrap();
    }
}

//! What a function builds once at cold start and shares across invocations.

use crate::config::{Config, ConfigError};
use crate::store::Store;
use crate::token::Tokens;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub tokens: Tokens,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> Self {
        let tokens = Tokens::new(&config.secret, config.access_token_ttl);
        Self {
            config,
            store,
            tokens,
        }
    }

    /// Reads configuration and builds the DynamoDB client; fails with a message naming the bad
    /// setting, so a misconfigured function stops at cold start rather than on a request.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let store = Store::from_env(config.tables.clone()).await;
        Ok(Self::new(config, store))
    }
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A state whose DynamoDB endpoint refuses connections: for handler tests of every path that
/// must answer before (or without) touching the store, and of the 503 path.
#[cfg(any(test, feature = "test-support"))]
pub fn unreachable_state() -> AppState {
    let config = Config::from_lookup(|name| match name {
        "SECRET" => Some("test-secret-of-at-least-thirty-two-bytes".into()),
        _ => None,
    })
    .expect("test configuration is valid");
    let store = Store::local("http://127.0.0.1:9", config.tables.clone());
    AppState::new(config, store)
}

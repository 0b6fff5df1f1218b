//! What a function builds once at cold start and shares across invocations.

use std::sync::Arc;

use crate::credential::refresh_token::RefreshKeys;
use crate::credential::token::Tokens;
use crate::platform::config::{Config, ConfigError, SecretSource, SigningKeys};
use crate::store::Store;
use crate::store::cache::AccessCache;

/// The password hasher the functions that hash build at cold start, next to the state.
pub use crate::credential::password::Passwords;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub tokens: Tokens,
    pub refresh_keys: RefreshKeys,
    pub access: Arc<AccessCache>,
    /// Signs and checks the tokens of mailed links.
    pub links: crate::credential::link_token::LinkTokens,
    /// The mail transport (`crate::email`) of the functions that send mail
    /// (`from_env_with_mail`); elsewhere, or without `EMAIL_TRANSPORT`, every send is refused
    /// and logged.
    pub mailer: crate::email::Mailer,
    /// Seals two-factor secrets and digests recovery codes (keys derived from the signing
    /// secret).
    pub two_factor: crate::credential::two_factor::TwoFactorKeys,
}

impl AppState {
    pub fn new(config: Config, store: Store, keys: &SigningKeys) -> Result<Self, ConfigError> {
        let tokens = Tokens::new(keys, config.access_token_ttl)?;
        let refresh_keys = RefreshKeys::new(keys);
        let access = Arc::new(AccessCache::new(config.permissions_cache_ttl));
        let links = crate::credential::link_token::LinkTokens::new(keys);
        let mailer = crate::email::Mailer::none(&config.email);
        let two_factor = crate::credential::two_factor::TwoFactorKeys::new(keys);
        Ok(Self {
            config,
            store,
            tokens,
            refresh_keys,
            access,
            links,
            mailer,
            two_factor,
        })
    }

    /// Reads configuration, the signing keys (from Secrets Manager when `SECRET_ARN` is set)
    /// and builds the DynamoDB client, once per cold start. Fails with a message naming the bad
    /// setting, so a misconfigured function stops at cold start rather than on a request.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = crate::store::sdk_config().await;
        let keys = match &config.secret {
            SecretSource::Inline(keys) => keys.clone(),
            SecretSource::SecretsManager(arn) => {
                let client = aws_sdk_secretsmanager::Client::new(&sdk_config);
                let value = client
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| ConfigError::Invalid {
                        name: "SECRET_ARN",
                        reason: format!("the secret could not be read: {e}"),
                    })?;
                let raw = value.secret_string().ok_or(ConfigError::Invalid {
                    name: "SECRET_ARN",
                    reason: "the secret has no string value".into(),
                })?;
                SigningKeys::parse(raw, "SECRET_ARN")?
            }
        };
        let store = Store::new(
            aws_sdk_dynamodb::Client::new(&sdk_config),
            config.tables.clone(),
        );
        Self::new(config, store, &keys)
    }

    /// `from_env` with the configured mail transport (SES or SMTP), for the functions that send
    /// mail. The others never build one, so neither the SES client nor the SMTP stack is linked
    /// into their binaries.
    pub async fn from_env_with_mail() -> Result<Self, ConfigError> {
        let mut state = Self::from_env().await?;
        state.config.check_mail_links()?;
        state.mailer =
            crate::email::Mailer::from_config(&state.config.email, crate::store::sdk_config())
                .await?;
        Ok(state)
    }
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
    let SecretSource::Inline(keys) = config.secret.clone() else {
        unreachable!("the test configuration has an inline secret")
    };
    AppState::new(config, store, &keys).expect("test keys are valid")
}

//! Typed configuration, read once at cold start. A missing or bad value stops the function with a
//! message naming the variable, instead of failing on the first request.

use std::time::Duration;

use crate::store::Tables;

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration variable {0} is required but not set")]
    Missing(&'static str),
    #[error("configuration variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Clone)]
pub struct Config {
    pub tables: Tables,
    pub secret: Vec<u8>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_cookie: CookieConfig,
    pub hashing: HashParams,
    pub query_limit_default: u32,
    pub query_limit_max: u32,
}

impl std::fmt::Debug for Config {
    // Hand-written so the secret can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tables", &self.tables)
            .field("secret", &"<redacted>")
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("refresh_cookie", &self.refresh_cookie)
            .field("hashing", &self.hashing)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub name: String,
    pub secure: bool,
    pub same_site: String,
    pub domain: Option<String>,
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

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret = get("SECRET").ok_or(ConfigError::Missing("SECRET"))?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "SECRET",
                reason: format!(
                    "must be at least {MIN_SECRET_BYTES} bytes, got {}",
                    secret.len()
                ),
            });
        }
        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let raw = get(name).unwrap_or_else(|| default.to_owned());
            parse_duration(&raw).ok_or(ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a duration like 900000, 30s, 15m, 12h or 7d"),
            })
        };
        let number = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: format!("{raw:?} is not a non-negative integer"),
                }),
            }
        };
        let same_site = get("REFRESH_TOKEN_COOKIE_SAME_SITE").unwrap_or_else(|| "lax".into());
        let same_site = match same_site.to_ascii_lowercase().as_str() {
            "lax" => "Lax",
            "strict" => "Strict",
            "none" => "None",
            _ => {
                return Err(ConfigError::Invalid {
                    name: "REFRESH_TOKEN_COOKIE_SAME_SITE",
                    reason: format!("{same_site:?} is not one of lax, strict, none"),
                });
            }
        }
        .to_owned();
        let defaults = HashParams::default();
        Ok(Self {
            tables: Tables::from_lookup(&get),
            secret: secret.into_bytes(),
            access_token_ttl: duration("ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: duration("REFRESH_TOKEN_TTL", "7d")?,
            refresh_cookie: CookieConfig {
                name: get("REFRESH_TOKEN_COOKIE_NAME")
                    .unwrap_or_else(|| "directus_refresh_token".into()),
                secure: get("REFRESH_TOKEN_COOKIE_SECURE").is_some_and(|v| v == "true"),
                same_site,
                domain: get("REFRESH_TOKEN_COOKIE_DOMAIN"),
            },
            hashing: HashParams {
                memory_kib: number("HASH_MEMORY_COST", defaults.memory_kib)?,
                iterations: number("HASH_TIME_COST", defaults.iterations)?,
                parallelism: number("HASH_PARALLELISM", defaults.parallelism)?,
            },
            query_limit_default: number("QUERY_LIMIT_DEFAULT", 100)?,
            query_limit_max: number("QUERY_LIMIT_MAX", 1000)?,
        })
    }
}

/// Durations as Directus writes them (the `ms` package): a bare number is milliseconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let millis = match unit.trim() {
        "" | "ms" => value,
        "s" => value.checked_mul(1_000)?,
        "m" => value.checked_mul(60_000)?,
        "h" => value.checked_mul(3_600_000)?,
        "d" => value.checked_mul(86_400_000)?,
        _ => return None,
    };
    (millis > 0).then(|| Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn missing_secret_fails_with_the_variable_name() {
        let error = config_from(&[]).unwrap_err().to_string();
        assert!(error.contains("SECRET"), "{error}");
    }

    #[test]
    fn short_secret_is_rejected() {
        let error = config_from(&[("SECRET", "too-short")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least 32 bytes"), "{error}");
    }

    #[test]
    fn defaults_match_directus() {
        let config = config_from(&[("SECRET", SECRET)]).unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(config.refresh_cookie.name, "directus_refresh_token");
        assert_eq!(config.refresh_cookie.same_site, "Lax");
        assert!(!config.refresh_cookie.secure);
        assert_eq!(config.hashing, HashParams::default());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = config_from(&[("SECRET", SECRET)]).unwrap();
        assert!(!format!("{config:?}").contains(SECRET));
    }

    #[test]
    fn durations_parse_like_the_ms_package() {
        assert_eq!(parse_duration("900000"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        let error = config_from(&[("SECRET", SECRET), ("HASH_TIME_COST", "two")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("HASH_TIME_COST"), "{error}");
    }
}

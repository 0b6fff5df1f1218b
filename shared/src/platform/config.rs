//! Typed configuration, read once at cold start. A missing or bad value stops the function with a
//! message naming the variable, instead of failing on the first request.

use std::time::Duration;

use crate::domain::model::Settings;
use crate::store::Tables;

pub use crate::credential::config::{ConfigError, parse_duration};
pub use crate::credential::keys::{MIN_SECRET_BYTES, SigningKeys};
pub use crate::credential::password::HashParams;

/// Where the signing keys come from: the environment (local stacks, tests) or an AWS Secrets
/// Manager secret read once at cold start (deployed stacks; never an environment value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(SigningKeys),
    SecretsManager(String),
}

#[derive(Clone)]
pub struct Config {
    pub tables: Tables,
    pub secret: SecretSource,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// No refresh succeeds this long after login, however active the session.
    pub refresh_token_absolute_ttl: Duration,
    /// A refresh token just rotated out still returns the same new pair for this long.
    pub refresh_grace: Duration,
    pub refresh_cookie: CookieConfig,
    /// The access token of session mode (`directus_session_token`).
    pub session_cookie: CookieConfig,
    /// Lifetime of a session-mode access token and its cookie (`SESSION_COOKIE_TTL`, 1d).
    pub session_cookie_ttl: Duration,
    /// Browser origins allowed to call the API (`CORS_ALLOW_ORIGINS`, the template's
    /// `CorsAllowOrigins`): a cookie-authenticated state-changing request from any other
    /// `Origin` is refused.
    pub cors_allow_origins: Vec<String>,
    pub hashing: HashParams,
    pub query_limit_default: u32,
    pub query_limit_max: u32,
    /// Most items one read may examine (filters, search, sorts on other fields and `meta` read
    /// beyond the page); past it the request is a 400 instead of a timeout.
    pub items_scan_limit: u32,
    /// Most bytes of item data one read may examine (default 8 MiB): 10,000 items of up to
    /// 400 KB would otherwise exhaust a 256 MB function.
    pub items_scan_bytes: u64,
    /// Rate limits key an IPv6 client on this prefix (a /64 is one customer's network).
    pub rate_limit_ipv6_prefix: u8,
    /// How long a warm function reuses resolved policies and collection schemas.
    pub permissions_cache_ttl: Duration,
    /// Registration settings used while the config table holds none.
    pub default_settings: Settings,
    /// Mail transport, links and their lifetimes (`crate::email`).
    pub email: crate::email::EmailConfig,
}

impl std::fmt::Debug for Config {
    // Hand-written so the secret can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tables", &self.tables)
            .field("secret", &self.secret)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("refresh_cookie", &self.refresh_cookie)
            .field("session_cookie", &self.session_cookie)
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

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret = match (get("SECRET"), get("SECRET_ARN")) {
            (Some(raw), _) => {
                let mut keys = SigningKeys::parse(&raw, "SECRET")?;
                if let Some(previous) = get("SECRET_PREVIOUS") {
                    keys.previous = Some(SigningKeys::parse(&previous, "SECRET_PREVIOUS")?.current);
                }
                if let Some(jwt) = get("JWT_KEYS") {
                    keys.jwt =
                        Some(
                            serde_json::from_str(&jwt).map_err(|e| ConfigError::Invalid {
                                name: "JWT_KEYS",
                                reason: format!("is not a key set: {e}"),
                            })?,
                        );
                }
                SecretSource::Inline(keys)
            }
            (None, Some(arn)) => SecretSource::SecretsManager(arn),
            (None, None) => return Err(ConfigError::Missing("SECRET (or SECRET_ARN)")),
        };
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
        let flag = |name: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(name).as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("{other:?} is not true or false"),
                }),
            }
        };
        // Both cookies are read the same strict way: SameSite one of lax/strict/none, Secure
        // exactly true or false, and None refused without Secure (browsers drop such cookies).
        let cookie = |prefix: &'static str,
                      same_site_name: &'static str,
                      secure_name: &'static str,
                      default_name: &str|
         -> Result<CookieConfig, ConfigError> {
            let same_site = get(same_site_name).unwrap_or_else(|| "lax".into());
            let same_site = match same_site.to_ascii_lowercase().as_str() {
                "lax" => "Lax",
                "strict" => "Strict",
                "none" => "None",
                _ => {
                    return Err(ConfigError::Invalid {
                        name: same_site_name,
                        reason: format!("{same_site:?} is not one of lax, strict, none"),
                    });
                }
            }
            .to_owned();
            let secure = flag(secure_name, false)?;
            if same_site == "None" && !secure {
                return Err(ConfigError::Invalid {
                    name: same_site_name,
                    reason: format!("None needs {secure_name}=true"),
                });
            }
            Ok(CookieConfig {
                name: get(&format!("{prefix}_NAME")).unwrap_or_else(|| default_name.into()),
                secure,
                same_site,
                domain: get(&format!("{prefix}_DOMAIN")),
            })
        };
        let refresh_cookie = cookie(
            "REFRESH_TOKEN_COOKIE",
            "REFRESH_TOKEN_COOKIE_SAME_SITE",
            "REFRESH_TOKEN_COOKIE_SECURE",
            "directus_refresh_token",
        )?;
        let session_cookie = cookie(
            "SESSION_COOKIE",
            "SESSION_COOKIE_SAME_SITE",
            "SESSION_COOKIE_SECURE",
            "directus_session_token",
        )?;
        let cors_allow_origins = get("CORS_ALLOW_ORIGINS")
            .map(|raw| {
                raw.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let default_settings = Settings {
            public_registration: flag("PUBLIC_REGISTRATION", false)?,
            public_registration_role: get("PUBLIC_REGISTRATION_ROLE"),
            public_registration_verify_email: flag("PUBLIC_REGISTRATION_VERIFY_EMAIL", true)?,
            public_registration_email_filter: None,
            auth_password_policy: None,
            auth_login_attempts: None,
            rate_limits: Default::default(),
            project_name: None,
            project_color: None,
            project_logo: None,
            email_templates: None,
        };
        let email = crate::email::EmailConfig::from_lookup(&get)?;
        let defaults = HashParams::default();
        Ok(Self {
            tables: Tables::from_lookup(&get),
            secret,
            access_token_ttl: duration("ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: duration("REFRESH_TOKEN_TTL", "7d")?,
            refresh_token_absolute_ttl: duration("REFRESH_TOKEN_ABSOLUTE_TTL", "7d")?,
            refresh_grace: duration("REFRESH_TOKEN_GRACE_PERIOD", "10s")?,
            refresh_cookie,
            session_cookie,
            session_cookie_ttl: duration("SESSION_COOKIE_TTL", "1d")?,
            cors_allow_origins,
            hashing: HashParams {
                memory_kib: number("HASH_MEMORY_COST", defaults.memory_kib)?,
                iterations: number("HASH_TIME_COST", defaults.iterations)?,
                parallelism: number("HASH_PARALLELISM", defaults.parallelism)?,
            },
            query_limit_default: number("QUERY_LIMIT_DEFAULT", 100)?,
            query_limit_max: number("QUERY_LIMIT_MAX", 1000)?,
            items_scan_limit: number("ITEMS_SCAN_LIMIT", 10_000)?,
            // JSON held as serde values takes several times its text size: 8 MiB of item text
            // stays well inside a 256 MB function.
            items_scan_bytes: u64::from(number("ITEMS_SCAN_BYTES", 8 * 1024 * 1024)?),
            rate_limit_ipv6_prefix: match number("RATE_LIMIT_IPV6_PREFIX", 64)? {
                prefix @ 1..=128 => u8::try_from(prefix).unwrap_or(128),
                other => {
                    return Err(ConfigError::Invalid {
                        name: "RATE_LIMIT_IPV6_PREFIX",
                        reason: format!("{other} is not a prefix length from 1 to 128"),
                    });
                }
            },
            permissions_cache_ttl: match get("PERMISSIONS_CACHE_TTL").as_deref() {
                Some("0") => Duration::ZERO,
                _ => duration("PERMISSIONS_CACHE_TTL", "30s")?,
            },
            default_settings,
            email,
        })
    }
}

impl Config {
    /// For the functions that send mail (`AppState::from_env_with_mail`), at cold start: open
    /// registration with verification needs somewhere to send the user. Without `PUBLIC_URL`
    /// every verification mail would be dropped (no link can be built), while each registration
    /// still answered 204 — accounts nobody can activate. The template's
    /// `RegistrationVerificationNeedsPublicUrl` rule refuses it at deploy time. (A settings item
    /// that opens registration later is answered per request instead: the registration flows
    /// refuse while no link can be built.) Functions that send no mail do not need
    /// `PUBLIC_URL` and are not stopped by it.
    pub fn check_mail_links(&self) -> Result<(), ConfigError> {
        refuse_unsendable_verification(&self.default_settings, &self.email)
    }
}

fn refuse_unsendable_verification(
    settings: &Settings,
    email: &crate::email::EmailConfig,
) -> Result<(), ConfigError> {
    if settings.public_registration
        && settings.public_registration_verify_email
        && email.public_url.is_none()
    {
        return Err(ConfigError::Invalid {
            name: "PUBLIC_URL",
            reason: "it must be set (the API's URL) while PUBLIC_REGISTRATION and \
                     PUBLIC_REGISTRATION_VERIFY_EMAIL are true: verification links are built on it"
                .into(),
        });
    }
    Ok(())
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
    fn a_cold_start_error_prints_as_a_sentence() {
        let error = config_from(&[("SECRET", SECRET), ("ACCESS_TOKEN_TTL", "soon")]).unwrap_err();
        let printed = format!("{error:?}");
        assert_eq!(printed, error.to_string());
        assert!(
            printed.starts_with("configuration variable ACCESS_TOKEN_TTL is invalid: \"soon\""),
            "{printed}"
        );
    }

    #[test]
    fn open_verified_registration_needs_a_public_url() {
        let open = [
            ("SECRET", SECRET),
            ("PUBLIC_REGISTRATION", "true"),
            ("PUBLIC_REGISTRATION_VERIFY_EMAIL", "true"),
        ];
        // Functions that send no mail start without it (the template gives them none).
        let config = config_from(&open).unwrap();
        let error = config.check_mail_links().unwrap_err().to_string();
        assert!(error.contains("PUBLIC_URL"), "{error}");
        let mut with_url = open.to_vec();
        with_url.push(("PUBLIC_URL", "https://api.example.com"));
        assert!(config_from(&with_url).unwrap().check_mail_links().is_ok());
        // Closed registration, or open without verification, sends no verification mail.
        let closed = config_from(&[("SECRET", SECRET), ("PUBLIC_REGISTRATION", "false")]);
        assert!(closed.unwrap().check_mail_links().is_ok());
        let unverified = config_from(&[
            ("SECRET", SECRET),
            ("PUBLIC_REGISTRATION", "true"),
            ("PUBLIC_REGISTRATION_VERIFY_EMAIL", "false"),
        ]);
        assert!(unverified.unwrap().check_mail_links().is_ok());
    }

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
    fn secrets_manager_is_used_when_no_inline_secret_is_set() {
        let config =
            config_from(&[("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:k")]).unwrap();
        assert_eq!(
            config.secret,
            SecretSource::SecretsManager("arn:aws:secretsmanager:eu-west-1:1:secret:k".into())
        );
    }

    #[test]
    fn registration_defaults_come_from_the_environment() {
        let config = config_from(&[
            ("SECRET", SECRET),
            ("PUBLIC_REGISTRATION", "true"),
            ("PUBLIC_REGISTRATION_ROLE", "role-1"),
            ("PUBLIC_REGISTRATION_VERIFY_EMAIL", "false"),
        ])
        .unwrap();
        assert!(config.default_settings.public_registration);
        assert_eq!(
            config.default_settings.public_registration_role.as_deref(),
            Some("role-1")
        );
        assert!(!config.default_settings.public_registration_verify_email);
        assert!(config_from(&[("SECRET", SECRET), ("PUBLIC_REGISTRATION", "yes")]).is_err());
    }

    #[test]
    fn defaults_match_directus() {
        let config = config_from(&[("SECRET", SECRET)]).unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(
            config.refresh_token_absolute_ttl,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(config.refresh_grace, Duration::from_secs(10));
        assert_eq!(config.refresh_cookie.name, "directus_refresh_token");
        assert_eq!(config.refresh_cookie.same_site, "Lax");
        assert!(!config.refresh_cookie.secure);
        assert_eq!(config.session_cookie.name, "directus_session_token");
        assert_eq!(config.session_cookie.same_site, "Lax");
        assert!(!config.session_cookie.secure);
        assert_eq!(config.session_cookie_ttl, Duration::from_secs(86_400));
        assert!(config.cors_allow_origins.is_empty());
        assert_eq!(config.hashing, HashParams::default());
    }

    #[test]
    fn session_cookie_settings_are_parsed_strictly() {
        let error =
            config_from(&[("SECRET", SECRET), ("SESSION_COOKIE_SAME_SITE", "none")]).unwrap_err();
        assert!(
            error.to_string().contains("SESSION_COOKIE_SECURE=true"),
            "{error}"
        );
        assert!(config_from(&[("SECRET", SECRET), ("SESSION_COOKIE_SECURE", "yes")]).is_err());
        assert!(config_from(&[("SECRET", SECRET), ("SESSION_COOKIE_SAME_SITE", "loose")]).is_err());
        let config = config_from(&[
            ("SECRET", SECRET),
            ("SESSION_COOKIE_SAME_SITE", "None"),
            ("SESSION_COOKIE_SECURE", "true"),
            ("SESSION_COOKIE_NAME", "sid"),
            ("SESSION_COOKIE_DOMAIN", "example.com"),
            ("SESSION_COOKIE_TTL", "2h"),
            (
                "CORS_ALLOW_ORIGINS",
                " http://localhost:3000, https://app.example/ ",
            ),
        ])
        .unwrap();
        assert_eq!(config.session_cookie.name, "sid");
        assert_eq!(config.session_cookie.same_site, "None");
        assert_eq!(config.session_cookie.domain.as_deref(), Some("example.com"));
        assert_eq!(config.session_cookie_ttl, Duration::from_secs(7200));
        assert_eq!(
            config.cors_allow_origins,
            vec!["http://localhost:3000", "https://app.example"]
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = config_from(&[("SECRET", SECRET)]).unwrap();
        assert!(!format!("{config:?}").contains(SECRET));
    }

    #[test]
    fn cookie_flags_parse_strictly_and_refuse_insecure_cross_site_cookies() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut all = vec![("SECRET", SECRET)];
            all.extend_from_slice(pairs);
            config_from(&all)
        };
        assert!(
            with(&[("REFRESH_TOKEN_COOKIE_SECURE", "true")])
                .unwrap()
                .refresh_cookie
                .secure
        );
        for sloppy in ["TRUE", "1", "yes", "true "] {
            let error = with(&[("REFRESH_TOKEN_COOKIE_SECURE", sloppy)]).unwrap_err();
            assert!(
                error.to_string().contains("REFRESH_TOKEN_COOKIE_SECURE"),
                "{sloppy}"
            );
        }
        let error = with(&[("REFRESH_TOKEN_COOKIE_SAME_SITE", "None")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("REFRESH_TOKEN_COOKIE_SECURE=true"),
            "{error}"
        );
        let cross_site = with(&[
            ("REFRESH_TOKEN_COOKIE_SAME_SITE", "none"),
            ("REFRESH_TOKEN_COOKIE_SECURE", "true"),
        ])
        .unwrap();
        assert_eq!(cross_site.refresh_cookie.same_site, "None");
    }

    #[test]
    fn ipv6_prefixes_and_scan_bytes_are_configurable() {
        let config = config_from(&[("SECRET", SECRET)]).unwrap();
        assert_eq!(config.rate_limit_ipv6_prefix, 64);
        assert_eq!(config.items_scan_bytes, 8 * 1024 * 1024);
        assert!(config_from(&[("SECRET", SECRET), ("RATE_LIMIT_IPV6_PREFIX", "0")]).is_err());
        assert!(config_from(&[("SECRET", SECRET), ("RATE_LIMIT_IPV6_PREFIX", "129")]).is_err());
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        let error = config_from(&[("SECRET", SECRET), ("HASH_TIME_COST", "two")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("HASH_TIME_COST"), "{error}");
    }
}

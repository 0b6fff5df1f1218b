//! Outgoing mail: the transport (Amazon SES v2 when deployed, SMTP through `lettre` anywhere
//! else, configured like Directus' `EMAIL_TRANSPORT=smtp`), chosen in one place
//! ([`Mailer::from_config`]); the messages' templates ([`templates`]); the links they carry,
//! built only from allow-listed URLs ([`links`]).
//!
//! A send is bounded in time and never changes an answer: flows call [`Mailer::send_within`],
//! which logs a failure (never the message, its link or its token) and returns.

pub use crate::domain::links;
pub mod templates;

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::credential::config::{ConfigError, parse_duration};
use crate::domain::sensitive::Sensitive;

/// Which transport sends mail (`EMAIL_TRANSPORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// Nothing configured: every send fails (and is logged), as Directus with no transporter.
    None,
    Smtp(SmtpConfig),
    /// Amazon SES v2 `SendEmail`, credentials and region from the function's environment.
    Ses {
        configuration_set: Option<String>,
    },
}

/// Directus' `EMAIL_SMTP_*` settings.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `EMAIL_SMTP_SECURE=true`: TLS from the first byte (port 465).
    pub secure: bool,
    /// `EMAIL_SMTP_IGNORE_TLS=true`: plain SMTP, no STARTTLS (a local catcher only). Otherwise
    /// STARTTLS is required: a server that does not offer it is refused (no silent downgrade).
    pub ignore_tls: bool,
    /// `EMAIL_SMTP_NAME`: the name this client gives in EHLO.
    pub name: Option<String>,
    pub user: Option<String>,
    pub password: Option<Sensitive>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("secure", &self.secure)
            .field("ignore_tls", &self.ignore_tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Everything about mail and the links it carries, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub transport: TransportConfig,
    /// `EMAIL_FROM`: the sender address (`From: <project name> <EMAIL_FROM>`).
    pub from: String,
    /// `EMAIL_SEND_TIMEOUT`: the longest a send may take. Flows that may send answer when it is
    /// over, whether or not they sent, so the answer's timing does not depend on the address.
    pub send_timeout: Duration,
    /// `PUBLIC_URL`: where this API is served; the verification link's default base.
    pub public_url: Option<String>,
    /// `PASSWORD_RESET_URL_ALLOW_LIST`: the `reset_url`s a request may ask for.
    pub password_reset_allow_list: Vec<String>,
    /// `USER_REGISTER_URL_ALLOW_LIST`: the `verification_url`s a registration may ask for.
    pub register_allow_list: Vec<String>,
    /// `PASSWORD_RESET_TOKEN_TTL` (1h): a reset link's lifetime.
    pub password_reset_ttl: Duration,
    /// `EMAIL_VERIFICATION_TOKEN_TTL` (7d, Directus'): a verification link's lifetime.
    pub verification_ttl: Duration,
    /// `UNVERIFIED_USER_TTL` (7d): an account never verified is gone after this long, and its
    /// address free to register again.
    pub unverified_user_ttl: Duration,
    /// `HOSTED_PAGES` (true): this deployment serves the hosted pages under `/auth/ui/`, so
    /// their reset and verification pages are the links' defaults and always allowed.
    pub hosted_pages: bool,
}

/// The hosted pages that take a mail link's token.
pub const HOSTED_RESET_PAGE: &str = "/auth/ui/reset-password";
pub const HOSTED_VERIFY_PAGE: &str = "/auth/ui/verify-email";

impl EmailConfig {
    /// Where a reset link points when the request names no `reset_url`: the hosted reset page
    /// where the pages are served, else Directus' admin app page. `None` without `PUBLIC_URL`.
    pub fn default_reset_base(&self) -> Option<String> {
        let public = self.public_url.as_deref()?;
        Some(if self.hosted_pages {
            format!("{public}{HOSTED_RESET_PAGE}")
        } else {
            format!("{public}/admin/reset-password")
        })
    }

    /// Where a verification link points when the registration names no `verification_url`:
    /// the hosted verification page where the pages are served, else the API's own route.
    pub fn default_verification_base(&self) -> Option<String> {
        let public = self.public_url.as_deref()?;
        Some(if self.hosted_pages {
            format!("{public}{HOSTED_VERIFY_PAGE}")
        } else {
            format!("{public}/users/register/verify-email")
        })
    }
}

impl EmailConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name).as_deref() {
                None => Ok(false),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("{other:?} is not true or false"),
                }),
            }
        };
        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let raw = get(name).unwrap_or_else(|| default.to_owned());
            parse_duration(&raw)
                .filter(|d| !d.is_zero())
                .ok_or(ConfigError::Invalid {
                    name,
                    reason: format!("{raw:?} is not a positive duration like 30s, 15m or 7d"),
                })
        };
        let list = |name: &'static str| -> Result<Vec<String>, ConfigError> {
            let entries: Vec<String> = get(name)
                .map(|raw| {
                    raw.split(',')
                        .map(|e| e.trim().to_owned())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            for entry in &entries {
                if links::parse_http_url(entry).is_none() {
                    return Err(ConfigError::Invalid {
                        name,
                        reason: format!("{entry:?} is not an http(s) URL"),
                    });
                }
            }
            Ok(entries)
        };
        let transport = match get("EMAIL_TRANSPORT").as_deref().map(str::trim) {
            None => TransportConfig::None,
            Some("ses") => TransportConfig::Ses {
                configuration_set: get("EMAIL_SES_CONFIGURATION_SET"),
            },
            Some("smtp") => {
                let secure = flag("EMAIL_SMTP_SECURE")?;
                let ignore_tls = flag("EMAIL_SMTP_IGNORE_TLS")?;
                if secure && ignore_tls {
                    return Err(ConfigError::Invalid {
                        name: "EMAIL_SMTP_IGNORE_TLS",
                        reason: "cannot be true with EMAIL_SMTP_SECURE=true".into(),
                    });
                }
                let port =
                    match get("EMAIL_SMTP_PORT") {
                        None if secure => 465,
                        None => 587,
                        Some(raw) => raw.trim().parse().ok().filter(|p| *p > 0).ok_or(
                            ConfigError::Invalid {
                                name: "EMAIL_SMTP_PORT",
                                reason: format!("{raw:?} is not a port"),
                            },
                        )?,
                    };
                TransportConfig::Smtp(SmtpConfig {
                    host: get("EMAIL_SMTP_HOST").ok_or(ConfigError::Missing("EMAIL_SMTP_HOST"))?,
                    port,
                    secure,
                    ignore_tls,
                    name: get("EMAIL_SMTP_NAME"),
                    user: get("EMAIL_SMTP_USER"),
                    password: get("EMAIL_SMTP_PASSWORD").map(Sensitive::new),
                })
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "EMAIL_TRANSPORT",
                    reason: format!("{other:?} is not one of smtp, ses"),
                });
            }
        };
        let from = get("EMAIL_FROM").unwrap_or_else(|| "no-reply@example.com".into());
        if from.parse::<lettre::Address>().is_err() {
            return Err(ConfigError::Invalid {
                name: "EMAIL_FROM",
                reason: format!("{from:?} is not an email address"),
            });
        }
        let public_url = match get("PUBLIC_URL") {
            None => None,
            Some(raw) => Some(
                links::parse_http_url(&raw)
                    .map(|_| raw.trim().trim_end_matches('/').to_owned())
                    .ok_or(ConfigError::Invalid {
                        name: "PUBLIC_URL",
                        reason: format!("{raw:?} is not an http(s) URL"),
                    })?,
            ),
        };
        let hosted_pages = match get("HOSTED_PAGES").as_deref().map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "HOSTED_PAGES",
                    reason: format!("{other:?} is not true or false"),
                });
            }
        };
        let mut password_reset_allow_list = list("PASSWORD_RESET_URL_ALLOW_LIST")?;
        let mut register_allow_list = list("USER_REGISTER_URL_ALLOW_LIST")?;
        // The hosted pages' own reset and verification pages are always allowed where they are
        // served: the forgot-password and sign-up forms name them.
        if let (true, Some(public)) = (hosted_pages, &public_url) {
            for (allow_list, page) in [
                (&mut password_reset_allow_list, HOSTED_RESET_PAGE),
                (&mut register_allow_list, HOSTED_VERIFY_PAGE),
            ] {
                let own = format!("{public}{page}");
                if !allow_list.contains(&own) {
                    allow_list.push(own);
                }
            }
        }
        Ok(Self {
            transport,
            from,
            send_timeout: duration("EMAIL_SEND_TIMEOUT", "1s")?,
            public_url,
            password_reset_allow_list,
            register_allow_list,
            hosted_pages,
            password_reset_ttl: duration("PASSWORD_RESET_TOKEN_TTL", "1h")?,
            verification_ttl: duration("EMAIL_VERIFICATION_TOKEN_TTL", "7d")?,
            unverified_user_ttl: duration("UNVERIFIED_USER_TTL", "7d")?,
        })
    }
}

/// A rendered message to one recipient.
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Message {
    // The body carries a single-use link: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no mail transport is configured (EMAIL_TRANSPORT)")]
    NoTransport,
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the transport refused or failed: {0}")]
    Transport(String),
    #[error("the send did not finish in time")]
    TimedOut,
}

#[derive(Clone)]
enum Transport {
    None,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Ses {
        client: aws_sdk_sesv2::Client,
        configuration_set: Option<String>,
    },
}

/// Sends mail through the configured transport. Built once at cold start.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: String,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::None => "none",
            Transport::Smtp(_) => "smtp",
            Transport::Ses { .. } => "ses",
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The one place the transport is chosen. `sdk_config` (the AWS set-up the platform wires,
    /// see [`crate::store::sdk_config`]) is awaited for SES only.
    pub async fn from_config(
        config: &EmailConfig,
        sdk_config: impl std::future::Future<Output = aws_config::SdkConfig>,
    ) -> Result<Self, ConfigError> {
        let transport = match &config.transport {
            TransportConfig::None => Transport::None,
            TransportConfig::Smtp(smtp) => Transport::Smtp(smtp_transport(smtp, config)?),
            TransportConfig::Ses { configuration_set } => {
                let sdk = sdk_config.await;
                Transport::Ses {
                    client: aws_sdk_sesv2::Client::new(&sdk),
                    configuration_set: configuration_set.clone(),
                }
            }
        };
        Ok(Self {
            transport,
            from: config.from.clone(),
            timeout: config.send_timeout,
        })
    }

    /// A mailer without a transport: every send fails (handler tests, functions that never send).
    pub fn none(config: &EmailConfig) -> Self {
        Self {
            transport: Transport::None,
            from: config.from.clone(),
            timeout: config.send_timeout,
        }
    }

    /// Sends `message` as from `sender_name`, giving up at `deadline`. A failure is logged under
    /// `what` (never the message) and swallowed: the caller's answer does not change.
    pub async fn send_within(
        &self,
        message: Message,
        sender_name: &str,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) {
        let outcome = match tokio::time::timeout_at(deadline, self.send(message, sender_name)).await
        {
            Ok(result) => result,
            Err(_) => Err(MailError::TimedOut),
        };
        match outcome {
            Ok(()) => tracing::info!(mail = what, "mail sent"),
            Err(error) => tracing::error!(mail = what, %error, "could not send mail"),
        }
    }

    /// How long a send may take (`EMAIL_SEND_TIMEOUT`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn send(&self, message: Message, sender_name: &str) -> Result<(), MailError> {
        match &self.transport {
            Transport::None => Err(MailError::NoTransport),
            Transport::Smtp(smtp) => {
                let from = Mailbox::new(
                    Some(sender_name.to_owned()),
                    self.from
                        .parse()
                        .map_err(|e| MailError::Build(format!("{e}")))?,
                );
                let to: Mailbox = message
                    .to
                    .parse()
                    .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
                let email = lettre::Message::builder()
                    .from(from)
                    .to(to)
                    .subject(message.subject)
                    .multipart(MultiPart::alternative_plain_html(
                        message.text,
                        message.html,
                    ))
                    .map_err(|e| MailError::Build(e.to_string()))?;
                smtp.send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Transport(e.to_string()))
            }
            Transport::Ses {
                client,
                configuration_set,
            } => {
                use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent};
                let content = |data: String| {
                    Content::builder()
                        .data(data)
                        .charset("UTF-8")
                        .build()
                        .map_err(|e| MailError::Build(e.to_string()))
                };
                let simple = aws_sdk_sesv2::types::Message::builder()
                    .subject(content(message.subject)?)
                    .body(
                        Body::builder()
                            .text(content(message.text)?)
                            .html(content(message.html)?)
                            .build(),
                    )
                    .build();
                let from = Mailbox::new(
                    Some(sender_name.to_owned()),
                    self.from
                        .parse()
                        .map_err(|e| MailError::Build(format!("{e}")))?,
                );
                client
                    .send_email()
                    .from_email_address(from.to_string())
                    .destination(Destination::builder().to_addresses(message.to).build())
                    .content(EmailContent::builder().simple(simple).build())
                    .set_configuration_set_name(configuration_set.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        MailError::Transport(
                            aws_sdk_sesv2::error::DisplayErrorContext(e).to_string(),
                        )
                    })
            }
        }
    }
}

fn smtp_transport(
    smtp: &SmtpConfig,
    config: &EmailConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConfigError> {
    let tls = if smtp.ignore_tls {
        Tls::None
    } else {
        let parameters =
            TlsParameters::new(smtp.host.clone()).map_err(|e| ConfigError::Invalid {
                name: "EMAIL_SMTP_HOST",
                reason: format!("TLS cannot be set up for it: {e}"),
            })?;
        if smtp.secure {
            Tls::Wrapper(parameters)
        } else {
            Tls::Required(parameters)
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(tls)
        // Each SMTP command; the whole send is bounded by `send_within` too.
        .timeout(Some(config.send_timeout));
    if let Some(name) = &smtp.name {
        builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
            name.clone(),
        ));
    }
    if smtp.user.is_some() || smtp.password.is_some() {
        builder = builder.credentials(Credentials::new(
            smtp.user.clone().unwrap_or_default(),
            smtp.password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<EmailConfig, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EmailConfig::from_lookup(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn defaults_send_nothing_and_links_are_short_lived() {
        let config = config(&[]).unwrap();
        assert_eq!(config.transport, TransportConfig::None);
        assert_eq!(config.from, "no-reply@example.com");
        assert_eq!(config.password_reset_ttl, Duration::from_secs(3600));
        assert_eq!(config.verification_ttl, Duration::from_secs(7 * 86_400));
        assert!(config.password_reset_allow_list.is_empty());
    }

    #[test]
    fn smtp_is_configured_like_directus() {
        let config = config(&[
            ("EMAIL_TRANSPORT", "smtp"),
            ("EMAIL_SMTP_HOST", "smtp.example.com"),
            ("EMAIL_SMTP_SECURE", "true"),
            ("EMAIL_SMTP_USER", "mailer"),
            ("EMAIL_SMTP_PASSWORD", "s3cret-smtp-pa55"),
        ])
        .unwrap();
        let TransportConfig::Smtp(smtp) = &config.transport else {
            panic!("smtp expected")
        };
        assert_eq!(smtp.port, 465);
        assert!(smtp.secure);
        // The password is read, and no Debug output (a log line) shows it.
        assert_eq!(smtp.user.as_deref(), Some("mailer"));
        assert_eq!(
            smtp.password.as_ref().map(Sensitive::expose),
            Some("s3cret-smtp-pa55")
        );
        for shown in [
            format!("{smtp:?}"),
            format!("{config:?}"),
            format!("{config:#?}"),
        ] {
            assert!(shown.contains("mailer"), "{shown}");
            assert!(!shown.contains("s3cret-smtp-pa55"), "{shown}");
        }
        let plain = self::config(&[("EMAIL_TRANSPORT", "smtp"), ("EMAIL_SMTP_HOST", "h")]).unwrap();
        let TransportConfig::Smtp(smtp) = &plain.transport else {
            panic!("smtp expected")
        };
        assert_eq!(
            (smtp.port, smtp.secure, smtp.ignore_tls),
            (587, false, false)
        );
    }

    #[test]
    fn bad_settings_stop_the_function_naming_them() {
        for (pairs, name) in [
            (vec![("EMAIL_TRANSPORT", "sendmail")], "EMAIL_TRANSPORT"),
            (vec![("EMAIL_TRANSPORT", "smtp")], "EMAIL_SMTP_HOST"),
            (
                vec![
                    ("EMAIL_TRANSPORT", "smtp"),
                    ("EMAIL_SMTP_HOST", "h"),
                    ("EMAIL_SMTP_PORT", "x"),
                ],
                "EMAIL_SMTP_PORT",
            ),
            (vec![("EMAIL_FROM", "not an address")], "EMAIL_FROM"),
            (
                vec![("PASSWORD_RESET_URL_ALLOW_LIST", "javascript:alert(1)")],
                "PASSWORD_RESET_URL_ALLOW_LIST",
            ),
            (vec![("PUBLIC_URL", "ftp://x")], "PUBLIC_URL"),
            (
                vec![("PASSWORD_RESET_TOKEN_TTL", "0")],
                "PASSWORD_RESET_TOKEN_TTL",
            ),
        ] {
            let error = config(&pairs).unwrap_err().to_string();
            assert!(error.contains(name), "{error} should name {name}");
        }
    }

    #[tokio::test]
    async fn a_send_without_transport_fails_quietly_and_in_time() {
        let config = config(&[]).unwrap();
        let mailer = Mailer::from_config(&config, crate::store::sdk_config())
            .await
            .unwrap();
        let message = Message {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "secret link".into(),
            html: "secret link".into(),
        };
        assert_eq!(format!("{message:?}"), "Message(<redacted>)");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        mailer
            .send_within(message, "Directus", deadline, "test")
            .await;
    }

    #[tokio::test]
    async fn a_hanging_smtp_server_is_given_up_on_at_the_deadline() {
        // A server that accepts and never speaks.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let config = config(&[
            ("EMAIL_TRANSPORT", "smtp"),
            ("EMAIL_SMTP_HOST", "127.0.0.1"),
            ("EMAIL_SMTP_PORT", &port),
            ("EMAIL_SMTP_IGNORE_TLS", "true"),
            ("EMAIL_SEND_TIMEOUT", "5s"),
        ])
        .unwrap();
        let mailer = Mailer::from_config(&config, crate::store::sdk_config())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let message = Message {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
        };
        mailer
            .send_within(message, "Directus", deadline, "test")
            .await;
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[cfg(test)]
mod hosted_page_links {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> EmailConfig {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EmailConfig::from_lookup(&|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    #[test]
    fn the_hosted_pages_are_the_default_links_and_allowed() {
        let served = config(&[("PUBLIC_URL", "https://api.example.com/prod/")]);
        assert_eq!(
            served.default_reset_base().as_deref(),
            Some("https://api.example.com/prod/auth/ui/reset-password")
        );
        assert_eq!(
            served.default_verification_base().as_deref(),
            Some("https://api.example.com/prod/auth/ui/verify-email")
        );
        assert!(links::is_allowed(
            "https://api.example.com/prod/auth/ui/reset-password",
            &served.password_reset_allow_list
        ));
        assert!(links::is_allowed(
            "https://api.example.com/prod/auth/ui/verify-email",
            &served.register_allow_list
        ));
        // Only those pages: not another path, not another origin.
        assert!(!links::is_allowed(
            "https://api.example.com/prod/auth/ui/sign-in",
            &served.password_reset_allow_list
        ));
        assert!(!links::is_allowed(
            "https://evil.example/prod/auth/ui/reset-password",
            &served.password_reset_allow_list
        ));

        // Listed already: not twice; other entries kept.
        let listed = config(&[
            ("PUBLIC_URL", "https://api.example.com"),
            (
                "PASSWORD_RESET_URL_ALLOW_LIST",
                "https://app.example.com/reset,https://api.example.com/auth/ui/reset-password",
            ),
        ]);
        assert_eq!(listed.password_reset_allow_list.len(), 2);

        // Without the pages: Directus' defaults, nothing added.
        let plain = config(&[
            ("PUBLIC_URL", "https://api.example.com"),
            ("HOSTED_PAGES", "false"),
        ]);
        assert_eq!(
            plain.default_reset_base().as_deref(),
            Some("https://api.example.com/admin/reset-password")
        );
        assert_eq!(
            plain.default_verification_base().as_deref(),
            Some("https://api.example.com/users/register/verify-email")
        );
        assert!(plain.password_reset_allow_list.is_empty());
        assert!(plain.register_allow_list.is_empty());

        // Without PUBLIC_URL there is no default at all, and nothing is added.
        let nowhere = config(&[]);
        assert_eq!(nowhere.default_reset_base(), None);
        assert!(nowhere.password_reset_allow_list.is_empty());
        assert!(
            EmailConfig::from_lookup(&|name| (name == "HOSTED_PAGES").then(|| "yes".into()))
                .is_err()
        );
    }
}

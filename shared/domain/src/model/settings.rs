//! The project settings (Directus' `directus_settings`), as stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub public_registration: bool,
    #[serde(default)]
    pub public_registration_role: Option<String>,
    #[serde(default = "default_true")]
    pub public_registration_verify_email: bool,
    #[serde(default)]
    pub public_registration_email_filter: Option<Value>,
    /// A regular expression new passwords must match (Directus' `auth_password_policy`).
    #[serde(default)]
    pub auth_password_policy: Option<String>,
    /// Suspend an account after this many failed logins in a row. Off by default: it lets
    /// anyone who knows an address lock its owner out (the progressive delay is always on).
    #[serde(default)]
    pub auth_login_attempts: Option<u32>,
    /// Requests per client address, checked before any other work.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// The sender name of mail (`From: <project_name> <EMAIL_FROM>`) and `{{ project_name }}`
    /// in its templates; Directus' default is "Directus".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    /// The hosted pages' brand colour (`#rgb` or `#rrggbb`, Directus' `project_color`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_color: Option<String>,
    /// The hosted pages' logo: a path on this deployment (the pages' CSP loads nothing from
    /// elsewhere), Directus' `project_logo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_logo: Option<String>,
    /// Overrides of the mail templates by name (`password-reset`, `user-registration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_templates: Option<TemplateOverrides>,
}

/// `points` requests per `duration` seconds per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub points: u32,
    pub duration: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Directus' registration limiter default: 5 per minute.
    #[serde(default = "RateLimits::default_register")]
    pub register: RateLimit,
    #[serde(default = "RateLimits::default_login")]
    pub login: RateLimit,
    #[serde(default = "RateLimits::default_refresh")]
    pub refresh: RateLimit,
    /// `POST /auth/password/request` and `/auth/password/reset` per client address.
    #[serde(default = "RateLimits::default_password_request")]
    pub password_request: RateLimit,
    /// Mails to one recipient address (verification and reset alike). Past it the request is
    /// answered as usual and no mail is sent, so the limit reveals nothing about the address.
    #[serde(default = "RateLimits::default_email_recipient")]
    pub email_recipient: RateLimit,
}

impl RateLimits {
    fn default_register() -> RateLimit {
        RateLimit {
            points: 5,
            duration: 60,
        }
    }

    fn default_login() -> RateLimit {
        RateLimit {
            points: 30,
            duration: 60,
        }
    }

    fn default_refresh() -> RateLimit {
        RateLimit {
            points: 60,
            duration: 60,
        }
    }

    fn default_password_request() -> RateLimit {
        RateLimit {
            points: 5,
            duration: 60,
        }
    }

    fn default_email_recipient() -> RateLimit {
        RateLimit {
            points: 3,
            duration: 900,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            register: Self::default_register(),
            login: Self::default_login(),
            refresh: Self::default_refresh(),
            password_request: Self::default_password_request(),
            email_recipient: Self::default_email_recipient(),
        }
    }
}

fn default_true() -> bool {
    true
}

/// Directus' defaults (`20240422A-public-registration`): registration off, verification on.
impl Default for Settings {
    fn default() -> Self {
        Self {
            public_registration: false,
            public_registration_role: None,
            public_registration_verify_email: true,
            public_registration_email_filter: None,
            auth_password_policy: None,
            auth_login_attempts: None,
            rate_limits: RateLimits::default(),
            project_name: None,
            project_color: None,
            project_logo: None,
            email_templates: None,
        }
    }
}

/// An override of some parts of one template (settings `email_templates.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

pub type TemplateOverrides = BTreeMap<String, TemplateOverride>;

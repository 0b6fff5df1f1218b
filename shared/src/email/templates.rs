//! The messages' subject, text and HTML. Directus' wording by default (files beside this one);
//! the settings item may override any part (`email_templates` in `infra/seed.json`), written
//! with the same `{{ url }}` placeholders. HTML is auto-escaped; the link is built by the flow
//! from an allow-listed URL, never taken from a template.

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::domain::model::TemplateOverrides;

/// The mails this API sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PasswordReset,
    UserRegistration,
    /// A notice: two-factor sign-in was turned on (no link).
    TwoFactorEnabled,
    /// A notice: two-factor sign-in was turned off (no link).
    TwoFactorDisabled,
    /// A notice: new recovery codes replaced the old ones (no link).
    RecoveryCodesReplaced,
}

impl Kind {
    /// Directus' template name, also the key of an override in the settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::PasswordReset => "password-reset",
            Self::UserRegistration => "user-registration",
            Self::TwoFactorEnabled => "two-factor-enabled",
            Self::TwoFactorDisabled => "two-factor-disabled",
            Self::RecoveryCodesReplaced => "recovery-codes-replaced",
        }
    }

    fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::PasswordReset => (
                include_str!("templates/password-reset.subject"),
                include_str!("templates/password-reset.txt"),
                include_str!("templates/password-reset.html"),
            ),
            Self::UserRegistration => (
                include_str!("templates/user-registration.subject"),
                include_str!("templates/user-registration.txt"),
                include_str!("templates/user-registration.html"),
            ),
            Self::TwoFactorEnabled => (
                include_str!("templates/two-factor-enabled.subject"),
                include_str!("templates/two-factor-enabled.txt"),
                include_str!("templates/two-factor-enabled.html"),
            ),
            Self::TwoFactorDisabled => (
                include_str!("templates/two-factor-disabled.subject"),
                include_str!("templates/two-factor-disabled.txt"),
                include_str!("templates/two-factor-disabled.html"),
            ),
            Self::RecoveryCodesReplaced => (
                include_str!("templates/recovery-codes-replaced.subject"),
                include_str!("templates/recovery-codes-replaced.txt"),
                include_str!("templates/recovery-codes-replaced.html"),
            ),
        }
    }
}

/// What a template may use. No `Debug`: the link carries a token, which must never be logged.
#[derive(Clone, Serialize)]
pub struct Data<'a> {
    pub url: &'a str,
    pub email: &'a str,
    pub project_name: &'a str,
    /// The link's lifetime in words ("1 hour", "7 days").
    pub expires_in: String,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
}

/// A rendered message (no `Debug`, for the same reason).
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `kind` with `data`, each part from its override when one is set and renders, else
/// from the default (a broken override is logged, never fatal: the mail still goes out).
pub fn render(kind: Kind, data: &Data<'_>, overrides: Option<&TemplateOverrides>) -> Rendered {
    let (subject, text, html) = kind.defaults();
    let custom = overrides.and_then(|o| o.get(kind.name()));
    let part = |name: &str, default: &str, custom: Option<&String>| -> String {
        if let Some(source) = custom {
            match render_one(name, source, data) {
                Ok(out) => return out,
                Err(error) => tracing::warn!(
                    template = kind.name(),
                    part = name,
                    %error,
                    "the email template override does not render; using the default"
                ),
            }
        }
        render_one(name, default, data).unwrap_or_else(|error| {
            tracing::error!(template = kind.name(), %error, "a default email template does not render");
            String::new()
        })
    };
    Rendered {
        subject: part(
            "subject.txt",
            subject,
            custom.and_then(|c| c.subject.as_ref()),
        )
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned(),
        text: part("body.txt", text, custom.and_then(|c| c.text.as_ref())),
        html: part("body.html", html, custom.and_then(|c| c.html.as_ref())),
    }
}

fn render_one(name: &str, source: &str, data: &Data<'_>) -> Result<String, minijinja::Error> {
    let html = name.ends_with(".html");
    let mut context = minijinja::Value::from_serialize(data);
    if html {
        // The link is ours (an allow-listed URL and a token, serialised by the url crate): in
        // HTML only its `&` and quotes need escaping. minijinja's escaping would also turn every
        // `/` into `&#x2f;`, which is valid but makes links that some mail filters distrust.
        let escaped = data
            .url
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        context = minijinja::context! {
            url => minijinja::Value::from_safe_string(escaped),
            ..context
        };
    }
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    let template = env.template_from_named_str(name, source)?;
    template.render(context)
}

/// A lifetime in words for the templates, rounded in its largest unit ("1 hour", "7 days").
pub fn in_words(duration: std::time::Duration) -> String {
    let secs = duration.as_secs().max(1);
    let (size, unit) = [
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ]
    .into_iter()
    .find(|(size, _)| secs >= *size)
    .unwrap_or((1, "second"));
    let n = (secs + size / 2) / size;
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::TemplateOverride;

    fn data<'a>(url: &'a str) -> Data<'a> {
        Data {
            url,
            email: "a@example.com",
            project_name: "Directus",
            expires_in: "1 hour".into(),
            first_name: None,
            last_name: None,
        }
    }

    #[test]
    fn defaults_use_directus_wording_and_carry_the_link() {
        let out = render(
            Kind::PasswordReset,
            &data("https://x.example/r?token=a&b"),
            None,
        );
        assert_eq!(out.subject, "Password Reset Request");
        assert!(out.text.contains("https://x.example/r?token=a&b"));
        assert!(
            out.html
                .contains("href=\"https://x.example/r?token=a&amp;b\""),
            "{}",
            out.html
        );
        assert!(out.text.contains("expire in 1 hour"));
        let out = render(Kind::UserRegistration, &data("https://x.example/v"), None);
        assert_eq!(out.subject, "Verify your email address");
        assert!(
            out.html
                .contains("Thanks for registering at <i>Directus</i>")
        );
    }

    #[test]
    fn overrides_replace_parts_and_html_is_escaped() {
        let mut overrides = TemplateOverrides::new();
        overrides.insert(
            "password-reset".into(),
            TemplateOverride {
                subject: Some("Reset for {{ email }}".into()),
                text: None,
                html: Some("<a href=\"{{ url }}\">{{ project_name }}</a>".into()),
            },
        );
        let mut d = data("https://x.example/r");
        d.project_name = "<script>";
        let out = render(Kind::PasswordReset, &d, Some(&overrides));
        assert_eq!(out.subject, "Reset for a@example.com");
        assert!(out.html.contains("&lt;script&gt;"), "{}", out.html);
        assert!(out.text.contains("We have received a request"));
    }

    #[test]
    fn a_broken_override_falls_back_to_the_default() {
        let mut overrides = TemplateOverrides::new();
        overrides.insert(
            "user-registration".into(),
            TemplateOverride {
                subject: Some("{{ unclosed".into()),
                ..Default::default()
            },
        );
        let out = render(Kind::UserRegistration, &data("u"), Some(&overrides));
        assert_eq!(out.subject, "Verify your email address");
    }

    #[test]
    fn lifetimes_read_naturally() {
        use std::time::Duration;
        assert_eq!(in_words(Duration::from_secs(3600)), "1 hour");
        assert_eq!(in_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(in_words(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
        assert_eq!(in_words(Duration::from_secs(7 * 86_400 - 1)), "7 days");
        assert_eq!(in_words(Duration::from_secs(1800)), "30 minutes");
    }
}

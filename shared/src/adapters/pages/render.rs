//! The HTML of each page and the theme stylesheet. Every value from the settings or the
//! configuration is escaped ([`escape_html`]) or checked against a strict shape first (colour,
//! logo path), so a settings item cannot inject markup, script or style.

use std::fmt::Write;

use super::site::{Page, PagesConfig, SCRIPT_PATH, STYLESHEET_PATH, THEME_PATH};
use crate::domain::model::Settings;

/// Directus' defaults for a project without branding.
const DEFAULT_NAME: &str = "Directus";
const DEFAULT_COLOR: Rgb = Rgb(0x66, 0x44, 0xff);
/// Body text and the fallback for links when the brand colour is too light on white.
const TEXT_COLOR: Rgb = Rgb(0x1f, 0x29, 0x33);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
/// WCAG AA for normal text.
const MIN_CONTRAST: f64 = 4.5;
const MAX_NAME_CHARS: usize = 100;
const MAX_LOGO_CHARS: usize = 512;

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(u8, u8, u8);

impl Rgb {
    /// `#rgb` or `#rrggbb` only: the value goes into a stylesheet.
    fn parse(raw: &str) -> Option<Self> {
        let hex = raw.trim().strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |s: &str| u8::from_str_radix(s, 16).ok();
        match hex.len() {
            3 => {
                let d: Vec<u8> = hex
                    .chars()
                    .map(|c| channel(&format!("{c}{c}")))
                    .collect::<Option<_>>()?;
                Some(Self(d[0], d[1], d[2]))
            }
            6 => Some(Self(
                channel(&hex[0..2])?,
                channel(&hex[2..4])?,
                channel(&hex[4..6])?,
            )),
            _ => None,
        }
    }

    fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// What the settings say the pages look like (Directus' `project_name`, `project_color`,
/// `project_logo`), reduced to values that are safe to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Branding {
    pub name: String,
    pub color: Rgb,
    /// A path on this deployment: the CSP loads images from here only, so a logo elsewhere
    /// would be blocked anyway and is left out.
    pub logo: Option<String>,
}

fn same_deployment_path(raw: &str) -> bool {
    raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= MAX_LOGO_CHARS
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-._~%?=&+".contains(c))
}

impl From<&Settings> for Branding {
    fn from(settings: &Settings) -> Self {
        let name = settings
            .project_name
            .as_deref()
            .map(|name| {
                name.chars()
                    .filter(|c| !crate::adapters::http::is_control(*c))
                    .take(MAX_NAME_CHARS)
                    .collect::<String>()
            })
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        Self {
            name,
            color: settings
                .project_color
                .as_deref()
                .and_then(Rgb::parse)
                .unwrap_or(DEFAULT_COLOR),
            logo: settings
                .project_logo
                .clone()
                .filter(|logo| same_deployment_path(logo)),
        }
    }
}

/// The theme stylesheet: the brand colour, with text on it and links in it readable (WCAG AA)
/// whatever colour the settings chose.
pub fn theme(branding: &Branding) -> String {
    let brand = branding.color;
    let on_brand = if brand.contrast(WHITE) >= brand.contrast(TEXT_COLOR) {
        WHITE
    } else {
        TEXT_COLOR
    };
    let link = if brand.contrast(WHITE) >= MIN_CONTRAST {
        brand
    } else {
        TEXT_COLOR
    };
    format!(
        ":root {{\n  --brand: {};\n  --on-brand: {};\n  --link: {};\n}}\n",
        brand.css(),
        on_brand.css(),
        link.css()
    )
}

struct Content {
    title: &'static str,
    body: String,
}

fn field(id: &str, label: &str, kind: &str, autocomplete: &str, hint: Option<&str>) -> String {
    let described = hint.map_or(String::new(), |_| {
        format!(" aria-describedby=\"{id}-hint\"")
    });
    let hint = hint.map_or(String::new(), |hint| {
        format!("\n    <p class=\"hint\" id=\"{id}-hint\">{hint}</p>")
    });
    format!(
        "  <div class=\"field\">\n    <label for=\"{id}\">{label}</label>{hint}\n    \
         <input id=\"{id}\" name=\"{id}\" type=\"{kind}\" autocomplete=\"{autocomplete}\" \
         required{described}>\n  </div>\n"
    )
}

/// A field for a one-time code: text (a code may start with 0, and a recovery code has
/// letters), offered to password managers and the phone keyboard as a one-time code; digits
/// only on the keypad when `numeric`.
fn code_field(id: &str, label: &str, hint: Option<&str>, numeric: bool) -> String {
    let described = hint.map_or(String::new(), |_| {
        format!(" aria-describedby=\"{id}-hint\"")
    });
    let hint = hint.map_or(String::new(), |hint| {
        format!("\n    <p class=\"hint\" id=\"{id}-hint\">{hint}</p>")
    });
    let (inputmode, autocomplete) = if numeric {
        ("numeric", "one-time-code")
    } else {
        ("text", "off")
    };
    format!(
        "  <div class=\"field\">\n    <label for=\"{id}\">{label}</label>{hint}\n    \
         <input id=\"{id}\" name=\"{id}\" type=\"text\" inputmode=\"{inputmode}\" \
         autocomplete=\"{autocomplete}\" autocapitalize=\"none\" spellcheck=\"false\" \
         required{described}>\n  </div>\n"
    )
}

/// A form shown only once the script asks for it (`hidden` until then), with a second,
/// plain button (`type="button"`) under the submit button.
fn step_form(
    id: &str,
    action: &str,
    intro: &str,
    field: String,
    submit: &str,
    other: &str,
) -> String {
    format!(
        "<form id=\"{id}\" method=\"post\" action=\"{action}\" hidden>\n  \
         <p>{intro}</p>\n{field}  <button type=\"submit\">{submit}</button>\n  {other}\n\
         </form>\n"
    )
}

const PASSWORD_HINT: &str =
    "Use a long password that is not used elsewhere; common passwords are refused.";

fn form(id: &str, action: &str, fields: &[String], submit: &str) -> String {
    // Without the script, the form would post to its own page, which answers 405: no secret
    // ever lands in a URL (no GET form), and nothing is sent anywhere else.
    format!(
        "<form id=\"{id}\" method=\"post\" action=\"{action}\">\n{}  \
         <button type=\"submit\">{submit}</button>\n</form>\n",
        fields.concat()
    )
}

/// `page`, keeping the return address across the link (query-encoded here; the caller escapes
/// the whole for HTML).
fn link(page: &str, redirect: Option<&str>) -> String {
    match redirect {
        Some(redirect) => format!(
            "{page}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect", redirect)
                .finish()
        ),
        None => page.to_owned(),
    }
}

fn content(
    page: Page,
    settings: &Settings,
    config: &PagesConfig,
    redirect: Option<&str>,
) -> Content {
    let email = || field("email", "Email", "email", "username", None);
    match page {
        Page::SignIn => {
            let sign_up = if settings.public_registration {
                format!(
                    "\n  <a href=\"{}\">Create an account</a>",
                    escape_html(&link("sign-up", redirect))
                )
            } else {
                String::new()
            };
            // The second step, for an account with two-factor sign-in: the script shows one of
            // these when the API answers INVALID_OTP, and sends email, password and the code.
            let app_code = step_form(
                "otp-form",
                "sign-in",
                "Two-factor sign-in is on for this account. Enter the code your \
                 authenticator app shows now.",
                code_field("otp", "Code from the authenticator app", None, true),
                "Verify",
                "<button type=\"button\" id=\"use-recovery-code\" class=\"link-button\">\
                 Use a recovery code instead</button>",
            );
            let recovery_code = step_form(
                "recovery-form",
                "sign-in",
                "Enter one of the recovery codes you saved when you set up two-factor \
                 sign-in. Each code works once.",
                code_field("recovery-code", "Recovery code", None, false),
                "Verify",
                "<button type=\"button\" id=\"use-app-code\" class=\"link-button\">\
                 Use a code from the app instead</button>",
            );
            Content {
                title: "Sign in",
                body: format!(
                    "{}{app_code}{recovery_code}<nav class=\"links\" aria-label=\"Account\">\n  \
                     <a href=\"forgot-password\">Forgot your password?</a>{sign_up}\n</nav>\n",
                    form(
                        "sign-in-form",
                        "sign-in",
                        &[
                            email(),
                            field("password", "Password", "password", "current-password", None)
                        ],
                        "Sign in"
                    )
                ),
            }
        }
        Page::SignUp if !settings.public_registration => Content {
            title: "Sign up",
            body: "<p class=\"notice\" id=\"registration-closed\">Registration is closed. \
                   Ask an administrator for an account.</p>\n\
                   <nav class=\"links\" aria-label=\"Account\">\n  \
                   <a href=\"sign-in\">Sign in</a>\n</nav>\n"
                .into(),
        },
        Page::SignUp => Content {
            title: "Sign up",
            body: format!(
                "{}<nav class=\"links\" aria-label=\"Account\">\n  \
                 <a href=\"{}\">Already have an account? Sign in</a>\n</nav>\n",
                form(
                    "sign-up-form",
                    "sign-up",
                    &[
                        email(),
                        field(
                            "password",
                            "Password",
                            "password",
                            "new-password",
                            Some(PASSWORD_HINT)
                        )
                    ],
                    "Create account"
                ),
                escape_html(&link("sign-in", redirect))
            ),
        },
        Page::Posts => Content {
            title: "Signed in",
            body: format!(
                "<section aria-labelledby=\"items-heading\">\n  \
                 <h2 id=\"items-heading\">{} you can read</h2>\n  \
                 <div id=\"items\" aria-busy=\"true\"><p>Loading…</p></div>\n</section>\n\
                 <nav class=\"links\" aria-label=\"Account\">\n  \
                 <a href=\"account\">Your account and two-factor sign-in</a>\n</nav>\n\
                 <button type=\"button\" id=\"sign-out\" class=\"secondary\">Sign out</button>\n",
                escape_html(&config.collection)
            ),
        },
        Page::ForgotPassword => Content {
            title: "Forgot your password?",
            body: format!(
                "<p>Enter your email address and we will send you a link to choose a new \
                 password.</p>\n{}<nav class=\"links\" aria-label=\"Account\">\n  \
                 <a href=\"sign-in\">Back to sign in</a>\n</nav>\n",
                form(
                    "forgot-form",
                    "forgot-password",
                    &[email()],
                    "Send the link"
                )
            ),
        },
        Page::ResetPassword => Content {
            title: "Choose a new password",
            body: format!(
                "{}<nav class=\"links\" aria-label=\"Account\">\n  \
                 <a href=\"sign-in\">Back to sign in</a>\n</nav>\n",
                form(
                    "reset-form",
                    "reset-password",
                    &[field(
                        "password",
                        "New password",
                        "password",
                        "new-password",
                        Some(PASSWORD_HINT)
                    )],
                    "Save the new password"
                )
            ),
        },
        Page::Account => Content {
            title: "Your account",
            body: account(),
        },
        // Opening the link verifies nothing (a mail scanner opens it too): the button does.
        Page::VerifyEmail => Content {
            title: "Verify your email",
            body: format!(
                "<p id=\"verify-intro\">Press the button to verify your email address and \
                 finish creating your account. If you did not register, close this page: \
                 nothing happens until the button is pressed.</p>\n{}\
                 <nav class=\"links\" aria-label=\"Account\">\n  \
                 <a href=\"sign-in\">Sign in</a>\n</nav>\n",
                form(
                    "verify-form",
                    "verify-email",
                    &[],
                    "Verify my email address"
                )
            ),
        },
    }
}

/// The signed-in account page: whether two-factor sign-in is on, and the steps to turn it on
/// (password, QR code and key, a code, the recovery codes shown once) or off (a code). Every
/// part but the status is `hidden` until the script, which asked the API, shows it.
fn account() -> String {
    let start = format!(
        "<form id=\"tfa-start-form\" method=\"post\" action=\"account\" hidden>\n  \
         <p>With two-factor sign-in, signing in also asks for a code from an authenticator app \
         on your phone: your password alone is no longer enough.</p>\n{}  \
         <button type=\"submit\">Set up two-factor sign-in</button>\n</form>\n",
        field(
            "password",
            "Password",
            "password",
            "current-password",
            Some("Enter your password to start.")
        )
    );
    let setup = format!(
        "<div id=\"tfa-setup\" hidden>\n  <ol class=\"steps\">\n    \
         <li>Scan this QR code with your authenticator app.\n      \
         <img id=\"tfa-qr\" class=\"qr\" alt=\"QR code that adds this account to an \
         authenticator app\" width=\"200\" height=\"200\"></li>\n    \
         <li>Or type this key into the app: \
         <code id=\"tfa-secret\" class=\"secret\"></code></li>\n    \
         <li>Enter the code the app shows for this account.</li>\n  </ol>\n\
         <form id=\"tfa-enable-form\" method=\"post\" action=\"account\">\n{}  \
         <button type=\"submit\">Turn on two-factor sign-in</button>\n  \
         <button type=\"button\" id=\"tfa-cancel\" class=\"secondary\">Cancel</button>\n\
         </form>\n</div>\n",
        code_field("tfa-code", "Code from the authenticator app", None, true)
    );
    let recovery = "<div id=\"tfa-recovery\" hidden>\n  \
         <h3 id=\"recovery-heading\" tabindex=\"-1\">Your recovery codes</h3>\n  \
         <p>If you lose your phone, each of these codes signs you in once instead of a code \
         from the app. Keep them somewhere safe, such as a password manager: they are shown \
         only now.</p>\n  \
         <ul id=\"tfa-recovery-codes\" class=\"recovery-codes\" \
         aria-labelledby=\"recovery-heading\"></ul>\n  \
         <button type=\"button\" id=\"tfa-recovery-done\">I have saved them</button>\n\
         </div>\n";
    let disable = format!(
        "<form id=\"tfa-disable-form\" method=\"post\" action=\"account\" hidden>\n{}  \
         <button type=\"submit\">Turn off two-factor sign-in</button>\n</form>\n",
        code_field(
            "tfa-disable-code",
            "Code from the authenticator app",
            Some("Or one of your recovery codes."),
            false
        )
    );
    format!(
        "<section aria-labelledby=\"tfa-heading\">\n  \
         <h2 id=\"tfa-heading\">Two-factor sign-in</h2>\n  \
         <p id=\"tfa-status\" aria-busy=\"true\">Checking…</p>\n\
         {start}{setup}{recovery}{disable}</section>\n\
         <nav class=\"links\" aria-label=\"Account\">\n  \
         <a href=\"posts\">Back to your items</a>\n</nav>\n\
         <button type=\"button\" id=\"sign-out\" class=\"secondary\">Sign out</button>\n"
    )
}

/// A whole page: the shared frame (brand header, live regions for messages) around its content.
pub fn page(
    page: Page,
    branding: &Branding,
    settings: &Settings,
    config: &PagesConfig,
    redirect: Option<&str>,
) -> String {
    let Content { title, body } = content(page, settings, config, redirect);
    let name = escape_html(&branding.name);
    let logo = branding.logo.as_deref().map_or(String::new(), |logo| {
        format!(
            "<img class=\"logo\" src=\"{}\" alt=\"\" width=\"32\" height=\"32\">",
            escape_html(logo)
        )
    });
    let mut data = format!(" data-page=\"{}\"", page.slug());
    let _ = write!(
        data,
        " data-collection=\"{}\"",
        escape_html(&config.collection)
    );
    let _ = write!(
        data,
        " data-verify-email=\"{}\"",
        settings.public_registration_verify_email
    );
    if let Some(url) = &config.reset_url {
        let _ = write!(data, " data-reset-url=\"{}\"", escape_html(url));
    }
    if let Some(url) = &config.verification_url {
        let _ = write!(data, " data-verification-url=\"{}\"", escape_html(url));
    }
    if let Some(url) = redirect {
        let _ = write!(data, " data-redirect=\"{}\"", escape_html(url));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · {name}</title>\n\
         <link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\">\n\
         <link rel=\"stylesheet\" href=\"{THEME_PATH}\">\n\
         <script src=\"{SCRIPT_PATH}\" defer></script>\n</head>\n<body{data}>\n\
         <header class=\"brand\">\n  <a class=\"brand-link\" href=\"sign-in\">{logo}\
         <span>{name}</span></a>\n</header>\n\
         <main id=\"main\">\n<h1>{title}</h1>\n\
         <div id=\"error\" class=\"message error\" role=\"alert\" tabindex=\"-1\"></div>\n\
         <div id=\"notice\" class=\"message notice\" role=\"status\"></div>\n\
         {body}</main>\n</body>\n</html>\n"
    )
}

//! What the hosted pages are: where they live, which pages and assets there are, and their
//! configuration (the collection of the posts page, the redirects allowed after sign-in).

use crate::domain::error::ApiError;
use crate::platform::state::AppState;

/// Where the pages live; every link between them starts with it.
pub const PREFIX: &str = "/auth/ui/";
/// The prefix without its slash, also a route of the pages function (it leads to sign-in).
pub(super) const ROOT: &str = "/auth/ui";

/// Stricter than asked of us: nothing is allowed unless named (`default-src 'none'`), the
/// script, styles, images (the logo) and API calls only from this deployment. Images may also
/// be `blob:` URLs: the account page shows the two-factor QR code, drawn by this function
/// (`POST /auth/ui/account/qr`), from one; only a script of this origin can make such a URL,
/// and an image runs no script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// What the pages need from the deployment besides the settings.
#[derive(Debug, Clone)]
pub struct PagesConfig {
    /// The collection the signed-in page lists (`PAGES_COLLECTION`, default `posts`).
    pub collection: String,
    /// The reset page's address, when `PASSWORD_RESET_URL_ALLOW_LIST` allows it: the
    /// forgot-password form sends it as `reset_url`, so the mail links back to these pages.
    pub reset_url: Option<String>,
    /// The verification page's address, when `USER_REGISTER_URL_ALLOW_LIST` allows it: sign-up
    /// sends it as `verification_url`.
    pub verification_url: Option<String>,
    /// Where sign-in and sign-up may send the user back to (`PAGES_REDIRECT_ALLOW_LIST`, as
    /// Directus' `AUTH_<NAME>_REDIRECT_ALLOW_LIST`: an entry's origin and path must match).
    /// Empty: no `redirect` is accepted.
    pub redirect_allow_list: Vec<String>,
}

/// The longest `redirect` accepted (as a mail link's URL).
pub const MAX_REDIRECT_CHARS: usize = 2048;

/// `PAGES_COLLECTION` must look like a collection name: it is written into a page and a URL.
fn valid_collection(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `scheme://host[:port]` of an absolute URL, lower-cased parts left as given.
fn origin(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..url.len() - rest.len() + end];
    (end > 0).then_some(origin.trim_end_matches('/'))
}

impl PagesConfig {
    /// No collection page configured beyond the default, no links, no return addresses.
    pub(super) fn empty() -> Self {
        Self {
            collection: "posts".into(),
            reset_url: None,
            verification_url: None,
            redirect_allow_list: Vec::new(),
        }
    }

    pub fn from_state(state: &AppState) -> Result<Self, crate::platform::config::ConfigError> {
        Self::from_lookup(
            &|name| std::env::var(name).ok(),
            &state.config.email.password_reset_allow_list,
            &state.config.email.register_allow_list,
        )
    }

    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        reset_allow_list: &[String],
        register_allow_list: &[String],
    ) -> Result<Self, crate::platform::config::ConfigError> {
        let collection = get("PAGES_COLLECTION").unwrap_or_else(|| "posts".into());
        if !valid_collection(&collection) {
            return Err(crate::platform::config::ConfigError::Invalid {
                name: "PAGES_COLLECTION",
                reason: format!("{collection:?} is not a collection name"),
            });
        }
        // An allow-list entry naming one of these pages; of several, the one on PUBLIC_URL's
        // origin (these pages are served there), else the first.
        let public_origin = get("PUBLIC_URL")
            .as_deref()
            .and_then(origin)
            .map(str::to_owned);
        let ours = |list: &[String], page: &str| {
            let suffix = format!("{PREFIX}{page}");
            let mut candidates = list.iter().filter(|url| url.ends_with(&suffix));
            let first = candidates.clone().next();
            candidates
                .find(|url| public_origin.is_some() && origin(url) == public_origin.as_deref())
                .or(first)
                .cloned()
        };
        let mut redirect_allow_list = Vec::new();
        for entry in get("PAGES_REDIRECT_ALLOW_LIST")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            if crate::domain::links::parse_http_url(entry).is_none() {
                return Err(crate::platform::config::ConfigError::Invalid {
                    name: "PAGES_REDIRECT_ALLOW_LIST",
                    reason: format!("{entry:?} is not an http(s) URL"),
                });
            }
            redirect_allow_list.push(entry.to_owned());
        }
        Ok(Self {
            collection,
            reset_url: ours(reset_allow_list, "reset-password"),
            verification_url: ours(register_allow_list, "verify-email"),
            redirect_allow_list,
        })
    }

    /// The `redirect` a sign-in or sign-up page was opened with, when it may be used: absent is
    /// fine (the pages' own signed-in page), anything outside the allow list is refused before
    /// the page is shown, so the script only ever goes where the deployment allows. Never an
    /// open redirect: relative and scheme-relative addresses, other schemes and credentials
    /// in the URL are refused too.
    pub fn check_redirect(&self, redirect: Option<&str>) -> Result<Option<String>, ApiError> {
        let Some(redirect) = redirect.filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        if redirect.chars().count() <= MAX_REDIRECT_CHARS
            && !redirect.chars().any(crate::adapters::http::is_control)
            && crate::domain::links::is_allowed(redirect, &self.redirect_allow_list)
        {
            return Ok(Some(redirect.to_owned()));
        }
        let shown: String = redirect.chars().take(MAX_REDIRECT_CHARS).collect();
        Err(ApiError::payload(format!(
            "URL \"{shown}\" can't be used to redirect after login"
        )))
    }
}

/// The files under [`PREFIX`]. Anything else is 404: names are looked up in this fixed list,
/// never in a file system, so `..`, encoded or not, names nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/auth/ui` and `/auth/ui/`: sends the browser to sign-in.
    Root,
    Page(Page),
    Script,
    Stylesheet,
    /// Colours from the settings, as a stylesheet: the CSP allows no inline style.
    Theme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    SignIn,
    SignUp,
    Posts,
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
    /// Signed in: two-factor sign-in turned on or off.
    Account,
}

impl Page {
    pub const ALL: [Page; 7] = [
        Page::SignIn,
        Page::SignUp,
        Page::Posts,
        Page::ForgotPassword,
        Page::ResetPassword,
        Page::VerifyEmail,
        Page::Account,
    ];

    /// Its name under [`PREFIX`].
    pub fn slug(self) -> &'static str {
        match self {
            Page::SignIn => "sign-in",
            Page::SignUp => "sign-up",
            Page::Posts => "posts",
            Page::ForgotPassword => "forgot-password",
            Page::ResetPassword => "reset-password",
            Page::VerifyEmail => "verify-email",
            Page::Account => "account",
        }
    }
}

pub const SCRIPT_PATH: &str = "assets/app.js";
pub const STYLESHEET_PATH: &str = "assets/style.css";
pub const THEME_PATH: &str = "assets/theme.css";
/// Where the account page's script has the two-factor QR code drawn (a POST, not a page).
pub const QR_PATH: &str = "account/qr";

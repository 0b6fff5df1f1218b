//! The hosted sign-up and sign-in pages under `/auth/ui/` (like Cognito's hosted UI): plain
//! HTML rendered here, one stylesheet and one script served as separate files, and a theme
//! stylesheet made from the settings' branding. The pages hold no logic of their own: the
//! script calls the same JSON API every other client calls (`/auth/login` in session mode,
//! `/auth/refresh`, `/auth/logout`, `/users/register`, `/items/<collection>`, the password
//! and verification routes), so its rate limits, CSRF checks and error envelope apply as they
//! are.
//!
//! Why the browser side is safe:
//! - tokens: the script never sees one. Sign-in uses `mode: "session"`, so the access token
//!   travels only in the httpOnly session cookie, and the script renews it (`/auth/refresh`
//!   in session mode) before it expires;
//! - CSRF: every form is submitted by the script as a JSON `fetch`. The API reads only bodies
//!   announced as JSON (a cross-site HTML form cannot send one without a CORS preflight), and
//!   refuses cookie-authenticated writes whose `Origin` / `Sec-Fetch-Site` say another site
//!   sent them (`client::Site::check`). Without the script a form posts to its own page,
//!   which answers 405 and does nothing;
//! - a strict Content-Security-Policy on every answer: no inline script or style, nothing
//!   from outside the deployment, no framing.

mod render;
pub mod verification;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{self, HttpResponse};
use crate::state::AppState;
use crate::store::Settings;

pub use render::{Branding, escape_html};

/// Where the pages live; every link between them starts with it.
pub const PREFIX: &str = "/auth/ui/";

/// Stricter than asked of us: nothing is allowed unless named (`default-src 'none'`), the
/// script, styles, images (the logo) and API calls only from this deployment.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
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
}

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
    pub fn from_state(state: &AppState) -> Result<Self, crate::config::ConfigError> {
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
    ) -> Result<Self, crate::config::ConfigError> {
        let collection = get("PAGES_COLLECTION").unwrap_or_else(|| "posts".into());
        if !valid_collection(&collection) {
            return Err(crate::config::ConfigError::Invalid {
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
        Ok(Self {
            collection,
            reset_url: ours(reset_allow_list, "reset-password"),
            verification_url: ours(register_allow_list, "verify-email"),
        })
    }
}

/// The files under [`PREFIX`]. Anything else is 404: names are looked up in this fixed list,
/// never in a file system, so `..`, encoded or not, names nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
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
}

impl Page {
    pub const ALL: [Page; 6] = [
        Page::SignIn,
        Page::SignUp,
        Page::Posts,
        Page::ForgotPassword,
        Page::ResetPassword,
        Page::VerifyEmail,
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
        }
    }
}

pub const SCRIPT_PATH: &str = "assets/app.js";
pub const STYLESHEET_PATH: &str = "assets/style.css";
pub const THEME_PATH: &str = "assets/theme.css";

const SCRIPT: &str = include_str!("assets/app.js");
const STYLESHEET: &str = include_str!("assets/style.css");

impl Resource {
    /// The resource a request path names (a stage prefix before `/auth/ui/` is allowed).
    pub fn of(path: &str) -> Option<Self> {
        let (_, name) = path.split_once(PREFIX)?;
        match name {
            SCRIPT_PATH => Some(Self::Script),
            STYLESHEET_PATH => Some(Self::Stylesheet),
            THEME_PATH => Some(Self::Theme),
            _ => Page::ALL
                .into_iter()
                .find(|page| page.slug() == name)
                .map(Self::Page),
        }
    }

    fn needs_settings(self) -> bool {
        matches!(self, Self::Page(_) | Self::Theme)
    }
}

/// Every answer of the pages function, errors included, carries these.
pub fn secure(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn text(content_type: &'static str, cache: &'static str, body: String) -> HttpResponse {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// GET and HEAD only (HEAD: the same headers, no body); other methods 405 with `Allow`.
fn check_method(method: &Method) -> Result<(), ApiError> {
    if *method == Method::GET || *method == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed {
            allowed: &["GET", "HEAD"],
            current: method.as_str().chars().take(32).collect(),
        })
    }
}

/// The answer for `resource` with these settings: the part of the function that reads nothing.
pub fn render(resource: Resource, settings: &Settings, config: &PagesConfig) -> HttpResponse {
    match resource {
        // Pages depend on the settings (registration, branding): never stored by caches.
        Resource::Page(page) => text(
            "text/html; charset=utf-8",
            "no-store",
            render::page(page, &Branding::from(settings), settings, config),
        ),
        Resource::Theme => text(
            "text/css; charset=utf-8",
            "no-cache",
            render::theme(&Branding::from(settings)),
        ),
        Resource::Script => text(
            "text/javascript; charset=utf-8",
            "no-cache",
            SCRIPT.to_owned(),
        ),
        Resource::Stylesheet => text("text/css; charset=utf-8", "no-cache", STYLESHEET.to_owned()),
    }
}

/// `/auth/ui/*`: the resource, or the API's 404 / 405 envelope, always with the security
/// headers; HEAD gets GET's headers without the body.
pub async fn handle(state: &AppState, config: &PagesConfig, request: &Request) -> HttpResponse {
    let mut response = secure(http::respond(answer(state, config, request).await));
    if *request.method() == Method::HEAD {
        *response.body_mut() = Body::Empty;
    }
    response
}

/// Settings are read (through the shared cache) only for what shows them.
async fn answer(
    state: &AppState,
    config: &PagesConfig,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let resource = Resource::of(request.uri().path())
        .ok_or_else(|| ApiError::RouteNotFound(request.uri().path().to_owned()))?;
    check_method(request.method())?;
    if !resource.needs_settings() {
        return Ok(render(resource, &state.config.default_settings, config));
    }
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    Ok(render(resource, &settings, config))
}

#[cfg(test)]
mod tests;

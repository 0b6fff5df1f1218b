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

pub mod qr;
mod render;
mod site;
pub mod verification;
mod verify_email;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::adapters::http::{self, HttpResponse};
use crate::domain::error::ApiError;
use crate::domain::model::Settings;
use crate::platform::state::AppState;

pub use render::{Branding, escape_html};
use site::ROOT;
pub use site::{
    CONTENT_SECURITY_POLICY, MAX_REDIRECT_CHARS, PREFIX, Page, PagesConfig, QR_PATH, Resource,
    SCRIPT_PATH, STYLESHEET_PATH, THEME_PATH,
};
pub use verify_email::verify_email;

const SCRIPT: &str = include_str!("assets/app.js");
const STYLESHEET: &str = include_str!("assets/style.css");

impl Resource {
    /// The resource a request path names (a stage prefix before `/auth/ui/` is allowed).
    pub fn of(path: &str) -> Option<Self> {
        if let Some(stage) = path
            .strip_suffix(PREFIX)
            .or_else(|| path.strip_suffix(ROOT))
        {
            // The root leads to `<stage>/auth/ui/sign-in`: only a stage-like prefix is one, so
            // `//evil.example/auth/ui/` can never become a `Location` naming another host.
            return stage_like(stage).then_some(Self::Root);
        }
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

    /// Sign-in and sign-up take a `redirect`: where to go once signed in.
    fn takes_redirect(self) -> bool {
        matches!(self, Self::Page(Page::SignIn | Page::SignUp))
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
    render_returning(resource, settings, config, None)
}

/// [`render`] for a page opened with an allowed `redirect` (checked by
/// [`PagesConfig::check_redirect`]): sign-in and sign-up send the user there once signed in.
pub fn render_returning(
    resource: Resource,
    settings: &Settings,
    config: &PagesConfig,
    redirect: Option<&str>,
) -> HttpResponse {
    match resource {
        Resource::Root => {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::FOUND;
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        // Pages depend on the settings (registration, branding): never stored by caches.
        Resource::Page(page) => text(
            "text/html; charset=utf-8",
            "no-store",
            render::page(page, &Branding::from(settings), settings, config, redirect),
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
    let path = request.uri().path();
    // The one name that is not a resource to read: the QR code of the two-factor set-up.
    if path
        .split_once(PREFIX)
        .is_some_and(|(_, name)| name == QR_PATH)
    {
        return qr::answer(request);
    }
    let resource = Resource::of(path).ok_or_else(|| ApiError::RouteNotFound(path.to_owned()))?;
    check_method(request.method())?;
    if resource == Resource::Root {
        return Ok(to_sign_in(path, request.uri().query()));
    }
    let redirect = if resource.takes_redirect() {
        config.check_redirect(single_query_value(request, "redirect")?.as_deref())?
    } else {
        None
    };
    if !resource.needs_settings() {
        return Ok(render(resource, &state.config.default_settings, config));
    }
    let settings = crate::flows::access::settings(state).await?;
    Ok(render_returning(
        resource,
        &settings,
        config,
        redirect.as_deref(),
    ))
}

/// The pages' root reached through the catch-all route: `<stage>/auth/ui/` matches no
/// `{proxy+}` route (it needs a name), so the not-found function asks here first. GET and HEAD
/// only; `None` for every other request.
pub fn root_redirect(request: &Request) -> Option<HttpResponse> {
    let path = request.uri().path();
    let read = *request.method() == Method::GET || *request.method() == Method::HEAD;
    (read && Resource::of(path) == Some(Resource::Root))
        .then(|| secure(to_sign_in(path, request.uri().query())))
}

/// `name` from the query string, given at most once (twice is a 400, not a guess).
fn single_query_value(request: &Request, name: &str) -> Result<Option<String>, ApiError> {
    use lambda_http::RequestExt;
    let values: Vec<String> = request
        .query_string_parameters_ref()
        .and_then(|query| query.all(name))
        .map(|all| all.into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(ApiError::query(format!("\"{name}\" must be given once"))),
    }
}

/// Empty, or `/name` segments of letters, digits, `-` and `_` (API Gateway's stage names):
/// never `//`, a backslash, a dot segment or anything a browser reads as another host.
fn stage_like(prefix: &str) -> bool {
    prefix.is_empty()
        || prefix.len() <= 128
            && prefix.starts_with('/')
            && prefix[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
}

/// `/auth/ui` or `/auth/ui/` (after any stage prefix) to the sign-in page, query kept (a
/// `redirect` is checked there). The `Location` is a path on this deployment, never a URL
/// built from the request's `Host`.
fn to_sign_in(path: &str, query: Option<&str>) -> HttpResponse {
    let stage = path
        .strip_suffix(PREFIX)
        .or_else(|| path.strip_suffix(ROOT))
        .unwrap_or("");
    let mut location = format!("{stage}{PREFIX}{}", Page::SignIn.slug());
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(query);
    }
    let mut response = render(Resource::Root, &Settings::default(), &PagesConfig::empty());
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
        }
        // Not a header value (cannot come from a parsed URI): sign-in without the query.
        Err(_) => {
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!("{stage}{PREFIX}{}", Page::SignIn.slug()))
                    .unwrap_or(HeaderValue::from_static("/auth/ui/sign-in")),
            );
        }
    }
    response
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod redirect_tests {
    use super::*;

    fn config(allow: &str) -> PagesConfig {
        let allow = allow.to_owned();
        PagesConfig::from_lookup(
            &move |name| (name == "PAGES_REDIRECT_ALLOW_LIST").then(|| allow.clone()),
            &[],
            &[],
        )
        .unwrap()
    }

    #[test]
    fn only_allow_listed_return_addresses_are_accepted() {
        let config = config("https://app.example.com/callback, http://localhost:5173/");
        assert_eq!(config.check_redirect(None).unwrap(), None);
        assert_eq!(config.check_redirect(Some("")).unwrap(), None);
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/callback?next=%2Fhome#top",
            "http://localhost:5173/",
        ] {
            assert_eq!(
                config.check_redirect(Some(good)).unwrap().as_deref(),
                Some(good)
            );
        }
        for bad in [
            "https://evil.example/callback",
            "https://app.example.com/callback/more",
            "https://app.example.com/",
            "http://app.example.com/callback",
            "https://app.example.com.evil.example/callback",
            "https://user:pw@app.example.com/callback",
            "//app.example.com/callback",
            "/callback",
            "/\\evil.example",
            "javascript:alert(1)//app.example.com/callback",
            "data:text/html,<script>alert(1)</script>",
            "https://app.example.com/callback\u{0}",
            "https://app.example.com/callback\r\nSet-Cookie: x=1",
        ] {
            let error = config.check_redirect(Some(bad)).unwrap_err();
            assert_eq!(error.code(), "INVALID_PAYLOAD", "{bad}");
        }
        let long = format!(
            "https://app.example.com/callback?{}",
            "a".repeat(MAX_REDIRECT_CHARS)
        );
        assert!(config.check_redirect(Some(&long)).is_err());
        // No list: nothing is accepted.
        assert!(
            PagesConfig::empty()
                .check_redirect(Some("https://app.example.com/callback"))
                .is_err()
        );
    }

    #[test]
    fn a_bad_allow_list_entry_stops_the_function() {
        let error = PagesConfig::from_lookup(
            &|name| (name == "PAGES_REDIRECT_ALLOW_LIST").then(|| "app.example.com".into()),
            &[],
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("PAGES_REDIRECT_ALLOW_LIST"),
            "{error}"
        );
    }

    #[test]
    fn sign_in_and_sign_up_carry_an_allowed_redirect_escaped() {
        let config = config("https://app.example.com/cb");
        let redirect = "https://app.example.com/cb?a=1&b=\"x\"";
        let settings = Settings {
            public_registration: true,
            ..Settings::default()
        };
        let html = |page| {
            render::page(
                page,
                &Branding::from(&settings),
                &settings,
                &config,
                Some(redirect),
            )
        };
        let sign_in = html(Page::SignIn);
        assert!(
            sign_in
                .contains("data-redirect=\"https://app.example.com/cb?a=1&amp;b=&quot;x&quot;\""),
            "{sign_in}"
        );
        assert!(
            sign_in.contains(
                "href=\"sign-up?redirect=https%3A%2F%2Fapp.example.com%2Fcb%3Fa%3D1%26b%3D%22x%22\""
            ),
            "{sign_in}"
        );
        let sign_up = html(Page::SignUp);
        assert!(
            sign_up.contains("href=\"sign-in?redirect=https%3A%2F%2F"),
            "{sign_up}"
        );
        let plain = render::page(
            Page::SignIn,
            &Branding::from(&settings),
            &settings,
            &config,
            None,
        );
        assert!(!plain.contains("data-redirect") && plain.contains("href=\"sign-up\""));
    }

    #[test]
    fn the_root_leads_to_sign_in_on_this_deployment() {
        for path in ["/auth/ui", "/auth/ui/", "/prod/auth/ui", "/prod/auth/ui/"] {
            assert_eq!(Resource::of(path), Some(Resource::Root), "{path}");
        }
        let response = to_sign_in("/prod/auth/ui/", Some("redirect=https%3A%2F%2Fapp"));
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/prod/auth/ui/sign-in?redirect=https%3A%2F%2Fapp"
        );
        let response = to_sign_in("/auth/ui", None);
        assert_eq!(response.headers()[header::LOCATION], "/auth/ui/sign-in");
        assert_eq!(Resource::of("/auth/uix"), None);
        assert_eq!(Resource::of("/auth/ui/nope"), None);
        // Nothing before the root that a browser could read as another host.
        for path in [
            "//evil.example/auth/ui/",
            "//evil.example/auth/ui",
            "/\\evil.example/auth/ui/",
            "/./auth/ui/",
            "/../auth/ui/",
            "/a//b/auth/ui/",
            "/a%2F%2Fevil/auth/ui/",
            "/x.example/auth/ui/",
        ] {
            assert_eq!(Resource::of(path), None, "{path}");
        }
    }
}

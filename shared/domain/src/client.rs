//! What a transport knows of the client, typed: the facts the flows need from a request
//! (address for rate limits, user agent for sessions, the auth cookies presented, and what a
//! CSRF check reads), and what a flow asks the transport to do with cookies. The transports
//! build a [`Client`] from their request and render each [`CookieChange`] with the configured
//! cookie attributes; flows never see the request itself.

use crate::error::ApiError;
use crate::sensitive::Sensitive;

/// The client of one request, as the transport saw it.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The source address API Gateway saw (never a client-supplied header).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `directus_refresh_token` cookie presented, if any (an empty value is none).
    pub refresh_cookie: Option<String>,
    /// The `directus_session_token` cookie presented, if any (an empty value is none).
    pub session_cookie: Option<String>,
    /// What the CSRF check of cookie-driven writes reads.
    pub site: Site,
}

/// Where the caller's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Query,
    Header,
    Cookie,
}

/// An access token as presented, not yet verified.
#[derive(Debug, Clone)]
pub struct Presented {
    pub token: String,
    pub source: TokenSource,
}

/// Where a request came from, for the CSRF check ([`Site::check`]).
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// Anything but GET, HEAD and OPTIONS.
    pub state_changing: bool,
    /// The `Origin` header (`"null"` when it is not text).
    pub origin: Option<String>,
    /// The `Sec-Fetch-Site` header.
    pub fetch_site: Option<String>,
}

impl Site {
    /// CSRF defence for requests a cookie authenticates: a state-changing request whose `Origin`
    /// is not one of the allowed origins (`CORS_ALLOW_ORIGINS`) is refused, `Origin: null`
    /// included. A request without `Origin` is not a browser's cross-site request (browsers
    /// send it on every cross-origin POST, PATCH and DELETE), so servers and scripts are
    /// unaffected.
    pub fn check(&self, allowed: &[String]) -> Result<(), ApiError> {
        if !self.state_changing {
            return Ok(());
        }
        let Some(origin) = &self.origin else {
            // No Origin: a non-browser client, unless the browser says the request came from
            // another site (Fetch Metadata), which an Origin-less form post can still carry.
            let fetched_from = self.fetch_site.as_deref().unwrap_or("none");
            if fetched_from.eq_ignore_ascii_case("cross-site")
                || fetched_from.eq_ignore_ascii_case("same-site")
            {
                tracing::warn!(
                    fetched_from,
                    "cookie-authenticated cross-site request refused"
                );
                return Err(ApiError::Forbidden(Some(
                    "Cross-site request refused: the session cookies are not for other sites."
                        .into(),
                )));
            }
            return Ok(());
        };
        let origin = origin.trim_end_matches('/');
        // `Sec-Fetch-Site: same-origin` is set by the browser alone (no script can): the
        // request comes from a page of this API's own origin, such as the hosted pages under
        // `/auth/ui/`, which need not be listed in CORS_ALLOW_ORIGINS.
        let same_origin = self
            .fetch_site
            .as_deref()
            .is_some_and(|site| site.eq_ignore_ascii_case("same-origin"));
        if same_origin || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
            Ok(())
        } else {
            tracing::warn!(
                origin,
                "cookie-authenticated request from a foreign origin refused"
            );
            Err(ApiError::Forbidden(Some(format!(
                "Cross-site request refused: origin \"{}\" is not allowed to use the session cookies.",
                origin.chars().take(200).collect::<String>()
            ))))
        }
    }
}

/// Which of the two auth cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthCookie {
    Refresh,
    Session,
}

/// A cookie a flow sets (a value and a lifetime) or clears (`value` `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct CookieChange {
    pub cookie: AuthCookie,
    pub value: Option<Sensitive>,
    pub max_age: u64,
}

impl CookieChange {
    pub fn set(cookie: AuthCookie, value: &str, max_age: u64) -> Self {
        Self {
            cookie,
            value: Some(Sensitive::new(value)),
            max_age,
        }
    }

    pub fn clear(cookie: AuthCookie) -> Self {
        Self {
            cookie,
            value: None,
            max_age: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_state_changing_requests_from_foreign_sites_are_refused() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        let site = |state_changing, origin: Option<&str>, fetch: Option<&str>| Site {
            state_changing,
            origin: origin.map(str::to_owned),
            fetch_site: fetch.map(str::to_owned),
        };
        assert!(
            site(true, Some("http://localhost:3000/"), None)
                .check(&allowed)
                .is_ok()
        );
        assert!(site(true, None, None).check(&allowed).is_ok());
        assert!(
            site(false, Some("https://evil.example"), None)
                .check(&allowed)
                .is_ok()
        );
        assert!(site(true, Some("null"), None).check(&allowed).is_err());
        assert!(
            site(true, None, Some("cross-site"))
                .check(&allowed)
                .is_err()
        );
        assert!(
            site(true, None, Some("same-origin"))
                .check(&allowed)
                .is_ok()
        );
        // A page of the API's own origin (the hosted pages), whatever the allowed list says;
        // a foreign Origin with any other Fetch Metadata is still refused.
        assert!(
            site(true, Some("https://api.example.com"), Some("same-origin"))
                .check(&allowed)
                .is_ok()
        );
        assert!(
            site(true, Some("https://evil.example"), Some("cross-site"))
                .check(&allowed)
                .is_err()
        );
        assert!(
            site(true, Some("https://evil.example"), Some("same-site"))
                .check(&allowed)
                .is_err()
        );
    }
}

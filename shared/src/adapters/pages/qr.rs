//! `POST /auth/ui/account/qr`: the QR code of the account page's two-factor set-up, drawn here
//! as SVG (the `qrcode` crate).
//!
//! Why this shape:
//! - The QR code holds the secret, so it is drawn by this deployment: no QR service elsewhere
//!   sees it, and the page needs no QR library of its own.
//! - The JSON API stays as Directus has it: `POST /users/me/tfa/generate` answers `secret` and
//!   `otpauth_url`, nothing more; the account page's script sends that URL here.
//! - A POST with a JSON body, never a GET with a query: the secret is in no URL, so in no access
//!   log, history entry or `Referer`; the answer is `Cache-Control: no-store`.
//! - Only the pages' own script calls it: a request another site sent is refused by the API's
//!   CSRF rule ([`Site::check`](crate::domain::client::Site::check)) with no origin allowed
//!   besides this one (`Sec-Fetch-Site: same-origin`); a body not announced as JSON is refused
//!   (an HTML form elsewhere cannot send one without a CORS preflight).
//! - It reads nothing, stores nothing and logs nothing of the body. It needs no session: it
//!   draws only what the caller already holds, and only an `otpauth://totp/` URL of bounded
//!   size carrying a secret of this API's shape, so it is no general QR (or link) service.
//! - The script shows the answer in an `<img>` through a `blob:` URL, which is why the pages'
//!   Content-Security-Policy allows `img-src blob:`: only a script of this origin can make one,
//!   and an SVG shown as an image runs no script and loads nothing. No markup is inserted.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::adapters::http::{self, HttpResponse};
use crate::domain::error::ApiError;
use crate::domain::two_factor::Authenticator;

/// The longest `otpauth_url` drawn: the issuer (the project name), the email and the secret fit
/// well within it, and a QR code of it stays scannable.
pub const MAX_OTPAUTH_URL_CHARS: usize = 1024;
/// The largest body read: the URL, JSON-escaped, and its field name.
pub const MAX_QR_BODY_BYTES: usize = 4096;
/// What every `otpauth_url` this API generates starts with.
const TOTP_PREFIX: &str = "otpauth://totp/";

/// The request's body length in bytes.
fn body_len(request: &Request) -> usize {
    match request.body() {
        Body::Empty => 0,
        Body::Text(text) => text.len(),
        Body::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}

fn not_totp() -> ApiError {
    ApiError::payload("\"otpauth_url\" must be an otpauth://totp/ URL of a two-factor secret")
}

/// An `otpauth://totp/` URL as `/users/me/tfa/generate` gives it: bounded, no control
/// characters or spaces, a URL, and its `secret` one of this API's secrets (base32, 20 bytes).
pub fn check_otpauth_url(raw: &str) -> Result<(), ApiError> {
    if raw.chars().count() > MAX_OTPAUTH_URL_CHARS
        || !raw.starts_with(TOTP_PREFIX)
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(not_totp());
    }
    let url = url::Url::parse(raw).map_err(|_| not_totp())?;
    if url.scheme() != "otpauth" || url.host_str() != Some("totp") {
        return Err(not_totp());
    }
    let secrets: Vec<String> = url
        .query_pairs()
        .filter(|(name, _)| name == "secret")
        .map(|(_, value)| value.into_owned())
        .collect();
    match secrets.as_slice() {
        [secret] if Authenticator::from_base32(secret).is_ok() => Ok(()),
        _ => Err(not_totp()),
    }
}

/// The QR code of `url` as an SVG document (black on white, with its quiet zone).
pub fn svg(url: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| not_totp())?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The answer to `POST /auth/ui/account/qr {"otpauth_url"}`: the SVG, `no-store`.
pub fn answer(request: &Request) -> Result<HttpResponse, ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed {
            allowed: &["POST"],
            current: request.method().as_str().chars().take(32).collect(),
        });
    }
    // Only this origin's pages: no other origin is allowed, whatever CORS_ALLOW_ORIGINS says.
    http::site(request).check(&[])?;
    if body_len(request) > MAX_QR_BODY_BYTES {
        return Err(ApiError::ContentTooLarge);
    }
    if !http::is_json_content(request) {
        return Err(ApiError::payload("The body must be JSON"));
    }
    let body = http::json_object(request)?;
    let url = http::required_string(&body, "otpauth_url", MAX_OTPAUTH_URL_CHARS)?;
    check_otpauth_url(&url)?;
    let mut response = Response::new(Body::Text(svg(&url)?));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::two_factor::otpauth_url;
    use lambda_http::http as h;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn url() -> String {
        otpauth_url("Acme & Co", "someone@example.com", SECRET)
    }

    fn request(
        method: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: String,
    ) -> Request {
        let mut builder = h::Request::builder()
            .method(method)
            .uri("/auth/ui/account/qr");
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Text(body)).unwrap()
    }

    fn same_origin(body: String) -> Request {
        request(
            "POST",
            Some("application/json"),
            &[
                ("origin", "https://api.example.com"),
                ("sec-fetch-site", "same-origin"),
            ],
            body,
        )
    }

    fn json_body(url: &str) -> String {
        serde_json::json!({ "otpauth_url": url }).to_string()
    }

    fn code(result: Result<HttpResponse, ApiError>) -> &'static str {
        result.map(|_| ()).unwrap_err().code()
    }

    #[test]
    fn the_qr_code_of_a_generated_url_is_an_svg_that_is_never_stored() {
        let response = answer(&same_origin(json_body(&url()))).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let Body::Text(svg) = response.body() else {
            panic!("a text body")
        };
        assert!(
            svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"), "{svg}");
        // Modules drawn, nothing of the secret or the URL written as text, no script.
        assert!(svg.contains("<path fill=\"#000\" d=\"M"), "{svg}");
        assert!(!svg.contains(SECRET) && !svg.contains("otpauth"));
        assert!(!svg.contains("<script") && !svg.contains("href"));
        // Without an Origin (not a browser), as the API's CSRF rule has it.
        let plain = request("POST", Some("application/json"), &[], json_body(&url()));
        assert_eq!(answer(&plain).unwrap().status(), 200);
    }

    #[test]
    fn another_site_is_refused() {
        for headers in [
            vec![
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            // Not even an origin CORS would allow: only this origin's pages call it.
            vec![("origin", "http://localhost:3000")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
        ] {
            let hostile = request(
                "POST",
                Some("application/json"),
                &headers,
                json_body(&url()),
            );
            assert_eq!(code(answer(&hostile)), "FORBIDDEN", "{headers:?}");
        }
    }

    #[test]
    fn only_a_json_body_of_bounded_size_is_read() {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
        ] {
            let form = request(
                "POST",
                content_type,
                &[("sec-fetch-site", "same-origin")],
                json_body(&url()),
            );
            assert_eq!(code(answer(&form)), "INVALID_PAYLOAD", "{content_type:?}");
        }
        let huge = same_origin(json_body(&format!(
            "{}?secret={SECRET}&x={}",
            TOTP_PREFIX,
            "a".repeat(MAX_QR_BODY_BYTES)
        )));
        assert_eq!(code(answer(&huge)), "CONTENT_TOO_LARGE");
        for body in [
            String::new(),
            "{}".to_owned(),
            "[]".to_owned(),
            "{\"otpauth_url\": 1}".to_owned(),
            "{\"otpauth_url\": \"".to_owned(),
        ] {
            assert_eq!(
                code(answer(&same_origin(body.clone()))),
                "INVALID_PAYLOAD",
                "{body}"
            );
        }
    }

    #[test]
    fn only_totp_urls_with_a_secret_of_this_api_are_drawn() {
        assert!(check_otpauth_url(&url()).is_ok());
        let long_issuer = otpauth_url(&"n".repeat(300), "someone@example.com", SECRET);
        assert!(check_otpauth_url(&long_issuer).is_ok());
        for bad in [
            "https://evil.example/login".to_owned(),
            "javascript:alert(1)".to_owned(),
            format!("otpauth://hotp/Acme:a@b.c?secret={SECRET}"),
            format!("OTPAUTH://TOTP/Acme:a@b.c?secret={SECRET}"),
            format!("otpauth://totp.evil.example/Acme:a@b.c?secret={SECRET}"),
            "otpauth://totp/Acme:a@b.c".to_owned(),
            "otpauth://totp/Acme:a@b.c?secret=".to_owned(),
            "otpauth://totp/Acme:a@b.c?secret=JBSWY3DP".to_owned(),
            "otpauth://totp/Acme:a@b.c?secret=not-base32-at-all-not-base32-at!!".to_owned(),
            format!("otpauth://totp/Acme:a@b.c?secret={SECRET}&secret={SECRET}"),
            format!("otpauth://totp/Acme a@b.c?secret={SECRET}"),
            format!("otpauth://totp/Acme:a@b.c?secret={SECRET}\n"),
            format!("otpauth://totp/Acme:a@b.c?secret={SECRET}\u{0}"),
            format!(
                "otpauth://totp/{}:a@b.c?secret={SECRET}",
                "x".repeat(MAX_OTPAUTH_URL_CHARS)
            ),
        ] {
            assert!(check_otpauth_url(&bad).is_err(), "{bad:?}");
            let refused = answer(&same_origin(json_body(&bad)));
            assert_eq!(code(refused), "INVALID_PAYLOAD", "{bad:?}");
        }
    }

    #[test]
    fn other_methods_are_405_naming_post() {
        for method in ["GET", "HEAD", "PUT", "DELETE", "PATCH"] {
            let error = answer(&request(method, None, &[], String::new()))
                .map(|_| ())
                .unwrap_err();
            assert_eq!(error.code(), "METHOD_NOT_ALLOWED", "{method}");
            let response = http::respond(Err(error));
            assert_eq!(response.headers()["allow"], "POST");
        }
    }
}

//! The pages the verification link itself opens in a browser (`/users/register/verify-email`,
//! served by the verify function beside its API answers): the confirmation a navigation gets
//! (a button that posts the token: opening the link verifies nothing, so a mail scanner that
//! fetches it as a browser would does not either), the outcome of that post, and its errors.
//! Plain HTML without script, the hosted pages' stylesheets, and their security headers
//! ([`super::secure`]). The transport chooses the status; these render the text.

use lambda_http::http::StatusCode;

use super::{STYLESHEET_PATH, THEME_PATH, escape_html, secure, text};
use crate::adapters::http::HttpResponse;

/// From `/users/register/verify-email` (a stage prefix before it included) to the hosted
/// pages' prefix.
const TO_PAGES: &str = "../../auth/ui/";

fn frame(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"{TO_PAGES}{STYLESHEET_PATH}\">\n\
         <link rel=\"stylesheet\" href=\"{TO_PAGES}{THEME_PATH}\">\n</head>\n<body>\n\
         <main id=\"main\">\n<h1>{title}</h1>\n{body}\
         <nav class=\"links\" aria-label=\"Account\">\n  \
         <a href=\"{TO_PAGES}sign-in\">Sign in</a>\n</nav>\n</main>\n</body>\n</html>\n"
    )
}

fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let mut response = secure(text(
        "text/html; charset=utf-8",
        "no-store",
        frame(title, body),
    ));
    *response.status_mut() = status;
    response
}

/// What a browser opening the link sees: the address and a button that posts `token` (checked
/// as one of ours before it is written into the page, and escaped) to the link's own path.
pub fn confirmation(token: &str, email: &str) -> HttpResponse {
    html(
        StatusCode::OK,
        "Verify your email address",
        &format!(
            "<p>Press the button to verify <strong>{}</strong> and finish creating the \
             account. If you did not register with this address, close this page: nothing \
             happens until the button is pressed.</p>\n\
             <form id=\"verify-form\" method=\"post\" action=\"verify-email\">\n  \
             <input type=\"hidden\" name=\"token\" value=\"{}\">\n  \
             <button type=\"submit\">Verify my email address</button>\n</form>\n",
            escape_html(email),
            escape_html(token)
        ),
    )
}

/// The account is active.
pub fn verified() -> HttpResponse {
    html(
        StatusCode::OK,
        "Email verified",
        "<p class=\"message notice\" id=\"verified\">Your email address is verified. You can \
         now sign in.</p>\n",
    )
}

/// What a refusal was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The link's token, or the request carrying it.
    Link,
    /// The session (cookie) the browser sent with it.
    Session,
}

/// Why the link did not verify, in plain words, from the API error `code` it got.
pub fn refused(status: StatusCode, code: &str, about: Refused) -> HttpResponse {
    if about == Refused::Session {
        return html(
            status,
            "Your session is no longer valid",
            "<p class=\"message error\" id=\"refused\" role=\"alert\">This browser sent a \
             sign-in that has expired or is no longer valid. Sign in again, or open the link in \
             a private window, then open the link from the email again.</p>\n",
        );
    }
    let reason = match code {
        "INVALID_PAYLOAD" => {
            "This link was already used, or the address was verified through another link. \
             If your account is active, sign in."
        }
        "TOKEN_EXPIRED" => "This link has expired. Register again to get a new one.",
        "INVALID_TOKEN" | "FORBIDDEN" => {
            "This link is not valid. Open the link from the email again, and check that it \
             is complete."
        }
        "REQUESTS_EXCEEDED" => "Too many attempts. Please wait a moment and try again.",
        "SERVICE_UNAVAILABLE" => "The service is busy right now. Please try again in a moment.",
        _ => "This request could not be handled. Open the link from the email again.",
    };
    html(
        status,
        "This link cannot be used",
        &format!("<p class=\"message error\" id=\"refused\" role=\"alert\">{reason}</p>\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &HttpResponse) -> &str {
        match response.body() {
            lambda_http::Body::Text(text) => text,
            _ => panic!("a text body"),
        }
    }

    #[test]
    fn every_page_carries_the_hosted_pages_headers() {
        for response in [
            confirmation("t", "a@example.com"),
            verified(),
            refused(StatusCode::BAD_REQUEST, "INVALID_PAYLOAD", Refused::Link),
            refused(StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", Refused::Session),
        ] {
            let headers = response.headers();
            assert_eq!(
                headers["content-security-policy"],
                super::super::CONTENT_SECURITY_POLICY
            );
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["x-frame-options"], "DENY");
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert_eq!(headers["cache-control"], "no-store");
            assert!(
                headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            // No script and no inline style: the CSP would block them.
            assert!(!body(&response).contains("<script"));
            assert!(!body(&response).contains("style="));
        }
        assert_eq!(
            refused(StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", Refused::Link).status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn the_confirmation_posts_the_escaped_token_to_the_links_own_path() {
        let page = confirmation("a\"b<c>", "x&y@example.com");
        let html = body(&page);
        assert!(
            html.contains("method=\"post\" action=\"verify-email\""),
            "{html}"
        );
        assert!(html.contains("value=\"a&quot;b&lt;c&gt;\""), "{html}");
        assert!(html.contains("x&amp;y@example.com"), "{html}");
        assert!(
            html.contains("href=\"../../auth/ui/assets/style.css\""),
            "{html}"
        );
    }
}

//! `GET` and `POST /users/register/verify-email` (`shared::adapters::pages::verify_email` adapts them to
//! `shared::flows::verification`: a browser opening the link gets a confirmation page, and only
//! a `POST` or an API client's `GET` verifies).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(shared::adapters::pages::verify_email(state, &request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use lambda_http::http as h;
    use shared::credential::link_token::Scope;
    use shared::platform::testing::{status_and_json, unreachable_state};
    use std::collections::HashMap;

    const BROWSER: [(&str, &str); 3] = [
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];

    fn get(query: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params
                .entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        let mut builder = h::Request::builder()
            .method("GET")
            .uri("/users/register/verify-email");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(params)
    }

    fn post(content_type: &str, body: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = h::Request::builder()
            .method("POST")
            .uri("/users/register/verify-email")
            .header("content-type", content_type);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    async fn call(request: Request) -> Response<Body> {
        handle(&unreachable_state(), request).await.unwrap()
    }

    fn text(response: &Response<Body>) -> String {
        match response.body() {
            Body::Text(text) => text.clone(),
            Body::Empty => String::new(),
            other => panic!("a text body, not {other:?}"),
        }
    }

    fn assert_secured_html(response: &Response<Body>) {
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{headers:?}"
        );
        assert_eq!(
            headers["content-security-policy"],
            shared::adapters::pages::CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }

    /// A correctly signed verification token of the test state's secret.
    fn signed_token() -> String {
        let state = unreachable_state();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (token, _) = state
            .links
            .issue(
                Scope::PendingRegistration,
                "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10",
                "owner@example.com",
                None,
                Some("0123456789abcdef".into()),
                now,
                std::time::Duration::from_secs(600),
                None,
            )
            .unwrap();
        token.expose().to_owned()
    }

    #[tokio::test]
    async fn tokens_that_are_not_ours_are_refused_before_the_store_is_read() {
        for query in [
            vec![],
            vec![("token", "")],
            vec![("token", "garbage")],
            vec![("token", "a.b.c")],
        ] {
            let (status, body) = status_and_json(&call(get(&query, &[])).await);
            assert_eq!(status, 403, "{query:?}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_TOKEN");
        }
        let (status, _) = status_and_json(&call(get(&[("token", "a"), ("token", "b")], &[])).await);
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn a_browser_opening_the_link_gets_a_button_and_nothing_is_read_or_verified() {
        // The store is unreachable: any read would be a 503, and any verification too.
        let token = signed_token();
        let page = call(get(&[("token", &token)], &BROWSER)).await;
        assert_eq!(page.status(), 200);
        assert_secured_html(&page);
        let html = text(&page);
        assert!(
            html.contains("<form id=\"verify-form\" method=\"post\" action=\"verify-email\">"),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{token}\"")), "{html}");
        assert!(html.contains("owner@example.com"), "{html}");
        // Each of the browser's signs alone is enough.
        for header in BROWSER {
            let page = call(get(&[("token", &token)], &[header])).await;
            assert_eq!(page.status(), 200, "{header:?}");
            assert!(text(&page).contains("verify-form"), "{header:?}");
        }
        // An API client's GET of the same link verifies at once: here, it reaches the store.
        let fetched = call(get(&[("token", &token)], &[("accept", "*/*")])).await;
        assert_eq!(fetched.status(), 503);
    }

    #[tokio::test]
    async fn a_browser_gets_refusals_as_pages_with_the_apis_status() {
        let expired = {
            let state = unreachable_state();
            let (token, _) = state
                .links
                .issue(
                    Scope::PendingRegistration,
                    "u",
                    "owner@example.com",
                    None,
                    None,
                    1000,
                    std::time::Duration::from_secs(10),
                    None,
                )
                .unwrap();
            token.expose().to_owned()
        };
        for (query, status, words) in [
            (vec![("token", "garbage")], 403, "not valid"),
            (vec![], 403, "not valid"),
            (vec![("token", expired.as_str())], 401, "expired"),
            (
                vec![("token", "a"), ("token", "b")],
                400,
                "could not be handled",
            ),
        ] {
            let page = call(get(&query, &BROWSER)).await;
            assert_eq!(page.status(), status, "{query:?}");
            assert_secured_html(&page);
            let html = text(&page);
            assert!(html.contains(words), "{html}");
            // The refused token is never written into the page.
            assert!(!html.contains("garbage"), "{html}");
        }
        let posted = call(post(
            "application/x-www-form-urlencoded",
            "token=garbage",
            &BROWSER,
        ))
        .await;
        assert_eq!(posted.status(), 403);
        assert_secured_html(&posted);
    }

    #[tokio::test]
    async fn a_browsers_stale_session_cookie_is_cleared_and_the_link_still_works() {
        // A public route: a session cookie that no longer stands counts as no token (as on
        // login and registration), so an old sign-in never keeps a person from their link.
        let mut headers = BROWSER.to_vec();
        headers.push(("cookie", "directus_session_token=not-a-jwt"));
        let page = call(get(&[("token", &signed_token())], &headers)).await;
        assert_eq!(page.status(), 200);
        assert_secured_html(&page);
        assert!(
            text(&page).contains("id=\"verify-form\""),
            "{}",
            text(&page)
        );
        let cleared = page.headers()["set-cookie"].to_str().unwrap();
        assert!(cleared.starts_with("directus_session_token=;"), "{cleared}");
    }

    #[tokio::test]
    async fn a_browsers_failing_bearer_token_is_named_as_a_sign_in_not_as_the_link() {
        // A bearer token is the client's own choice: it still fails, and the page says it is
        // the sign-in, not the link, that is at fault.
        let mut headers = BROWSER.to_vec();
        headers.push(("authorization", "Bearer not-a-jwt"));
        let page = call(get(&[("token", &signed_token())], &headers)).await;
        assert_eq!(page.status(), 401);
        assert_secured_html(&page);
        assert!(
            text(&page).contains("sign-in that has expired"),
            "{}",
            text(&page)
        );
    }

    #[tokio::test]
    async fn posts_carry_the_token_in_a_form_or_json_body() {
        for (content_type, body) in [
            ("application/json", r#"{"token":"garbage"}"#),
            ("application/json", r#"{}"#),
            ("application/json", r#"{"token":""}"#),
            ("application/x-www-form-urlencoded", "token=garbage"),
            ("application/x-www-form-urlencoded", ""),
            // Neither form nor JSON: no token.
            ("text/plain", "token=garbage"),
        ] {
            let (status, json) = status_and_json(&call(post(content_type, body, &[])).await);
            assert_eq!(status, 403, "{content_type} {body}");
            assert_eq!(json["errors"][0]["extensions"]["code"], "INVALID_TOKEN");
        }
        for (content_type, body) in [
            ("application/json", r#"{"token":7}"#),
            ("application/x-www-form-urlencoded", "token=a&token=b"),
        ] {
            let (status, json) = status_and_json(&call(post(content_type, body, &[])).await);
            assert_eq!(status, 400, "{content_type} {body}");
            assert_eq!(json["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
        }
        // A signed token in the body reaches the store (unreachable here).
        let body = format!("token={}", signed_token());
        let reached = call(post("application/x-www-form-urlencoded", &body, &[])).await;
        assert_eq!(reached.status(), 503);
        // Other methods: 405 naming both.
        let put = h::Request::builder()
            .method("PUT")
            .uri("/users/register/verify-email")
            .body(Body::Empty)
            .unwrap();
        let refused = call(put).await;
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()["allow"], "GET, POST");
    }
}

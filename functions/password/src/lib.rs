//! `POST /auth/password/request` and `POST /auth/password/reset` (`shared::adapters::rest` adapts them to
//! `shared::flows::password_reset`).

use lambda_http::{Body, Error, Request, Response};
use shared::ApiError;
use shared::AppState;
use shared::adapters::http::respond;
use shared::platform::state::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    let path = request.uri().path();
    let result = if path.ends_with("/auth/password/request") {
        shared::adapters::rest::password_request(state, &request).await
    } else if path.ends_with("/auth/password/reset") {
        shared::adapters::rest::password_reset(state, passwords, &request).await
    } else {
        Err(ApiError::RouteNotFound(path.to_owned()))
    };
    // A public route: its session cookie is judged (and cleared when stale) by the route
    // itself; an error of the route never clears a cookie that still works.
    Ok(respond(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http as h;
    use serde_json::{Value, json};
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    async fn call(path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let request = h::Request::builder()
            .header("content-type", content_type)
            .method("POST")
            .uri(path)
            .body(Body::Text(body.to_owned()))
            .unwrap();
        let response = handle(&unreachable_state(), &cheap_passwords(), request)
            .await
            .unwrap();
        status_and_json(&response)
    }

    #[tokio::test]
    async fn payloads_are_checked_before_anything_is_read() {
        for (path, body, message) in [
            (
                "/auth/password/request",
                "{}",
                "Invalid payload. \"email\" field is required.",
            ),
            (
                "/auth/password/request",
                r#"{"email":5}"#,
                "Invalid payload. \"email\" field is required.",
            ),
            (
                "/auth/password/request",
                r#"{"email":"a@example.com","reset_url":7}"#,
                "Invalid payload. \"reset_url\" must be a string.",
            ),
            (
                "/auth/password/reset",
                r#"{"password":"x"}"#,
                "Invalid payload. \"token\" field is required.",
            ),
            (
                "/auth/password/reset",
                r#"{"token":"x","password":null}"#,
                "Invalid payload. \"password\" field is required.",
            ),
            (
                "/auth/password/reset",
                "[1]",
                "Invalid payload. \"value\" must be of type object.",
            ),
        ] {
            let (status, body) = call(path, "application/json", body).await;
            assert_eq!(status, 400, "{path} {body}");
            assert_eq!(body["errors"][0]["message"], message);
        }
    }

    #[tokio::test]
    async fn a_body_not_announced_as_json_counts_as_absent() {
        let (status, body) = call(
            "/auth/password/request",
            "text/plain",
            &json!({"email": "a@example.com"}).to_string(),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
    }

    #[tokio::test]
    async fn a_reset_url_outside_the_allow_list_is_refused_for_every_address() {
        let long = format!("https://x.example/{}", "a".repeat(2048));
        for url in [
            "https://evil.example/reset",
            "javascript:alert(1)",
            " ",
            long.as_str(),
        ] {
            let (status, body) = call(
                "/auth/password/request",
                "application/json",
                &json!({"email": "a@example.com", "reset_url": url}).to_string(),
            )
            .await;
            assert_eq!(status, 400, "{url}: {body}");
        }
    }
}

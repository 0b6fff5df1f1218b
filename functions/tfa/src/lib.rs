//! `POST /users/me/tfa/generate`, `/enable`, `/disable` and `/recovery-codes`
//! (`shared::adapters::rest::two_factor` adapts them to `shared::flows::two_factor`).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::platform::state::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(shared::adapters::rest::two_factor::handle(state, passwords, &request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    async fn call(
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response<Body> {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(
            &unreachable_state(),
            &cheap_passwords(),
            builder.body(Body::Text(body.to_owned())).unwrap(),
        )
        .await
        .unwrap()
    }

    fn code(body: &serde_json::Value) -> &str {
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    #[tokio::test]
    async fn the_public_is_401_before_anything_is_read() {
        for action in ["generate", "enable", "disable", "recovery-codes"] {
            let response = call(
                "POST",
                &format!("/users/me/tfa/{action}"),
                &[("content-type", "application/json")],
                r#"{"password":"x","otp":"123456","secret":"AB"}"#,
            )
            .await;
            let (status, body) = status_and_json(&response);
            assert_eq!(status, 401, "{action}");
            assert_eq!(code(&body), "INVALID_CREDENTIALS", "{action}");
        }
    }

    #[tokio::test]
    async fn other_methods_and_paths_are_404_before_anything_is_read() {
        for (method, path) in [
            ("GET", "/users/me/tfa/generate"),
            ("PUT", "/users/me/tfa/enable"),
            ("DELETE", "/users/me/tfa/disable"),
            ("POST", "/users/me/tfa/other"),
            ("POST", "/users/me/tfa/generate/more"),
        ] {
            let (status, body) = status_and_json(&call(method, path, &[], "").await);
            assert_eq!(status, 404, "{method} {path}");
            assert_eq!(code(&body), "ROUTE_NOT_FOUND", "{method} {path}");
        }
    }

    #[tokio::test]
    async fn a_garbage_session_cookie_is_refused_and_cleared() {
        let response = call(
            "POST",
            "/users/me/tfa/generate",
            &[
                ("cookie", "directus_session_token=garbage"),
                ("content-type", "application/json"),
            ],
            r#"{"password":"x"}"#,
        )
        .await;
        let cleared = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(cleared.starts_with("directus_session_token=;"), "{cleared}");
        let (status, _) = status_and_json(&response);
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn a_cookie_driven_call_from_a_foreign_origin_is_403_before_anything_is_read() {
        let state = unreachable_state();
        let token = state
            .tokens
            .issue("u1", None, false, false, now_secs())
            .unwrap()
            .token;
        let cookie = format!("directus_session_token={token}");
        let response = call(
            "POST",
            "/users/me/tfa/disable",
            &[
                ("cookie", cookie.as_str()),
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
            r#"{"otp":"123456"}"#,
        )
        .await;
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 403);
        assert_eq!(code(&body), "FORBIDDEN");
    }

    fn now_secs() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

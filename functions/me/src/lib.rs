//! `GET /users/me` and `PATCH /users/me`.

use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use shared::ApiError;
use shared::AppState;
use shared::adapters::http::respond_authenticated;
use shared::platform::state::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    let result = match *request.method() {
        Method::GET => shared::adapters::rest::read_me(state, &request).await,
        Method::PATCH => shared::adapters::rest::update_me(state, passwords, &request).await,
        _ => Err(ApiError::RouteNotFound(request.uri().path().to_owned())),
    };
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    async fn call(method: &str, headers: &[(&str, &str)]) -> Response<Body> {
        let mut builder = http::Request::builder().method(method).uri("/users/me");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(
            &unreachable_state(),
            &cheap_passwords(),
            builder.body(Body::Empty).unwrap(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_public_is_401_invalid_credentials_before_anything_is_read() {
        for method in ["GET", "PATCH"] {
            let (status, body) = status_and_json(&call(method, &[]).await);
            assert_eq!(status, 401, "{method}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"],
                "INVALID_CREDENTIALS"
            );
        }
    }

    #[tokio::test]
    async fn a_garbage_session_cookie_is_refused_and_cleared() {
        let response = call("GET", &[("cookie", "directus_session_token=garbage")]).await;
        let cleared = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(cleared.starts_with("directus_session_token=;"), "{cleared}");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 401);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INVALID_CREDENTIALS"
        );
    }

    #[tokio::test]
    async fn a_cookie_driven_patch_from_a_foreign_origin_is_403_before_anything_is_read() {
        let state = unreachable_state();
        let token = state
            .tokens
            .issue("u1", None, false, false, jsonwebtoken_now())
            .unwrap()
            .token;
        let cookie = format!("directus_session_token={token}");
        let response = call(
            "PATCH",
            &[
                ("cookie", cookie.as_str()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
        let (status, body) = status_and_json(&response);
        // The store is unreachable: a read would have been a 503.
        assert_eq!(status, 403);
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }

    fn jsonwebtoken_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

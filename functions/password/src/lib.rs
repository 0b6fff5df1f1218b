//! `POST /auth/password/request` and `POST /auth/password/reset`: the REST adapter of
//! `shared::flows::password_reset` (parse the body as Directus does, call the flow, render).

use lambda_http::{Body, Error, Request, Response};
use serde_json::{Map, Value};
use shared::ApiError;
use shared::AppState;
use shared::flows::password_reset::{self, PasswordRequest, PasswordReset};
use shared::http::{self, HttpResponse, respond_authenticated};
use shared::password::Passwords;
use shared::sensitive::Sensitive;

/// Longest `reset_url` accepted (as registration's `verification_url`).
const MAX_URL_CHARS: usize = 2048;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    let result = route(state, passwords, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

async fn route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    // Like every route: a bad token fails it, before the body is read.
    shared::auth::caller(state, request).await?;
    let client = http::client_ip(request);
    let path = request.uri().path();
    if path.ends_with("/auth/password/request") {
        let input = request_input(&http::json_object(request)?)?;
        password_reset::request_password_reset(state, client.as_deref(), input).await?;
    } else if path.ends_with("/auth/password/reset") {
        let input = reset_input(&http::json_object(request)?)?;
        password_reset::reset_password(state, passwords, client.as_deref(), input).await?;
    } else {
        return Err(ApiError::RouteNotFound(path.to_owned()));
    }
    Ok(http::no_content())
}

/// Directus' checks: `email` must be a string (`"email" field is required`); other keys (the
/// `subject` newer SDKs send) are ignored.
fn request_input(body: &Map<String, Value>) -> Result<PasswordRequest, ApiError> {
    let Some(Value::String(email)) = body.get("email") else {
        return Err(ApiError::payload("\"email\" field is required"));
    };
    let reset_url = http::optional_string(body, "reset_url")?;
    if reset_url
        .as_ref()
        .is_some_and(|u| u.chars().count() > MAX_URL_CHARS)
    {
        return Err(ApiError::payload(format!(
            "\"reset_url\" length must be less than or equal to {MAX_URL_CHARS} characters long"
        )));
    }
    Ok(PasswordRequest {
        email: email.clone(),
        reset_url,
    })
}

fn reset_input(body: &Map<String, Value>) -> Result<PasswordReset, ApiError> {
    let field = |name: &str| match body.get(name) {
        Some(Value::String(value)) => Ok(Sensitive::new(value.clone())),
        _ => Err(ApiError::payload(format!("\"{name}\" field is required"))),
    };
    Ok(PasswordReset {
        token: field("token")?,
        password: field("password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http as h;
    use serde_json::json;
    use shared::testing::{cheap_passwords, status_and_json, unreachable_state};

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
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_CHARS));
        for url in [
            "https://evil.example/reset",
            "javascript:alert(1)",
            "",
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

//! `POST /auth/login`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond;
use shared::platform::state::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    let result = shared::adapters::rest::login(state, passwords, &request).await;
    // A public route: its session cookie is judged (and cleared when stale) by the route
    // itself; an error of the route never clears a cookie that still works.
    Ok(respond(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::Value;
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    async fn call(body: &str) -> (u16, Value) {
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .method("POST")
            .uri("/auth/login")
            .body(Body::Text(body.to_owned()))
            .unwrap();
        let response = handle(&unreachable_state(), &cheap_passwords(), request)
            .await
            .unwrap();
        status_and_json(&response)
    }

    #[tokio::test]
    async fn invalid_email_is_400_invalid_payload() {
        let (status, body) = call(r#"{"email":"nope","password":"x"}"#).await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
        assert_eq!(
            body["errors"][0]["message"],
            "Invalid payload. \"email\" must be a valid email."
        );
    }

    #[tokio::test]
    async fn unreachable_database_is_503_with_the_envelope() {
        let (status, body) = call(r#"{"email":"hello@example.com","password":"d1r3ctu5"}"#).await;
        assert_eq!(status, 503);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SERVICE_UNAVAILABLE"
        );
    }
}

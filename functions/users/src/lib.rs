//! `POST /users`, and for administrators `PATCH /users/{id}` and `DELETE /users/{id}`.

use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond_authenticated;
use shared::platform::state::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    let result = match *request.method() {
        Method::PATCH => {
            shared::adapters::rest::directory::update(state, passwords, &request).await
        }
        Method::DELETE => shared::adapters::rest::directory::delete(state, &request).await,
        _ => shared::adapters::rest::create_user(state, passwords, &request).await,
    };
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    #[tokio::test]
    async fn a_non_object_body_is_400_before_anything_is_read() {
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .method("POST")
            .uri("/users")
            .body(Body::Text("[1,2]".into()))
            .unwrap();
        let response = handle(&unreachable_state(), &cheap_passwords(), request)
            .await
            .unwrap();
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
    }
}

//! `POST /users`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::http::respond;
use shared::password::Passwords;

pub async fn handle(
    state: &AppState,
    passwords: &Passwords,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(
        shared::users::create(state, passwords, &request).await,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::Value;
    use shared::config::HashParams;

    #[tokio::test]
    async fn a_non_object_body_is_400_before_anything_is_read() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/users")
            .body(Body::Text("[1,2]".into()))
            .unwrap();
        let passwords = Passwords::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let response = handle(&shared::state::unreachable_state(), &passwords, request)
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let Body::Text(text) = response.body() else {
            panic!("expected a JSON body")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
    }
}

//! `GET /.well-known/jwks.json`: the public keys that verify our access tokens.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;

pub async fn handle(state: &AppState, _request: Request) -> Result<Response<Body>, Error> {
    Ok(shared::adapters::rest::jwks(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{status_and_json, unreachable_state};

    #[tokio::test]
    async fn an_hs256_stack_publishes_an_empty_key_set() {
        let request = http::Request::builder()
            .uri("/.well-known/jwks.json")
            .body(Body::Empty)
            .unwrap();
        let response = handle(&unreachable_state(), request).await.unwrap();
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::json!({"keys": []}));
    }
}

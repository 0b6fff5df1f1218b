//! `GET /.well-known/jwks.json`: the public keys that verify our access tokens.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;

pub async fn handle(state: &AppState, _request: Request) -> Result<Response<Body>, Error> {
    Ok(shared::auth::jwks(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::Value;

    #[tokio::test]
    async fn an_hs256_stack_publishes_an_empty_key_set() {
        let request = http::Request::builder()
            .uri("/.well-known/jwks.json")
            .body(Body::Empty)
            .unwrap();
        let response = handle(&shared::state::unreachable_state(), request)
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let Body::Text(text) = response.body() else {
            panic!("expected a JSON body")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body, serde_json::json!({"keys": []}));
    }
}

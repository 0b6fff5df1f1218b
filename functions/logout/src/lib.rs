//! `POST /auth/logout`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond_authenticated;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = shared::adapters::rest::logout(state, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    #[tokio::test]
    async fn logout_of_a_foreign_token_is_204_with_an_empty_body() {
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .method("POST")
            .body(Body::Text(r#"{"refresh_token":"garbage"}"#.into()))
            .unwrap();
        let response = handle(&shared::platform::state::unreachable_state(), request)
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
        assert!(matches!(response.body(), Body::Empty));
        assert!(response.headers().get("content-type").is_none());
    }
}

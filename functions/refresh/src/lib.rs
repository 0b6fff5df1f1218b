//! `POST /auth/refresh`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond_authenticated;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = shared::adapters::rest::refresh(state, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{status_and_json, unreachable_state};

    #[tokio::test]
    async fn missing_token_is_400_with_directus_message() {
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .method("POST")
            .body(Body::Text("{}".into()))
            .unwrap();
        let response = handle(&unreachable_state(), request).await.unwrap();
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"][0]["message"],
            "Invalid payload. The refresh token is required in either the payload or cookie."
        );
    }

    #[tokio::test]
    async fn a_token_that_is_not_ours_is_401_without_a_lookup() {
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .method("POST")
            .body(Body::Text(
                r#"{"refresh_token":"not-a-refresh-token"}"#.into(),
            ))
            .unwrap();
        let response = handle(&unreachable_state(), request).await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
}

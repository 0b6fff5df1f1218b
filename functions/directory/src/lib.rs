//! `GET /users` and `GET /users/{id}`: the user directory (read only).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond_authenticated;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = shared::adapters::rest::directory::read(state, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{status_and_json, unreachable_state};

    #[tokio::test]
    async fn garbage_bearer_is_401_before_any_read() {
        let request = http::Request::builder()
            .method("GET")
            .uri("/users")
            .header("authorization", "Bearer garbage")
            .body(Body::Empty)
            .unwrap();
        let response = handle(&unreachable_state(), request).await.unwrap();
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 401);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INVALID_CREDENTIALS"
        );
    }

    #[tokio::test]
    async fn a_bad_query_is_400_before_any_read() {
        let request = http::Request::builder()
            .method("GET")
            .uri("/users?limit=abc")
            .body(Body::Empty)
            .unwrap();
        let request = lambda_http::RequestExt::with_query_string_parameters(
            request,
            std::collections::HashMap::from([("limit".to_owned(), "abc".to_owned())]),
        );
        let response = handle(&unreachable_state(), request).await.unwrap();
        let (status, _) = status_and_json(&response);
        assert_eq!(status, 400);
    }
}

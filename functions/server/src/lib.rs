//! `GET /server/ping`, `GET /server/info`, `GET /server/health`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(shared::adapters::rest::server::handle(state, &request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::{status_and_json, unreachable_state};

    fn request(uri: &str, authorization: Option<&str>) -> Request {
        let mut builder = http::Request::builder().method("GET").uri(uri);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[tokio::test]
    async fn ping_answers_pong_whatever_the_token() {
        let response = handle(
            &unreachable_state(),
            request("/server/ping", Some("Bearer garbage")),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        assert!(matches!(response.body(), Body::Text(t) if t == "pong"));
    }

    #[tokio::test]
    async fn health_without_dynamodb_is_503_in_the_health_shape() {
        let response = handle(&unreachable_state(), request("/server/health", None))
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/health+json; charset=utf-8"
        );
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"status": "error"}));
    }

    #[tokio::test]
    async fn a_garbage_token_fails_info_and_health() {
        for path in ["/server/info", "/server/health"] {
            let response = handle(&unreachable_state(), request(path, Some("Bearer garbage")))
                .await
                .unwrap();
            let (status, body) = status_and_json(&response);
            assert_eq!(status, 401, "{path}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"],
                "INVALID_CREDENTIALS"
            );
        }
    }
}

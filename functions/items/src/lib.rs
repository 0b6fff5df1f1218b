//! `GET /items/{collection}` and `GET /items/{collection}/{id}`.

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::http::respond_authenticated;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = shared::adapters::rest::items::read(state, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::Value;
    use shared::platform::testing::{status_and_json, unreachable_state};

    async fn get(uri: &str, authorization: Option<&str>) -> (u16, Value) {
        let mut builder = http::Request::builder().method("GET").uri(uri);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        let response = handle(&unreachable_state(), builder.body(Body::Empty).unwrap())
            .await
            .unwrap();
        status_and_json(&response)
    }

    #[tokio::test]
    async fn garbage_bearer_is_401_invalid_credentials() {
        let (status, body) = get("/items/posts", Some("Bearer garbage")).await;
        assert_eq!(status, 401);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INVALID_CREDENTIALS"
        );
    }

    #[tokio::test]
    async fn system_collections_are_forbidden() {
        let (status, body) = get("/items/directus_users", None).await;
        assert_eq!(status, 403);
        assert_eq!(
            body["errors"][0]["message"],
            "You don't have permission to access this."
        );
    }
}

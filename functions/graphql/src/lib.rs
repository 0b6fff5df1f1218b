//! `GET|POST /graphql` (and `/graphql/{proxy+}` but `/graphql/system`): Directus' items scope.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::graphql::ItemsScope;

pub async fn handle(
    state: &Arc<AppState>,
    scope: &ItemsScope,
    request: Request,
) -> Result<Response<Body>, Error> {
    let result = shared::adapters::graphql::items::serve(state, scope, &request).await;
    Ok(shared::adapters::graphql::respond(
        &request,
        &state.config,
        result,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::Value;
    use shared::adapters::graphql::Limits;
    use shared::platform::testing::{status_and_json, unreachable_state};

    async fn call(method: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut builder = http::Request::builder().method(method).uri("/graphql");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let state = Arc::new(unreachable_state());
        let scope = ItemsScope::new(Limits::default(), state.config.permissions_cache_ttl);
        let response = handle(
            &state,
            &scope,
            builder.body(Body::Text(body.into())).unwrap(),
        )
        .await
        .unwrap();
        status_and_json(&response)
    }

    #[tokio::test]
    async fn a_bad_token_fails_before_graphql_with_the_rest_envelope() {
        let (status, body) = call(
            "POST",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer garbage"),
            ],
            r#"{"query":"{ posts { id } }"}"#,
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body.to_string(),
            r#"{"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]}"#
        );
    }

    #[tokio::test]
    async fn a_malformed_body_fails_before_the_token_is_read() {
        let (status, body) = call(
            "POST",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer garbage"),
            ],
            "{",
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD");
    }
}

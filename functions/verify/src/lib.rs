//! `GET /users/register/verify-email?token=` (`shared::rest::verify_email` adapts it to
//! `shared::flows::verification::verify_registration`).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::http::respond;

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = shared::rest::verify_email(state, &request).await;
    // A public route: its session cookie is judged (and cleared when stale) by the route
    // itself; an error of the route never clears a cookie that still works.
    Ok(respond(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use lambda_http::http as h;
    use shared::testing::{status_and_json, unreachable_state};
    use std::collections::HashMap;

    async fn call(query: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params
                .entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        let request = h::Request::builder()
            .method("GET")
            .uri("/users/register/verify-email")
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(params);
        let response = handle(&unreachable_state(), request).await.unwrap();
        status_and_json(&response)
    }

    #[tokio::test]
    async fn tokens_that_are_not_ours_are_refused_before_the_store_is_read() {
        for query in [
            vec![],
            vec![("token", "")],
            vec![("token", "garbage")],
            vec![("token", "a.b.c")],
        ] {
            let (status, body) = call(&query).await;
            assert_eq!(status, 403, "{query:?}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_TOKEN");
        }
        let (status, _) = call(&[("token", "a"), ("token", "b")]).await;
        assert_eq!(status, 400);
    }
}

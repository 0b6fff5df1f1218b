//! `GET /users/register/verify-email?token=`: the REST adapter of
//! `shared::flows::verification::verify_registration`. Success is a small page saying so (the
//! link is opened in a browser; there is no admin app to redirect to, as Directus does).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use shared::ApiError;
use shared::AppState;
use shared::http::{HttpResponse, respond_authenticated};

const VERIFIED_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Email verified</title></head>\n<body><h1>Email verified</h1><p>Your email address is verified. You can now log in.</p></body></html>\n";

pub async fn handle(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    let result = verify(state, &request).await;
    Ok(respond_authenticated(&request, &state.config, result))
}

async fn verify(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    shared::auth::caller(state, request).await?;
    let tokens: Vec<String> = request
        .query_string_parameters_ref()
        .and_then(|q| q.all("token"))
        .map(|all| all.into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let token = match tokens.as_slice() {
        // Absent or empty: Directus' verifyJWT of nothing.
        [] => return Err(ApiError::InvalidToken),
        [one] if one.is_empty() => return Err(ApiError::InvalidToken),
        [one] => one,
        _ => return Err(ApiError::query("\"token\" must be given once")),
    };
    shared::flows::verification::verify_registration(state, token).await?;
    let mut response = Response::new(Body::Text(VERIFIED_PAGE.to_owned()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
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

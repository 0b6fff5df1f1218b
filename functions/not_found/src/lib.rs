//! Every request no other route takes (API Gateway's `$default` route; the local router's
//! catch-all): Directus' `404 ROUTE_NOT_FOUND` in its error envelope. It needs no table and no
//! key, so it reads no configuration and cannot fail.

use lambda_http::{Body, Error, Request, Response};

pub async fn handle(request: Request) -> Result<Response<Body>, Error> {
    Ok(shared::http::route_not_found(&request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::json;
    use shared::testing::status_and_json;

    #[tokio::test]
    async fn any_other_route_is_directus_route_not_found() {
        for (method, path) in [("GET", "/nowhere"), ("DELETE", "/items/posts/1/extra")] {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("https://api.example.com{path}?x=1"))
                .body(Body::Empty)
                .unwrap();
            let response = handle(request).await.unwrap();
            let (status, body) = status_and_json(&response);
            assert_eq!(status, 404);
            assert_eq!(
                body,
                json!({"errors": [{
                    "message": format!("Route {path} doesn't exist."),
                    "extensions": {"path": path, "code": "ROUTE_NOT_FOUND"}
                }]})
            );
        }
    }
}

//! Every request no other route takes (API Gateway's `$default` route; the local router's
//! catch-all): Directus' `404 ROUTE_NOT_FOUND` in its error envelope. It needs no table and no
//! key, so it reads no configuration and cannot fail. The one exception is the hosted pages'
//! root `/auth/ui/`, which leads to their sign-in page.

use lambda_http::{Body, Error, Request, Response};

pub async fn handle(request: Request) -> Result<Response<Body>, Error> {
    // `/auth/ui/` is the hosted pages' root, which no `{proxy+}` route takes.
    if let Some(sign_in) = shared::adapters::pages::root_redirect(&request) {
        return Ok(sign_in);
    }
    Ok(shared::adapters::http::route_not_found(&request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use serde_json::json;
    use shared::platform::testing::status_and_json;

    #[tokio::test]
    async fn the_pages_root_with_its_slash_leads_to_sign_in() {
        for (method, path, location) in [
            (
                "GET",
                "/auth/ui/?redirect=x",
                Some("/auth/ui/sign-in?redirect=x"),
            ),
            ("HEAD", "/prod/auth/ui/", Some("/prod/auth/ui/sign-in")),
            ("POST", "/auth/ui/", None),
            ("GET", "//evil.example/auth/ui/", None),
            ("GET", "/x/auth/ui/y/", None),
        ] {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("https://api.example.com{path}"))
                .body(Body::Empty)
                .unwrap();
            let response = handle(request).await.unwrap();
            match location {
                Some(location) => {
                    assert_eq!(response.status(), 302, "{method} {path}");
                    assert_eq!(response.headers()["location"], location);
                    assert!(response.headers().contains_key("content-security-policy"));
                }
                None => assert_eq!(response.status(), 404, "{method} {path}"),
            }
        }
    }

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

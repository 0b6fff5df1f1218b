//! `GET /auth/ui/*`: the hosted sign-up and sign-in pages (`shared::pages`).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::pages::PagesConfig;

pub async fn handle(
    state: &AppState,
    config: &PagesConfig,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(shared::pages::handle(state, config, &request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::testing::unreachable_state;

    fn config() -> PagesConfig {
        PagesConfig::from_lookup(&|_| None, &[], &[]).unwrap()
    }

    async fn call(method: &str, uri: &str) -> Response<Body> {
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::Empty)
            .unwrap();
        handle(&unreachable_state(), &config(), request)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_script_needs_no_store_and_pages_answer_503_without_one() {
        let script = call("GET", "/auth/ui/assets/app.js").await;
        assert_eq!(script.status(), 200);
        // A page shows the settings: with the store down it is the API's 503, still with the
        // security headers.
        let page = call("GET", "/auth/ui/sign-in").await;
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()["retry-after"], "2");
        assert!(page.headers().contains_key("content-security-policy"));
    }

    #[tokio::test]
    async fn other_methods_are_405_and_unknown_names_404() {
        assert_eq!(call("PATCH", "/auth/ui/sign-up").await.status(), 405);
        assert_eq!(call("GET", "/auth/ui/%2e%2e/x").await.status(), 404);
    }
}

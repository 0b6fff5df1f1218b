//! `GET /auth/ui/*`: the hosted sign-up and sign-in pages (`shared::adapters::pages`).

use lambda_http::{Body, Error, Request, Response};
use shared::AppState;
use shared::adapters::pages::PagesConfig;

pub async fn handle(
    state: &AppState,
    config: &PagesConfig,
    request: Request,
) -> Result<Response<Body>, Error> {
    secured(async { Ok(shared::adapters::pages::handle(state, config, &request).await) }).await
}

/// The answer within the request budget; the budget's own 503 gets the security headers too
/// (`shared::adapters::pages::handle` adds them only to what it answers itself).
pub async fn secured<F>(answer: F) -> Result<Response<Body>, Error>
where
    F: std::future::Future<Output = Result<Response<Body>, Error>>,
{
    shared::adapters::http::within_budget(answer)
        .await
        .map(shared::adapters::pages::secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::platform::testing::unreachable_state;

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
    async fn what_the_budget_wrapper_answers_gets_the_security_headers() {
        // Stands for the budget's own 503, which shared::adapters::pages::handle never sees.
        let bare = secured(async { Ok(Response::new(Body::Empty)) })
            .await
            .unwrap();
        assert!(bare.headers().contains_key("content-security-policy"));
        assert_eq!(bare.headers()["x-frame-options"], "DENY");
    }

    #[tokio::test]
    async fn other_methods_are_405_and_unknown_names_404() {
        assert_eq!(call("PATCH", "/auth/ui/sign-up").await.status(), 405);
        assert_eq!(call("GET", "/auth/ui/%2e%2e/x").await.status(), 404);
    }
}

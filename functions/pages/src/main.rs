use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;
use shared::adapters::pages::PagesConfig;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "pages",
        "the hosted sign-up and sign-in pages under /auth/ui/",
    )?
    .block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        let config = Arc::new(PagesConfig::from_state(&state)?);
        // pages::handle puts the request in the time budget and the security headers on every
        // answer, the budget's 503 included.
        shared::platform::runtime::serve(move |request| {
            let (state, config) = (Arc::clone(&state), Arc::clone(&config));
            async move { pages::handle(&state, &config, request).await }
        })
        .await
    })
}

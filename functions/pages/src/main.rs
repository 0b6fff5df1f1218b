use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;
use shared::pages::PagesConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = AppState::from_env().await?;
    let config = PagesConfig::from_state(&state)?;
    // pages::handle puts the request in the time budget and the security headers on every
    // answer, the budget's 503 included.
    run(service_fn(|request| {
        pages::handle(&state, &config, request)
    }))
    .await
}

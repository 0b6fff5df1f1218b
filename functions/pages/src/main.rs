use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;
use shared::pages::PagesConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = AppState::from_env().await?;
    let config = PagesConfig::from_state(&state)?;
    run(service_fn(|request| {
        shared::http::within_budget(pages::handle(&state, &config, request))
    }))
    .await
}

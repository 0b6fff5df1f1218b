use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = AppState::from_env().await?;
    run(service_fn(|request| {
        shared::http::within_budget(jwks::handle(&state, request))
    }))
    .await
}

use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;
use shared::password::Passwords;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = AppState::from_env().await?;
    let passwords = Passwords::new(state.config.hashing)?;
    run(service_fn(|request| {
        shared::http::within_budget(register::handle(&state, &passwords, request))
    }))
    .await
}

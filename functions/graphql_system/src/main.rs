use std::sync::Arc;

use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;
use shared::graphql::Limits;
use shared::graphql::system::SystemSchemas;
use shared::password::Passwords;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = Arc::new(AppState::from_env().await?);
    let passwords = Arc::new(Passwords::new(state.config.hashing)?);
    let app = graphql_system::App {
        state,
        passwords,
        schemas: SystemSchemas::new(Limits::from_env()?),
    };
    run(service_fn(|request| {
        shared::http::within_budget(graphql_system::handle(&app, request))
    }))
    .await
}

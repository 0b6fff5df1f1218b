use std::sync::Arc;

use lambda_http::{Error, run, service_fn, tracing};
use shared::AppState;
use shared::graphql::{ItemsScope, Limits};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = Arc::new(AppState::from_env().await?);
    let scope = ItemsScope::new(Limits::from_env()?, state.config.permissions_cache_ttl);
    run(service_fn(|request| {
        shared::http::within_budget(graphql::handle(&state, &scope, request))
    }))
    .await
}

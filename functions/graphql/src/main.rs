use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;
use shared::adapters::graphql::{ItemsScope, Limits};

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "graphql",
        "/graphql (GraphQL over the items the caller may read)",
    )?
    .block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        let scope = Arc::new(ItemsScope::new(
            Limits::from_env()?,
            state.config.permissions_cache_ttl,
        ));
        shared::platform::runtime::serve(move |request| {
            let (state, scope) = (Arc::clone(&state), Arc::clone(&scope));
            async move {
                shared::adapters::http::within_budget(graphql::handle(&state, &scope, request))
                    .await
            }
        })
        .await
    })
}

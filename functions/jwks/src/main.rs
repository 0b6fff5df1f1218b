use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;

fn main() -> Result<(), Error> {
    shared::runtime::start("jwks", "GET /.well-known/jwks.json")?.block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        shared::runtime::serve(move |request| {
            let state = Arc::clone(&state);
            async move { shared::http::within_budget(jwks::handle(&state, request)).await }
        })
        .await
    })
}

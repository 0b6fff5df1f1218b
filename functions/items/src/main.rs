use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "items",
        "GET /items/{collection} and GET /items/{collection}/{id}",
    )?
    .block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        shared::platform::runtime::serve(move |request| {
            let state = Arc::clone(&state);
            async move { shared::adapters::http::within_budget(items::handle(&state, request)).await }
        })
        .await
    })
}

use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "server",
        "GET /server/ping, /server/info and /server/health",
    )?
    .block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        shared::platform::runtime::serve(move |request| {
            let state = Arc::clone(&state);
            async move { shared::adapters::http::within_budget(server::handle(&state, request)).await }
        })
        .await
    })
}

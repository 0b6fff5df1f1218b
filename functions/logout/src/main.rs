use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start("logout", "POST /auth/logout")?.block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        shared::platform::runtime::serve(move |request| {
            let state = Arc::clone(&state);
            async move { shared::adapters::http::within_budget(logout::handle(&state, request)).await }
        })
        .await
    })
}
